"""End-to-end harness: a real ``pi-emulator`` process on a free loopback port, and the real
``pisync`` console script run as a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pi_emulator.process import EmulatorProcess, free_port

__all__ = ["SECRET", "Emulator", "free_port", "log_text", "pisync", "start_emulator"]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PISYNC = str(BIN / "pisync")


class Emulator(EmulatorProcess):
    """A real emulator process, plus the API calls and request-log reads tests make."""

    def token(self, user: str = "admin", password: str = "dashboard") -> str:
        """A fresh token for ``user`` (clear-text Basic, as the reference allows)."""
        token_req = urllib.request.Request(
            f"{self.url}/tokens",
            data=b"{}",
            method="POST",
            headers={
                "Authorization": f"Basic {user}:{password}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(token_req, timeout=10) as resp:
            return str(json.loads(resp.read())["token"])

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the API as the super admin, as another tool or a person in the UI would."""
        token = self.token()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def requests(self) -> list[dict[str, Any]]:
        body = self.control("GET", "requests")
        return list(body["requests"] if isinstance(body, dict) else body)

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")


def start_emulator(tmp: Path, seed: Mapping[str, Any] | None, *extra: str) -> Emulator:
    return Emulator.start(tmp, seed=seed, args=extra, ready_timeout=20)


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Emulator] = []

    def make(seed: Mapping[str, Any] | None = None, *extra: str) -> Emulator:
        emu = start_emulator(tmp_path, seed, *extra)
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A copy of examples/ so tests may edit it."""
    dest = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", dest)
    return dest


@pytest.fixture
def example_seed() -> dict[str, Any]:
    return dict(json.loads((ROOT / "examples" / "seed.json").read_text(encoding="utf-8")))


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


SECRET = "s3cr3t-value-that-must-never-print"

_STOP = re.compile(r"::stop-commands::([0-9a-f]{32})")


def log_text(out: str) -> str:
    """What a GitHub job log shows of ``out``: every ``::stop-commands::TOKEN`` block is
    checked to be closed by its own ``::TOKEN::`` (fresh tokens, no command inside) and its
    two lines are dropped; pisync's own commands are left as they are."""
    shown: list[str] = []
    token: str | None = None
    for line in out.splitlines(keepends=True):
        started = _STOP.fullmatch(line.rstrip("\n"))
        if token is None and started:
            token = started.group(1)
            continue
        if token is not None and line.rstrip("\n") == f"::{token}::":
            token = None
            continue
        assert (
            token is not None
            or not line.startswith("::")
            or line.startswith(("::error ", "::warning ", "::notice "))
        ), f"a workflow command outside pisync's own: {line!r}"
        shown.append(line)
    assert token is None, "a stop-commands block is never closed"
    return "".join(shown)


def pisync(
    args: Sequence[str],
    *,
    cwd: Path,
    url: str | None = None,
    env: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
    timeout: float = 120,
) -> Result:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
    full.update(
        {
            "PISYNC_USERNAME": "admin",
            "PISYNC_PASSWORD": "dashboard",
            "FINANCE_DB_PASSWORD": SECRET,
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "PISYNC_TODAY": "2026-11-26",
        }
    )
    if url is not None:
        full["PISYNC_URL"] = url
    full.update(env or {})
    for name in unset:
        full.pop(name, None)
    proc = subprocess.run(
        [PISYNC, *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Result(code=proc.returncode, out=proc.stdout, err=proc.stderr)
