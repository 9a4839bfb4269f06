"""A fleet repository for end-to-end tests: a copy of ``examples/fleet`` whose servers point at
real emulator processes, the environment with each server's credentials, and a git history
for ``--changed-since``."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pi_emulator.process import EmulatorProcess
from tests.e2e.conftest import ROOT, Emulator, Result, pisync
from tests.e2e.test_changed_since import git as git_in

#: The servers of examples/fleet, in name order (the order pisync reports them in).
SERVERS = ("prod-acme", "prod-globex", "staging")
EXAMPLE = ROOT / "examples" / "fleet"
SEED: dict[str, Any] = json.loads((EXAMPLE / "seed.json").read_text(encoding="utf-8"))


def credentials(names: Sequence[str] = SERVERS) -> dict[str, str]:
    """Each server's credentials under its default variable names (admin / dashboard)."""
    env = {}
    for name in names:
        upper = re.sub(r"[^A-Z0-9]", "_", name.upper())
        env[f"PISYNC_{upper}_USERNAME"] = "admin"
        env[f"PISYNC_{upper}_PASSWORD"] = "dashboard"
    return env


def point_at(config: Path, urls: Mapping[str, str]) -> None:
    """Rewrite the ``url`` of each named server of ``config`` (examples/fleet's layout)."""
    text = config.read_text(encoding="utf-8")
    for name, url in urls.items():
        text, n = re.subn(rf"(\n  {re.escape(name)}:\n    url: )\S+", rf"\g<1>{url}", text)
        assert n == 1, name
    config.write_text(text, encoding="utf-8")


def fleet_repo(tmp_path: Path, emus: Sequence[EmulatorProcess], *, git: bool = False) -> Path:
    """examples/fleet copied to ``tmp_path/repo``, each server pointing at its emulator
    (``emus`` in :data:`SERVERS` order); committed to git on ``main`` when ``git``."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    point_at(repo / "pisync.yaml", {n: e.url for n, e in zip(SERVERS, emus, strict=True)})
    if git:
        git_in(repo, "init", "-q", "-b", "main")
        git_in(repo, "add", "-A")
        git_in(repo, "commit", "-q", "-m", "The fleet as reviewed")
        git_in(repo, "checkout", "-q", "-b", "change")
    return repo


def run(args: Sequence[str], repo: Path, **env: str) -> Result:
    """``pisync ARGS`` in ``repo`` with every server's credentials and no PISYNC_URL."""
    return pisync(args, cwd=repo, env={**credentials(), **env})


def as_emulator(emu: EmulatorProcess) -> Emulator:
    """The API helpers of the e2e harness over a fleet member."""
    return Emulator(emu.process, emu.port, emu.log)


def user(emu: EmulatorProcess, usercode: str) -> dict[str, Any] | None:
    """A user's sync payload on ``emu``, or None when it has no such user."""
    try:
        found = as_emulator(emu).api("GET", f"/users/syncPayload?usercode={usercode}")
    except OSError:
        return None
    return dict(found[0])


def write(repo: Path, path: str, text: str) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def schemas_beside(repo: Path) -> None:
    """The schemas where the example's modelines look for them (for a person's editor)."""
    shutil.copytree(ROOT / "schemas", repo.parent / "schemas", dirs_exist_ok=True)
