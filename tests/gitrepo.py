"""git in a test repository as a named person at a fixed time (so provenance is exact)."""

from __future__ import annotations

import subprocess
from pathlib import Path

Person = tuple[str, str, str]  # (name, email, ISO 8601 date with offset)


def git_as(repo: Path, who: Person, *args: str) -> str:
    """``git ARGS`` in ``repo`` authored and committed by ``who``; its stdout, stripped.
    No user configuration is read (HOME is the repository)."""
    name, email, date = who
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": date,
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
    }
    out = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
