"""Apply under injected faults, interruption and failure (SPEC §5), through the real CLI and
a real emulator process.

What "converged" and "written once" mean here, precisely:

- converged: with the faults cleared, ``pisync plan --detailed-exitcode`` exits 0;
- every changed user is written, and no other user is (the emulator's request log);
- pisync re-sends a user's ``POST /users/sync`` only after an answer it could not trust
  (a fault, a 401): per usercode, every sync but the last was not a 200 and the last was;
- no user created twice: the emulator never reuses ids, so the id counter moves by exactly
  the number of new users, and the one non-idempotent create (``POST /roles``) was
  processed exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PISYNC, Emulator, Result, pisync, start_emulator

pytestmark = pytest.mark.e2e

API = "/pi/api/v2"
SYNC = f"{API}/users/sync"
ROLES = f"{API}/roles"
TOKENS = f"{API}/tokens"
NO_CHANGES = "No changes. Panintelligence matches the desired state.\n"
CLEAR_FAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    "fail_rate": 0,
    "rate_limit_rate": 0,
    "retry_after": 1,
    "drop_rate": 0,
    "fault_phase": "before",
    "fault_methods": [],
    "fault_paths": [],
    "faults_on_login": True,
    "token_ttl": 1800,
    "token_ttl_mode": "sliding",
    "script": [],
}
SECRET_ENV = "E2E_WAREHOUSE_PW"
SECRET_VALUE = "hunter2-warehouse-Zq8!never-print"


# --- a generated organisation ------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    root: Path
    seed: dict[str, Any]
    new: tuple[str, ...]
    updated: tuple[str, ...]
    same: tuple[str, ...]

    @property
    def written(self) -> set[str]:
        return {*self.new, *self.updated}


def make_org(
    root: Path,
    *,
    new: int,
    updated: int = 0,
    same: int = 0,
    concurrency: int = 8,
    extra_users: str = "",
    seed_roles: tuple[dict[str, Any], ...] = (),
    extra_roles: tuple[str, ...] = (),
) -> Org:
    """A seed with ``updated + same`` users, and YAML that creates ``new`` users (half of them
    under a parent created in the same apply), changes the email of ``updated`` users, leaves
    ``same`` users as they are, and creates the role ``Analyst`` the new users hold."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "users").mkdir(exist_ok=True)
    existing = [f"E{i:03d}" for i in range(updated + same)]
    seed = {
        "categories": [{"name": "Finance", "parent": None}],
        "roles": [
            {
                "name": "Viewer",
                "description": "v",
                "categories": ["Finance"],
                "privileges": ["pdf"],
            },
            *seed_roles,
        ],
        "users": [
            {
                "user": {
                    "usercode": code,
                    "forenames": "Ex",
                    "surname": f"Isting{i}",
                    "email": f"e{i}@old.example",
                },
                "userRoles": ["Viewer"],
            }
            for i, code in enumerate(existing)
        ],
    }
    lines = [
        "roles:",
        "  - {name: Viewer, description: v, categories: [Finance], privileges: [pdf]}",
        "  - {name: Analyst, description: a, categories: [Finance],"
        " privileges: [pdf, exportToCsv]}",
        *extra_roles,
        "users:",
    ]
    for i, code in enumerate(existing):
        domain = "new" if i < updated else "old"
        lines.append(
            f"  - {{usercode: {code}, forenames: Ex, surname: Isting{i},"
            f" email: e{i}@{domain}.example, roles: [Viewer]}}"
        )
    half = new // 2
    for i in range(new):
        parent = f", parent: N{i - half:03d}" if i >= half else ""
        lines.append(
            f"  - {{usercode: N{i:03d}, forenames: New, surname: User{i},"
            f" roles: [Analyst]{parent}}}"
        )
    (root / "users" / "org.yaml").write_text("\n".join(lines) + "\n" + extra_users, "utf-8")
    (root / "pisync.yaml").write_text(
        f'sources: ["users/*.yaml"]\nserver: {{timeout: 10, concurrency: {concurrency}}}\n'
        'users: {prune: "off"}\n',
        encoding="utf-8",
    )
    return Org(
        root=root,
        seed=seed,
        new=tuple(f"N{i:03d}" for i in range(new)),
        updated=tuple(existing[:updated]),
        same=tuple(existing[updated:]),
    )


# --- one emulator for the module, reset per test -----------------------------------------


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_emulator(tmp_path_factory.mktemp("emulator"), None)
    yield emu
    emu.stop()


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    shared_emulator.control("PUT", "faults", CLEAR_FAULTS)
    return shared_emulator


def install(emu: Emulator, org: Org, faults: Mapping[str, Any] | None = None) -> int:
    """Reset the emulator to the org's seed, set faults; the next user id before apply."""
    emu.control("PUT", "faults", CLEAR_FAULTS)
    emu.control("POST", "reset", org.seed)
    emu.clear_requests()
    if faults:
        emu.control("PUT", "faults", dict(faults))
    return int(emu.control("GET", "state")["nextIds"]["users"])


# --- assertions --------------------------------------------------------------------------


def syncs_by_user(
    log: list[dict[str, Any]], *, cut_off: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Sync requests by usercode; each names one user. ``cut_off``: a killed client may leave
    a request whose body never arrived whole (no usercode); the server must refuse it."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in log:
        if entry["method"] == "POST" and entry["path"] == SYNC:
            if cut_off and not entry["usercodes"]:
                assert entry["appStatus"] != 200, entry
                continue
            assert len(entry["usercodes"]) == 1, entry  # one user per request
            out[entry["usercodes"][0]].append(entry)
    return dict(out)


def assert_written_once(log: list[dict[str, Any]], org: Org) -> None:
    by_user = syncs_by_user(log)
    assert sorted(by_user) == sorted(org.written)  # every changed user, and nobody else
    for code, entries in by_user.items():
        ok = [e["status"] == 200 for e in entries]
        assert ok == [False] * (len(ok) - 1) + [True], (code, entries)
    role_creates = [e for e in log if e["method"] == "POST" and e["path"] == ROLES]
    assert [e["appStatus"] for e in role_creates].count(201) == 1, role_creates
    others = [
        (e["method"], e["path"])
        for e in log
        if e["method"] != "GET" and e["path"] not in (SYNC, ROLES, TOKENS)
    ]
    assert others == []


def assert_created_once(emu: Emulator, org: Org, next_id_before: int) -> None:
    state = emu.control("GET", "state")
    assert state["nextIds"]["users"] == next_id_before + len(org.new)
    ids = {u["user"]["usercode"]: u["id"] for u in state["users"]}
    assert sorted(ids[c] for c in org.new) == list(
        range(next_id_before, next_id_before + len(org.new))
    )


def assert_converged(emu: Emulator, org: Org) -> None:
    emu.control("PUT", "faults", CLEAR_FAULTS)
    again = pisync(["plan", "--detailed-exitcode"], cwd=org.root, url=emu.url)
    assert (again.code, again.out) == (0, NO_CHANGES), again.all


def last_line(result: Result) -> str:
    return result.out.rstrip("\n").rsplit("\n", 1)[-1]


# --- every fault kind, and all at once -----------------------------------------------------

SEED = {"fault_seed": 20260101}
FAULTS: dict[str, tuple[dict[str, Any], set[str | None]]] = {
    "500-before": ({"fail_rate": 0.06}, {"500"}),
    "500-after": ({"fail_rate": 0.06, "fault_phase": "after"}, {"500"}),
    "429-retry-after-0": ({"rate_limit_rate": 0.06, "retry_after": 0}, {"429"}),
    "drop-before": ({"drop_rate": 0.06}, {"drop"}),
    "drop-after": ({"drop_rate": 0.06, "fault_phase": "after"}, {"drop"}),
    "latency": ({"latency_ms": 10, "latency_jitter_ms": 20}, set()),
    "token-expiry": (
        {"token_ttl": 0.5, "token_ttl_mode": "absolute", "latency_ms": 40},
        set(),
    ),
    "all-at-once": (
        {
            "fail_rate": 0.03,
            "rate_limit_rate": 0.03,
            "retry_after": 0,
            "drop_rate": 0.03,
            "fault_phase": "after",
            "latency_ms": 3,
            "latency_jitter_ms": 6,
            "token_ttl": 0.3,
            "token_ttl_mode": "absolute",
        },
        {"500", "429", "drop"},
    ),
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_apply_converges_under_faults(emu: Emulator, tmp_path: Path, kind: str) -> None:
    faults, expected = FAULTS[kind]
    org = make_org(tmp_path / "org", new=60, updated=10, same=10)
    next_id = install(emu, org, {**SEED, **faults})

    report = tmp_path / "report.json"
    applied = pisync(
        ["apply", "--auto-approve", "--report", str(report)], cwd=org.root, url=emu.url
    )

    assert applied.code == 0, applied.all
    assert (
        last_line(applied)
        == "Apply complete: 61 created, 10 updated, 0 disabled, 0 deleted, 0 failed."
    )
    log = emu.requests()
    assert expected <= {e["fault"] for e in log}  # the faults really happened
    if "token_ttl" in faults:
        assert any(e["status"] == 401 for e in log)
        assert sum(1 for e in log if e["path"] == TOKENS and e["status"] == 200) > 1
    assert_written_once(log, org)
    # the report counts each user's requests, retries and 401s included, as the server saw them
    attempts = {r["key"]: r["attempts"] for r in json.loads(report.read_text())["changes"]}
    assert {c: len(es) for c, es in syncs_by_user(log).items()} == {
        c: attempts[c] for c in org.written
    }
    assert_created_once(emu, org, next_id)
    assert_converged(emu, org)


def test_retry_after_is_honoured(emu: Emulator, tmp_path: Path) -> None:
    # without faults this apply takes about 1 s and stamina's own first backoff is at most
    # 1.2 s (0.2 s + up to 1 s jitter): only a honoured Retry-After makes it last 3 s
    org = make_org(tmp_path / "org", new=4)
    install(
        emu,
        org,
        {"fault_methods": ["POST"], "fault_paths": ["/users/sync"], "script": ["429"]}
        | {"retry_after": 3},
    )
    started = time.monotonic()
    applied = pisync(["apply", "--auto-approve"], cwd=org.root, url=emu.url)
    elapsed = time.monotonic() - started
    assert applied.code == 0, applied.all
    assert elapsed >= 3.0
    log = emu.requests()
    assert [e["fault"] for e in log if e["path"] == SYNC].count("429") == 1
    assert_written_once(log, org)


# --- the one create that is not idempotent -------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "phase", "posts"),
    [
        ("drop", "after", [None]),  # reached the server: looked up, never sent again
        # never processed: looked up, not there, so sent again
        ("500", "before", [500, 201]),
    ],
)
def test_role_create_is_never_blindly_resent(
    emu: Emulator, tmp_path: Path, fault: str, phase: str, posts: list[int | None]
) -> None:
    org = make_org(tmp_path / "org", new=3)
    install(
        emu,
        org,
        {
            "fault_paths": ["/roles"],
            "fault_methods": ["POST"],
            "script": [fault],
            "fault_phase": phase,
        },
    )
    applied = pisync(["apply", "--auto-approve"], cwd=org.root, url=emu.url)
    assert applied.code == 0, applied.all
    log = emu.requests()
    assert [e["status"] for e in log if e["method"] == "POST" and e["path"] == ROLES] == posts
    assert_written_once(log, org)
    assert_converged(emu, org)


# --- a permanent failure -----------------------------------------------------------------


def test_one_failed_change_does_not_stop_the_others(emu: Emulator, tmp_path: Path) -> None:
    temp_role = {"name": "Temp", "description": "t", "categories": [], "privileges": []}
    extra = "".join(
        f"  - {{usercode: T{i}, forenames: Temp, surname: User{i}, roles: [Temp]}}\n"
        for i in range(2)
    )
    org = make_org(
        tmp_path / "org",
        new=6,
        updated=3,
        same=2,
        extra_users=extra,
        seed_roles=(temp_role,),
        extra_roles=("  - {name: Temp, description: t, categories: [], privileges: []}",),
    )
    install(emu, org)
    planfile = tmp_path / "plan.json"
    planned = pisync(["plan", "--out", str(planfile)], cwd=org.root, url=emu.url)
    assert planned.code == 0, planned.all
    # someone deletes the declared role in the UI between review and apply (no user holds it,
    # so the server lets them; the plan did not touch it, so apply does not read it again):
    # the two users who need it are refused by the server, the others apply
    role_id = next(r["id"] for r in emu.api("GET", "/roles")["content"] if r["name"] == "Temp")
    emu.api("DELETE", f"/roles/{role_id}")
    report = tmp_path / "report.json"

    applied = pisync(["apply", str(planfile), "--report", str(report)], cwd=org.root, url=emu.url)

    assert applied.code == 6, applied.all
    message = 'POST /users/sync: HTTP 400: payload[0] ({0}): unknown role "Temp" in userRoles'
    *failures, summary = applied.out.splitlines()
    assert sorted(failures) == [
        f"  ! user T0 (create) failed: {message.format('T0')}",
        f"  ! user T1 (create) failed: {message.format('T1')}",
    ]
    assert summary == "Apply complete: 7 created, 3 updated, 0 disabled, 0 deleted, 2 failed."
    assert applied.err == (
        "Error: 2 change(s) failed; the rest were applied. Fix the causes above (the server's"
        " messages) and run pisync apply again: it changes only what still differs\n"
    )
    body = json.loads(report.read_text(encoding="utf-8"))
    for entry in body["changes"]:
        assert isinstance(entry.pop("seconds"), float | int)
        assert re.fullmatch(r"users/org\.yaml:\d+:5", entry.pop("source")), entry
    rows = sorted(body.pop("changes"), key=lambda r: (r["kind"], r["key"]))
    assert body == {
        "format_version": 2,
        "server": emu.url,
        "interrupted": False,
        "summary": {
            "created": 7,
            "updated": 3,
            "disabled": 0,
            "deleted": 0,
            "failed": 2,
            "not_attempted": 0,
            "abandoned": 0,
        },
    }

    def row(kind: str, key: str, action: str, failed: str = "") -> dict[str, Any]:
        return {
            "kind": kind,
            "key": key,
            "action": action,
            "outcome": "failed" if failed else "applied",
            "message": failed,
            "attempts": 1,
        }

    assert rows == [
        row("role", "Analyst", "create"),
        *(row("user", c, "update") for c in org.updated),
        *(row("user", c, "create") for c in org.new),
        row("user", "T0", "create", message.format("T0")),
        row("user", "T1", "create", message.format("T1")),
    ]
    # put the role back: a re-run converges
    emu.api("POST", "/roles", temp_role)
    assert pisync(["apply", "--auto-approve"], cwd=org.root, url=emu.url).code == 0
    assert_converged(emu, org)


# --- interruption --------------------------------------------------------------------------


def pisync_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
    env.update(
        PISYNC_USERNAME="admin",
        PISYNC_PASSWORD="dashboard",
        PISYNC_URL=url,
        NO_COLOR="1",
        COLUMNS="200",
        PISYNC_TODAY="2026-11-26",
        **extra,
    )
    return env


def start_apply(org: Org, url: str, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = org.root / "apply.out", org.root / "apply.err"
    proc = subprocess.Popen(
        [PISYNC, "apply", "--auto-approve", *args],
        cwd=org.root,
        env=pisync_env(url),
        stdin=subprocess.DEVNULL,
        stdout=out.open("wb"),
        stderr=err.open("wb"),
    )
    return proc, out, err


def wait_for_syncs(emu: Emulator, proc: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        done = [e for e in emu.requests() if e["path"] == SYNC and e["status"] == 200]
        if len(done) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"pisync did not get {count} writes through (exit {proc.poll()})")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_finishes_in_flight_writes_the_report_and_exits_128_plus_signal(
    emu: Emulator, tmp_path: Path, sig: signal.Signals
) -> None:
    org = make_org(tmp_path / "org", new=120)
    next_id = install(emu, org, {"latency_ms": 60})
    report = tmp_path / "report.json"
    proc, out, err = start_apply(org, emu.url, "--report", str(report))
    wait_for_syncs(emu, proc, 1)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 128 + sig  # 143 for SIGTERM, 130 for SIGINT
    stdout = out.read_text(encoding="utf-8").splitlines()
    assert stdout[-1] == "Run pisync apply again to converge: it changes only what still differs."
    assert err.read_text(encoding="utf-8") == (
        "\nStopping: no new changes will start; the ones in flight finish. Press Ctrl-C again"
        " to abandon them.\n"
    )

    log = emu.requests()
    syncs = [e for e in log if e["path"] == SYNC]
    # every request pisync started was answered and read: none cut off, none failed
    assert {(e["status"], e["appStatus"]) for e in syncs} == {(200, 200)}
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["interrupted"] is True
    outcomes = {r["key"]: r["outcome"] for r in body["changes"] if r["kind"] == "user"}
    assert set(outcomes.values()) == {"applied", "not_attempted"}
    assert sorted(k for k, v in outcomes.items() if v == "applied") == sorted(
        c for e in syncs for c in e["usercodes"]
    )
    assert body["summary"]["created"] == 1 + len(syncs)  # the role and each user written
    not_attempted = 121 - 1 - len(syncs)
    assert body["summary"]["not_attempted"] == not_attempted
    assert stdout[-2] == (
        f"Apply interrupted: {1 + len(syncs)} created, 0 updated, 0 disabled, 0 deleted,"
        f" 0 failed, {not_attempted} not attempted."
    )

    emu.control("PUT", "faults", CLEAR_FAULTS)
    rerun = pisync(["apply", "--auto-approve"], cwd=org.root, url=emu.url)
    assert rerun.code == 0, rerun.all
    log = emu.requests()
    assert_written_once(log, org)
    assert_created_once(emu, org, next_id)
    assert_converged(emu, org)


def test_kill_9_in_the_middle_then_a_rerun_converges(emu: Emulator, tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", new=300)
    next_id = install(emu, org, {"latency_ms": 20})
    proc, _, _ = start_apply(org, emu.url)
    wait_for_syncs(emu, proc, 40)
    proc.kill()
    assert proc.wait(timeout=10) == -signal.SIGKILL
    time.sleep(0.2)  # let the server finish what was in flight
    emu.control("PUT", "faults", CLEAR_FAULTS)
    first = syncs_by_user(emu.requests(), cut_off=True)
    assert 40 <= len(first) < len(org.new)

    rerun = pisync(["apply", "--auto-approve"], cwd=org.root, url=emu.url)

    assert rerun.code == 0, rerun.all
    by_user = syncs_by_user(emu.requests(), cut_off=True)
    assert sorted(by_user) == sorted(org.new)
    # each user processed by the server exactly once over both runs
    assert {c: [e["appStatus"] for e in es] for c, es in by_user.items()} == {
        c: [200] for c in org.new
    }
    assert_created_once(emu, org, next_id)
    assert_converged(emu, org)


# --- secrets -------------------------------------------------------------------------------


def test_no_secret_value_in_any_output_or_file(emu: Emulator, tmp_path: Path) -> None:
    extra = (
        "  - usercode: VAULT\n    forenames: Val\n    surname: Ult\n"
        f"    variables: {{region: UK, pw: {{env: {SECRET_ENV}, secure: true}}}}\n"
    )
    org = make_org(tmp_path / "org", new=4, updated=2, extra_users=extra)
    install(emu, org)
    env = {SECRET_ENV: SECRET_VALUE}
    planfile, report = tmp_path / "plan.json", tmp_path / "report.json"
    runs = [
        pisync(["-v", "plan", "--out", str(planfile)], cwd=org.root, url=emu.url, env=env),
        pisync(["-v", "plan", "--format", "json"], cwd=org.root, url=emu.url, env=env),
        pisync(["-v", "plan", "--format", "markdown"], cwd=org.root, url=emu.url, env=env),
    ]
    # three syncs are answered 500 after they were processed: -v prints each retry
    emu.clear_requests()
    emu.control(
        "PUT",
        "faults",
        {
            "fault_methods": ["POST"],
            "fault_paths": ["/users/sync"],
            "fault_phase": "after",
            "script": ["500"] * 3,
        },
    )
    runs.append(
        pisync(
            ["-vv", "apply", str(planfile), "--report", str(report)],
            cwd=org.root,
            url=emu.url,
            env=env,
        )
    )
    assert [r.code for r in runs] == [0, 0, 0, 0], [r.all for r in runs]
    retries = [line for line in runs[-1].err.splitlines() if line.startswith("retrying after")]
    assert (
        retries
        == ["retrying after HTTP 500: POST /users/sync: internal server error (injected fault)"] * 3
    )
    # the secret did reach the server...
    emu.control("PUT", "faults", CLEAR_FAULTS)
    payload = emu.api("GET", "/users/syncPayload?usercode=VAULT")[0]
    assert {"name": "pw", "value": SECRET_VALUE, "isSecure": True} in payload["variables"]
    # ...and a rotated secret is a change shown without either value
    rotated = pisync(
        ["-v", "plan", "--detailed-exitcode"],
        cwd=org.root,
        url=emu.url,
        env={SECRET_ENV: SECRET_VALUE + "-rotated"},
    )
    assert rotated.code == 2, rotated.all
    assert rotated.out == (
        f"pisync will perform these actions against {emu.url}:\n\n"
        "  ~ user VAULT\n"
        "      ~ variables.pw: (sensitive value changed: env E2E_WAREHOUSE_PW, secure)\n\n"
        "Plan: 0 to create, 1 to update, 0 to disable, 0 to delete.\n"
    )
    texts = [r.all for r in [*runs, rotated]]
    texts += [planfile.read_text(encoding="utf-8"), report.read_text(encoding="utf-8")]
    for text in texts:
        assert SECRET_VALUE not in text
        assert "dashboard" not in text  # PISYNC_PASSWORD
