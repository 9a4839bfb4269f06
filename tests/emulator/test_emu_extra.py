"""The ``emulator`` extra: pisync runs without the emulator's server packages, and
``pi-emulator`` without them says which extra to install.

Both run real processes in which those packages cannot be imported: a ``sitecustomize``
module on ``PYTHONPATH`` puts a finder first on ``sys.meta_path`` that refuses them, as if
they were not installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pi_emulator.__main__ import EXTRA_MODULES
from pi_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

BLOCKER = f"""
import sys

BLOCKED = {sorted(EXTRA_MODULES)!r}


class WithoutTheEmulatorExtra:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, WithoutTheEmulatorExtra())
"""

IMPORT_ALL = """
import importlib, pkgutil, sys
import reconciler
names = [m.name for m in pkgutil.walk_packages(reconciler.__path__, "reconciler.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


@pytest.fixture
def without_extra(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that cannot import the emulator extra's packages."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PISYNC_")}
    return env | {"PYTHONPATH": str(site), "NO_COLOR": "1"}


def _run(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_blocker_blocks(without_extra: dict[str, str]) -> None:
    result = _run([sys.executable, "-c", "import starlette"], without_extra)
    assert result.returncode == 1
    assert result.stderr.endswith("ModuleNotFoundError: No module named 'starlette'\n")


def test_pi_emulator_without_the_extra_says_what_to_install(without_extra: dict[str, str]) -> None:
    result = _run([str(BIN / "pi-emulator"), "--port", "0"], without_extra)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "pi-emulator: the uvicorn package is not installed: install pisync with its emulator "
        "extra, pisync[emulator] (in a clone of pisync: pip install '.[emulator]')\n",
    )


def test_pisync_imports_none_of_the_extra(without_extra: dict[str, str]) -> None:
    every_module = _run([sys.executable, "-c", IMPORT_ALL], without_extra)
    assert (every_module.returncode, every_module.stderr) == (0, "")
    assert int(every_module.stdout) > 50
    help_text = _run([str(BIN / "pisync"), "--help"], without_extra)
    assert (help_text.returncode, help_text.stderr) == (0, "")
    validate = _run([str(BIN / "pisync"), "validate"], without_extra, cwd=ROOT / "examples")
    assert (validate.returncode, validate.stderr) == (0, "")
    assert re.match(r"All \d+ files valid", validate.stdout), validate.stdout


def test_pisync_plans_against_a_server_without_the_extra(
    without_extra: dict[str, str], tmp_path: Path
) -> None:
    """The network path too (its imports made on first use): plan against a real emulator."""
    with EmulatorProcess.start(tmp_path, seed=ROOT / "examples" / "seed.json") as emu:
        env = without_extra | {
            "PISYNC_URL": emu.url,
            "PISYNC_USERNAME": "admin",
            "PISYNC_PASSWORD": "dashboard",
            "FINANCE_DB_PASSWORD": "not-shown",
        }
        plan = _run([str(BIN / "pisync"), "plan", "--detailed-exitcode"], env, ROOT / "examples")
    assert (plan.returncode, "ModuleNotFoundError" in plan.stderr) == (2, False), plan.stderr
