"""The kit's scripts against the real pisync, so that the fake pisync the other kit tests use
cannot drift from it: a real plan (the real CLI against a real emulator process) read by
plan_summary.py through the real ``pisync show``, and the fake's ``show --summary --format json``
of that same plan file agreeing with the real one on what the kit reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_script

from pi_emulator.process import EmulatorProcess

BIN = Path(sys.executable).parent


@pytest.fixture
def real_plan(tmp_path: Path) -> Iterator[Path]:
    """A plan saved by the real pisync against the emulator: the examples, with one more
    privilege for ASHAH (an escalation)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", repo, ignore=shutil.ignore_patterns("github-actions"))
    finance = repo / "users" / "finance.yaml"
    finance.write_text(
        finance.read_text().replace("schedule, editCharts]", "schedule, editCharts, editUsers]")
    )
    emu = EmulatorProcess.start(tmp_path, seed=ROOT / "examples" / "seed.json", ready_timeout=30)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
        env.update(
            PISYNC_USERNAME="admin",
            PISYNC_PASSWORD="dashboard",
            FINANCE_DB_PASSWORD="a-secret-value",
            PISYNC_TODAY="2026-11-26",
            NO_COLOR="1",
        )
        proc = subprocess.run(
            [str(BIN / "pisync"), "--url", emu.url, "plan", "--out", "plan.json", "-q"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        yield repo / "plan.json"
    finally:
        emu.stop()


def show(pisync: list[str], plan: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [*pisync, "show", str(plan), "--summary", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "FAKE_PISYNC_SCENARIO": os.devnull, "FAKE_PISYNC_LOG": os.devnull},
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_the_kit_reads_a_real_plan_through_the_real_pisync_show(
    real_plan: Path, tmp_path: Path
) -> None:
    result = run_script(
        "plan_summary.py",
        [str(real_plan), "--markdown-out", str(tmp_path / "plan.md")],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
        env={"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.code == 0, result.stderr
    saved = json.loads(real_plan.read_text())
    escalated = sorted(a["usercode"] for a in saved["access"] if a["escalation"])
    assert "ASHAH" in escalated
    assert result.outputs["escalations"] == str(len(escalated))
    assert result.outputs["changes"] == str(len(saved["changes"]))
    counts = saved["summary"]
    assert result.outputs["summary"] == (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['disable']} to disable, {counts['delete']} to delete."
    )
    markdown = (tmp_path / "plan.md").read_text()
    assert markdown.startswith("## pisync plan")
    assert "Privilege escalation" in markdown


def test_the_fake_pisync_show_agrees_with_the_real_one(real_plan: Path) -> None:
    real = show([str(BIN / "pisync")], real_plan)
    fake = show([sys.executable, str(Path(__file__).with_name("pisync_fake.py"))], real_plan)
    assert fake["summary"] == real["summary"]
    assert sorted(fake["escalations"]) == sorted(real["escalations"])
    assert len(fake["changes"]) == len(real["changes"])
