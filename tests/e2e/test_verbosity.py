"""``-v`` and ``-q`` through the real CLI: -v names the in-flight limit and every request the
server saw (method, path, status, time; never a secret), -q prints only the summary line and
errors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SECRET, pisync

pytestmark = pytest.mark.e2e

REQUEST_LINE = re.compile(r"^(GET|POST|PUT|DELETE|PATCH) (/\S*) -> (\d{3}) \((\d+) ms\)$")
BASE = "/pi/api/v2"


def test_v_prints_each_request_the_server_received(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    emu.clear_requests()

    r = pisync(["plan", "-v"], cwd=example_repo, url=emu.url)

    assert r.code == 0, r.all
    first, *requests = r.err.splitlines()
    assert first == "in flight: at most 8 (server.concurrency)"
    logged = [REQUEST_LINE.match(line) for line in requests]
    assert all(logged), r.err
    printed = Counter((m[1], m[2], int(m[3])) for m in logged if m)
    seen = Counter((q["method"], q["path"].removeprefix(BASE), q["status"]) for q in emu.requests())
    assert printed == seen
    assert printed[("POST", "/tokens", 200)] == 1
    for secret in (SECRET, "dashboard", "Bearer", "Basic"):
        assert secret not in r.err
    assert r.out.startswith("pisync will perform these actions against")  # stdout unchanged


def test_vv_adds_the_query(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)

    r = pisync(["plan", "-vv", "--target", "BWONG"], cwd=example_repo, url=emu.url)

    assert r.code == 0, r.all
    assert re.search(r"^GET /users/syncPayload\?usercode=BWONG -> 200 \(\d+ ms\)$", r.err, re.M)
    assert "dashboard" not in r.err


def test_q_plan_is_the_summary_line(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)

    plan = pisync(["plan", "-q"], cwd=example_repo, url=emu.url)
    partial = pisync(["-q", "plan", "--target", "BWONG"], cwd=example_repo, url=emu.url)

    assert (plan.code, plan.err) == (0, "")
    assert plan.out == "Plan: 15 to create, 7 to update, 1 to disable, 0 to delete.\n"
    assert (
        partial.out == "Plan: 0 to create, 1 to update, 0 to disable, 0 to delete. (partial plan)\n"
    )


def test_q_apply_prints_the_result_line_only(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)

    applied = pisync(["apply", "--auto-approve", "-q"], cwd=example_repo, url=emu.url)
    again = pisync(["apply", "--auto-approve", "-q"], cwd=example_repo, url=emu.url)

    assert (applied.code, applied.err) == (0, "")
    assert (
        applied.out == "Apply complete: 15 created, 7 updated, 1 disabled, 0 deleted, 0 failed.\n"
    )
    assert (again.code, again.out, again.err) == (
        0,
        "No changes. Panintelligence matches the desired state.\n",
        "",
    )


def test_q_blocked_plan_names_the_guards_in_the_error(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    config = example_repo / "pisync.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("max_prune_count: 5", "max_prune_count: 0"),
        encoding="utf-8",
    )

    r = pisync(["plan", "-q"], cwd=example_repo, url=emu.url)

    assert r.code == 4, r.all
    assert r.out == "Plan: 15 to create, 7 to update, 1 to disable, 0 to delete.\n"
    assert r.err == (
        "Error: pisync apply would refuse this plan: it trips the safety guard(s):"
        " [max-prune-count] the plan disables or deletes 1 user, more than"
        " safety.max_prune_count (0); re-run with --force if this is intended\n"
    )


def test_q_validate_prints_errors_and_the_summary_line(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.mkdir()
    (users / "a.yaml").write_text("users:\n  - usercode: JSMITH\n    email: J@Example.com\n")
    (users / "b.yaml").write_text("users:\n  - usercode: OTHER\n    email: j@example.com\n")

    warned = pisync(["validate", "-q"], cwd=tmp_path)
    (users / "c.yaml").write_text("users:\n  - usercode: BAD\n    colour: red\n")
    failed = pisync(["validate", "-q"], cwd=tmp_path)
    strict = pisync(["validate", "-q", "--strict"], cwd=tmp_path)

    assert (warned.code, warned.out) == (0, "All 2 files valid (1 warning): 2 users, 0 roles.\n")
    assert failed.code == 3
    lines = failed.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("users/c.yaml:3:5: error: ")
    assert lines[1] == "1 error, 1 warning in 2 of 3 files."
    assert "warning:" in strict.out
