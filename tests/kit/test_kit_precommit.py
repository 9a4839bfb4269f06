"""The ``pisync-validate`` pre-commit hook through the real ``pre-commit`` tool.

``pre-commit try-repo`` installs the hook from a git repository holding this working tree (as a
team's ``.pre-commit-config.yaml`` would from the pisync repository) into a hook environment
under a temporary ``PRE_COMMIT_HOME``, and runs it on a sample desired-state repository. The
install needs the package index (pip), as it does for a team; it happens once per test run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from kitdata import GIT
from ruamel.yaml import YAML

BIN = Path(sys.executable).parent

GOOD = "users:\n  - usercode: jsmith\n    forenames: John\n    surname: Smith\n"
BAD_TYPE = (
    "users:\n  - usercode: jsmith\n    forenames: John\n    surname: Smith\n    type: wizard\n"
)
SAME_USER = "users:\n  - usercode: JSmith\n    forenames: Jo\n    surname: Smith\n"


def test_the_hook_definition() -> None:
    hooks = YAML(typ="safe", pure=True).load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks == [
        {
            "id": "pisync-validate",
            "name": "pisync validate",
            "description": "Check pisync desired-state files offline (JSON Schema and cross-file "
            "rules).",
            "entry": "pisync validate",
            "language": "python",
            "pass_filenames": False,
            "files": r"\.ya?ml$",
            "require_serial": True,
            "minimum_pre_commit_version": "3.0.0",
        }
    ]


def git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def snapshot_of_this_tree(target: Path) -> Path:
    """This working tree (tracked and new files, uncommitted changes included) as one commit, so
    that every try-repo below uses the same repository and revision and installs only once."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "snapshot")
    return target


def hook_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PISYNC_"))}
    env.update({"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never", "NO_COLOR": "1"})
    return env


def pre_commit(sample: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pre-commit"), *args],
        cwd=sample,
        env=hook_env(home),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )


def hook_result(output: str) -> list[str]:
    """pre-commit's lines from the hook's status line on, with the dots normalised."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("pisync validate"))
    return [re.sub(r"^pisync validate\.+", "pisync validate...", lines[start]), *lines[start + 1 :]]


FAILED = ["pisync validate...Failed", "- hook id: pisync-validate", "- exit code: 3", ""]
TYPE_ERROR = (
    "users/a.yaml:5:5: error: type must be one of administrator, designer, chart-explorer, "
    'user, chart-viewer; found "wizard" (at users[0].type)'
)


def sample_repository(path: Path, files: dict[str, str]) -> Path:
    (path / "users").mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    return path


@pytest.mark.timeout(600)
def test_try_repo_runs_the_hook_from_this_repository(tmp_path: Path) -> None:
    """As the hook's authors check it: ``pre-commit try-repo <repo> pisync-validate``.
    (try-repo installs into a store of its own each time, so it runs once here.)"""
    repo = snapshot_of_this_tree(tmp_path / "pisync")
    sample = sample_repository(tmp_path / "desired-state", {"users/a.yaml": BAD_TYPE})
    bad = pre_commit(
        sample, tmp_path / "home", "try-repo", str(repo), "pisync-validate", "--all-files"
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert hook_result(bad.stdout) == [*FAILED, TYPE_ERROR, "1 error in 1 of 1 file.", ""]


@pytest.mark.timeout(600)
def test_a_team_config_validates_the_whole_repository(tmp_path: Path) -> None:
    """As a team uses it: ``.pre-commit-config.yaml`` naming the pisync repository and a rev;
    the hook environment is installed once into ``PRE_COMMIT_HOME`` and reused."""
    repo = snapshot_of_this_tree(tmp_path / "pisync")
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    config = f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n      - id: pisync-validate\n"
    sample = sample_repository(
        tmp_path / "desired-state",
        {"users/a.yaml": GOOD, "README.md": "not YAML\n", ".pre-commit-config.yaml": config},
    )
    home = tmp_path / "home"

    good = pre_commit(sample, home, "run", "--all-files")
    assert good.returncode == 0, good.stdout + good.stderr
    assert hook_result(good.stdout) == ["pisync validate...Passed"]

    (sample / "users" / "a.yaml").write_text(BAD_TYPE)
    git(sample, "add", "-A")
    bad = pre_commit(sample, home, "run", "--all-files")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert hook_result(bad.stdout) == [*FAILED, TYPE_ERROR, "1 error in 1 of 1 file.", ""]

    # Only b.yaml is being committed, yet its clash with a.yaml is found: the hook validates
    # every source, not just the files handed to it (pass_filenames: false).
    (sample / "users" / "a.yaml").write_text(GOOD)
    (sample / "users" / "b.yaml").write_text(SAME_USER)
    git(sample, "add", "-A")
    dup = pre_commit(sample, home, "run", "--files", "users/b.yaml")
    assert dup.returncode == 1, dup.stdout + dup.stderr
    assert hook_result(dup.stdout) == [
        *FAILED,
        'users/b.yaml:2:5: error: duplicate usercode "JSMITH"; first declared at '
        "users/a.yaml:2:5 (at users[0].usercode)",
        "1 error in 1 of 2 files.",
        "",
    ]

    # A commit without YAML does not run it.
    skipped = pre_commit(sample, home, "run", "--files", "README.md")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert hook_result(skipped.stdout) == ["pisync validate...(no files to check)Skipped"]
