"""What the benchmark scripts share: the emulator process, running a command in a fresh
wrapper process so its own wall time, CPU and peak RSS are measured, and machine facts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pi_emulator.process import EmulatorProcess as Emulator

BIN = Path(sys.executable).parent
PISYNC = str(BIN / "pisync")
PYTHON = sys.executable
#: The programs run in a process of their own (benchmarks/baselines/).
BASELINES = Path(__file__).resolve().parent / "baselines"


@dataclass
class Run:
    wall_s: float
    rss_mb: float
    cpu_s: float
    exit: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return (self.stdout + self.stderr).splitlines()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines()[-n:])


def start_emulator(tmp: Path, seed_file: Path, *extra: str) -> Emulator:
    return Emulator.start(tmp, seed=seed_file, args=extra, ready_timeout=120)


def pisync_env(url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
    env.update(
        PISYNC_URL=url,
        PISYNC_USERNAME="admin",
        PISYNC_PASSWORD="dashboard",
        NO_COLOR="1",
        COLUMNS="120",
        PISYNC_TODAY="2026-11-26",
    )
    env.update(extra or {})
    return env


def run_wrapped(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Run:
    proc = subprocess.run(
        [PYTHON, str(BASELINES / "measured.py"), *command],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return Run(**json.loads(proc.stdout))


def machine() -> str:
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        nproc = "?"
    return (
        f"machine: nproc {nproc.strip()}, os.cpu_count {os.cpu_count()}, "
        f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
