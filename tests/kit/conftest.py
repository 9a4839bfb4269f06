"""Fixtures of the pull-request kit's tests: the fake GitHub API and a way to run the scripts
as the workflows do (``python scripts/NAME.py …`` with the GitHub environment variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from gh_fake import REPO, TOKEN, FakeGitHub, serve

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "examples" / "github-actions"
SCRIPTS = KIT / "scripts"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    server, thread = serve(fake)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


def base_env(api_url: str, tmp: Path) -> dict[str, str]:
    """The variables a GitHub runner sets that the scripts read, and nothing of ours."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": api_url,
        "GITHUB_OUTPUT": str(tmp / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp / "step_summary.md"),
    }


def parse_outputs(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def run_script(
    name: str,
    args: Sequence[str],
    *,
    api_url: str,
    tmp: Path,
    env: Mapping[str, str | None] | None = None,
) -> Result:
    """Run ``scripts/NAME`` as a workflow step does; a fresh ``$GITHUB_OUTPUT`` each time."""
    environ = base_env(api_url, tmp)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    output = Path(environ.get("GITHUB_OUTPUT", tmp / "github_output"))
    output.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, parse_outputs(output))
