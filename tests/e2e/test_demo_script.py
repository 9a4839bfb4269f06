"""``make demo`` (scripts/demo.sh) run as a new user runs it: the whole demo passes, and its
banners are bold only on a terminal, never with NO_COLOR (no raw escape codes in a log)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e

BOLD = "\x1b[1m==> pisync validate\x1b[0m"
BANNERS = [
    "==> pisync validate",
    "==> pisync apply --auto-approve",
    "==> demo complete: planned, applied, and the re-plan is empty",
]


def demo_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "NO_COLOR"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PISYNC_DEMO_PORT"] = str(free_port())
    env.update(extra)
    return env


def run_on_a_terminal(env: Mapping[str, str]) -> tuple[int, str]:
    """The demo with its stdout and stderr on a pseudo-terminal; (exit code, what it showed)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # read as it comes, so that a full terminal buffer never blocks it
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every writer is gone
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    code = proc.wait(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_the_demo_in_a_log_has_no_escape_codes() -> None:
    proc = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert all(banner in lines for banner in BANNERS), proc.stdout


def test_the_demo_on_a_terminal_has_bold_banners() -> None:
    code, shown = run_on_a_terminal(demo_env())

    assert code == 0, shown
    assert BOLD in shown


def test_the_demo_on_a_terminal_with_no_color_has_none() -> None:
    code, shown = run_on_a_terminal(demo_env(NO_COLOR="1"))

    assert code == 0, shown
    assert "\x1b[1m" not in shown
    assert "==> pisync validate" in shown
