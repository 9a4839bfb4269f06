"""The whole path through the real CLI and a real emulator process: plan -> apply -> plan."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SECRET, pisync

pytestmark = pytest.mark.e2e
CREDENTIAL = base64.b64encode(b"admin:dashboard").decode()


def test_example_plan_apply_replan(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    first = pisync(
        ["plan", "--detailed-exitcode", "--out", str(tmp_path / "plan.json")],
        cwd=example_repo,
        url=emu.url,
    )
    assert first.code == 2, first.all
    assert first.out.startswith(f"pisync will perform these actions against {emu.url}:\n")
    assert '  + role "Finance Viewer"' in first.out
    assert "  ~ user ASHAH" in first.out
    assert "  + user LCHEN" in first.out
    assert "  - user HNOVAK  (disable)" in first.out
    summary = first.out.rstrip().splitlines()[-1]
    assert summary.startswith("Plan: ")
    assert summary.endswith(" to delete.")

    applied = pisync(
        ["apply", "--auto-approve", "--report", str(tmp_path / "report.json")],
        cwd=example_repo,
        url=emu.url,
    )
    assert applied.code == 0, applied.all
    assert applied.out.rstrip().splitlines()[-1].startswith("Apply complete: ")
    assert applied.out.rstrip().endswith(" 0 failed.")

    again = pisync(["plan", "--detailed-exitcode"], cwd=example_repo, url=emu.url)
    assert again.code == 0, again.all
    assert again.out == "No changes. Panintelligence matches the desired state.\n"

    # secrets: never in any output, plan file or report
    for text in (
        first.all,
        applied.all,
        again.all,
        (tmp_path / "plan.json").read_text(),
        (tmp_path / "report.json").read_text(),
    ):
        assert SECRET not in text
        assert CREDENTIAL not in text
        assert "admin:dashboard" not in text


def test_apply_writes_only_changed_users_and_never_creates_twice(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    plan = pisync(["plan", "--format", "json"], cwd=example_repo, url=emu.url)
    assert plan.code == 0, plan.all
    changes = json.loads(plan.out)["changes"]
    planned_users = sorted(
        c["key"] for c in changes if c["kind"] == "user" and c["action"] != "delete"
    )
    emu.clear_requests()
    applied = pisync(["apply", "--auto-approve"], cwd=example_repo, url=emu.url)
    assert applied.code == 0, applied.all
    syncs = [
        r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith("/users/sync")
    ]
    written = sorted(code for r in syncs for code in r["usercodes"])
    assert written == planned_users  # each changed user exactly once, nobody else
    emu.clear_requests()
    assert pisync(["apply", "--auto-approve"], cwd=example_repo, url=emu.url).code == 0
    writes = [
        r
        for r in emu.requests()
        if r["method"] in ("POST", "PUT", "DELETE") and "/tokens" not in r["path"]
    ]
    assert writes == []


def test_saved_plan_applies_exactly_and_refuses_when_stale(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    planfile = str(tmp_path / "plan.json")
    assert pisync(["plan", "--out", planfile], cwd=example_repo, url=emu.url).code == 0
    # someone edits a user the plan updates, between review and apply
    payload = emu.api("GET", "/users/syncPayload?usercode=ashah")
    payload[0]["user"]["surname"] = "Changed-Meanwhile"
    emu.api("POST", "/users/sync", payload)
    emu.clear_requests()
    stale = pisync(["apply", planfile], cwd=example_repo, url=emu.url)
    assert stale.code == 5, stale.all
    assert "user ASHAH changed on the server since the plan was made" in stale.err
    assert [r for r in emu.requests() if r["method"] != "GET" and "/tokens" not in r["path"]] == []
    # a fresh plan applies cleanly
    assert pisync(["plan", "--out", planfile], cwd=example_repo, url=emu.url).code == 0
    done = pisync(["apply", planfile], cwd=example_repo, url=emu.url)
    assert done.code == 0, done.all
    assert pisync(["plan", "--detailed-exitcode"], cwd=example_repo, url=emu.url).code == 0
