"""Apply proves every write, through the real CLI against real emulator processes: against an
emulator that stores one shape otherwise than sent, ``pisync apply plan.json`` stops after
the canary (exit 6), nothing else is written, the message names the field and the guess, the
report says why the rest were not attempted and points to ``pisync doctor --write-check``;
against a healthy one every write is verified from the sync answer at no extra request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Emulator, Result, pisync

pytestmark = pytest.mark.e2e

SYNC = "/pi/api/v2/users/sync"
PAYLOAD = "/pi/api/v2/users/syncPayload"
CONFIG = 'sources: ["users/**/*.y*ml"]\nserver: {concurrency: 4}\n'


def new_users(n: int) -> str:
    """``n`` new users, each with every shape pisync writes."""
    lines = ["users:"]
    for i in range(n):
        lines += [
            f"  - usercode: new{i}",
            "    forenames: New",
            f"    surname: User{i}",
            "    parent: BWONG",
            "    categories: [Budgets]",
            "    roles: [Sales Viewer]",
            "    variables:",
            "      region: North",
            "      pin: {env: FINANCE_DB_PASSWORD, secure: true}",
            "    restrictions:",
            "      - {connection: Sales DB, column: Region, values: [East, West]}",
        ]
    return "\n".join(lines) + "\n"


def repo(tmp_path: Path, users: str) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "users" / "people.yaml").write_text(users, encoding="utf-8")
    return root


def planned(emu: Emulator, root: Path) -> Path:
    r = pisync(["plan", "--out", "plan.json"], cwd=root, url=emu.url)
    assert r.code == 0, r.all
    return root / "plan.json"


def writes(emu: Emulator) -> list[list[str]]:
    return [e["usercodes"] for e in emu.requests() if e["path"] == SYNC]


def apply_saved(emu: Emulator, root: Path, *extra: str) -> Result:
    emu.clear_requests()
    return pisync(["apply", "plan.json", "--report", "report.json", *extra], cwd=root, url=emu.url)


@pytest.mark.parametrize(
    ("quirk", "stored"),
    [
        (
            "restrictions-first-value",
            "the server stored `restrictions` as [Sales DB/Region: East] after pisync sent"
            " [Sales DB/Region: East, West] (guess U2: ",
        ),
        (
            "variables-secure-cleared",
            "the server stored `variables.pin` as a secret value (not secure) after pisync sent"
            " a secret value (secure) (guess U1: ",
        ),
        (
            "categories-no-ancestors",
            "the server stored `categories` as [Budgets] after pisync sent [Budgets, Finance]"
            " (guess U4: ",
        ),
        (
            "parent-ignored",
            'the server stored `parent` as "ADMIN" after pisync sent "BWONG" (guess §3.3: ',
        ),
    ],
)
def test_a_shape_stored_otherwise_stops_apply_after_the_canary(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path, quirk: str, stored: str
) -> None:
    emu = emulator_factory(example_seed, "--store-quirk", quirk)
    root = repo(tmp_path, new_users(5))
    planned(emu, root)
    r = apply_saved(emu, root)
    assert r.code == 6, r.all
    assert writes(emu) == [["NEW0"]]  # the canary, and nothing after it
    failure = f"  ! user NEW0 (create) failed: user NEW0 was written but {stored}"
    assert any(line.startswith(failure) for line in r.out.splitlines()), r.out
    assert (
        "Apply stopped: 0 created, 0 updated, 0 disabled, 0 deleted, 1 failed, 4 not attempted."
        in r.out.splitlines()
    )
    assert r.err.startswith(
        "Error: apply stopped: user NEW0 was written but the server stored it otherwise than"
        " pisync sent (above), so no further change was started (4 not attempted): a guess"
        " pisync makes about the API does not hold for this server. Run pisync doctor"
        " --write-check against a test server to see which"
    ), r.err
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    assert [(c["key"], c["outcome"]) for c in report["changes"]] == [
        ("NEW0", "failed"),
        *((f"NEW{i}", "not_attempted") for i in range(1, 5)),
    ]
    assert report["changes"][1]["message"] == (
        "not attempted: apply stopped after user NEW0 was stored otherwise than sent (a wrong"
        " guess about the API would repeat on every write)"
    )
    assert "s3cr3t" not in r.all + (root / "report.json").read_text(encoding="utf-8")


def test_an_additive_server_is_caught_on_the_first_update(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--store-quirk", "sync-additive")
    users = "users:\n" + "".join(
        f"  - {{usercode: {code}, roles: []}}\n" for code in ("BWONG", "CJONES", "GKIM")
    )
    root = repo(tmp_path, users)
    planned(emu, root)
    r = apply_saved(emu, root)
    assert r.code == 6, r.all
    assert writes(emu) == [["BWONG"]]
    assert (
        "  ! user BWONG (update) failed: user BWONG was written but the server stored `roles` as"
        " [Sales Viewer] after pisync sent [] (guess §3.1: `POST /users/sync` is not additive:"
    ) in r.out


def test_a_healthy_server_is_verified_from_the_sync_answer_with_no_read(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    root = repo(tmp_path, new_users(5))
    planned(emu, root)
    r = apply_saved(emu, root)
    assert r.code == 0, r.all
    assert sorted(c[0] for c in writes(emu)) == [f"NEW{i}" for i in range(5)]
    # the saved plan re-reads the five (absent) users once, the parent they name (its
    # plan-time checks) and the account its guards check (it creates users); verification
    # reads nothing more
    reads = sorted(e["query"] for e in emu.requests() if e["path"] == PAYLOAD)
    assert reads == ["usercode=ADMIN", "usercode=BWONG"] + [f"usercode=NEW{i}" for i in range(5)]
    again = pisync(["plan", "--detailed-exitcode"], cwd=root, url=emu.url)
    assert again.code == 0, again.all


def test_an_answer_without_the_stored_user_is_verified_with_one_read_per_write(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--sync-answer", "empty")
    root = repo(tmp_path, new_users(3))
    planned(emu, root)
    r = apply_saved(emu, root)
    assert r.code == 0, r.all
    assert len(writes(emu)) == 3
    reads = sorted(e["query"] for e in emu.requests() if e["path"] == PAYLOAD)
    parent = ["usercode=ADMIN", "usercode=BWONG"]
    assert reads == parent + [f"usercode=NEW{i}" for i in range(3) for _ in "ab"]


def test_no_verify_writes_everything_even_where_the_server_stores_otherwise(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--store-quirk", "restrictions-first-value")
    root = repo(tmp_path, new_users(3))
    planned(emu, root)
    r = apply_saved(emu, root, "--no-verify")
    assert r.code == 0, r.all
    assert len(writes(emu)) == 3


def test_a_fresh_apply_stops_after_the_canary_too(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--store-quirk", "restrictions-first-value")
    root = repo(tmp_path, new_users(3))
    emu.clear_requests()
    r = pisync(["apply", "--auto-approve"], cwd=root, url=emu.url)
    assert r.code == 6, r.all
    assert writes(emu) == [["NEW0"]]


def test_users_needing_a_role_whose_create_failed_are_not_sent(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 24, item 8: the role create fails (the server answers 500 to every role create),
    and the users that need the role are not sent; the others are."""
    emu = emulator_factory(example_seed)
    root = repo(
        tmp_path,
        "roles:\n  - {name: Night Shift, privileges: [pdf], description: x}\n"
        "users:\n"
        "  - {usercode: n1, forenames: N, surname: One, roles: [Night Shift]}\n"
        "  - {usercode: n2, forenames: N, surname: Two, roles: [Sales Viewer]}\n",
    )
    planned(emu, root)
    emu.control(
        "PUT",
        "faults",
        {"fault_paths": ["/roles"], "fault_methods": ["POST"], "fail_rate": 1.0},
    )
    r = apply_saved(emu, root)
    assert r.code == 6, r.all
    assert writes(emu) == [["N2"]]
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    assert [(c["key"], c["outcome"]) for c in report["changes"]] == [
        ("Night Shift", "failed"),
        ("N1", "not_attempted"),
        ("N2", "applied"),
    ]
    assert report["changes"][1]["message"] == (
        'not attempted: it needs role "Night Shift", whose create failed'
    )
    assert '  ! role "Night Shift" (create) failed: POST /roles: HTTP 500' in r.out
