"""``make demo-fleet`` (scripts/demo_fleet.sh) as a new user runs it: three emulators, the fleet
of examples/fleet/ validated, planned, applied and planned again, ending with the line that
says the re-plan is empty on every server (exit 0); and a re-plan that is not empty fails it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

LAST = "==> demo complete: planned and applied 3 servers, and the re-plan is empty on every server"


def demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "NO_COLOR"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PISYNC_DEMO_DIR"] = str(tmp_path / "demo")
    return subprocess.run(
        ["bash", "scripts/demo_fleet.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_make_demo_fleet_ends_with_an_empty_plan_on_every_server(tmp_path: Path) -> None:
    proc = demo(tmp_path)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == LAST
    assert [line for line in lines if line.startswith("==> ")] == [
        "==> pisync validate  (every server's effective state)",
        "==> pisync show-desired --server staging  (what staging gets: the base and its overlay)",
        "==> pisync plan --out fleet.json  (three servers at once)",
        "==> pisync apply fleet.json  (each server's plan, with its own stale check)",
        "==> pisync plan --all-servers  (again: should be empty on every server)",
        LAST,
    ]
    assert "Fleet apply: 3 of 3 servers succeeded." in lines
    assert "No changes. Every server (3) matches its desired state." in lines
    assert "\x1b" not in proc.stdout + proc.stderr
