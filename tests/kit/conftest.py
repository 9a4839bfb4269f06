"""Fixtures of the pull-request kit's tests: the fake GitHub API, a fake pisync on PATH, and a
way to run the scripts as the workflows do (``python scripts/NAME.py …`` with the GitHub
environment variables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class FakePisync:
    """``pisync`` on PATH as tests/kit/pisync_fake.py, with its scenario and call log."""

    folder: Path

    def __post_init__(self) -> None:
        self.bin = self.folder / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log = self.folder / "pisync-calls.jsonl"
        self.scenario_file = self.folder / "scenario.json"
        self.scenario_file.write_text("{}")
        fake = Path(__file__).with_name("pisync_fake.py")
        (self.bin / "pisync").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
        (self.bin / "pisync").chmod(0o755)

    def scenario(self, data: dict[str, Any]) -> None:
        self.scenario_file.write_text(json.dumps(data))

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "FAKE_PISYNC_SCENARIO": str(self.scenario_file),
            "FAKE_PISYNC_LOG": str(self.log),
        }

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def calls(self) -> list[list[str]]:
        return [entry["args"] for entry in self.entries()]


@pytest.fixture
def pisync(tmp_path: Path) -> FakePisync:
    return FakePisync(tmp_path / "fake-pisync")


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
    cwd: Path | None = None,
) -> Result:
    """Run ``scripts/NAME`` as a workflow step does (in ``cwd``, default ``tmp``); a fresh
    ``$GITHUB_OUTPUT`` each time."""
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
        cwd=cwd or tmp,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, parse_outputs(output))
