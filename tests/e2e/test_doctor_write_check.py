"""``pisync doctor --write-check`` against real emulator processes: every guess about how the
server stores a user is settled on one scratch user that is gone afterwards (disabled, and
said so, where deleting is refused); against each store quirk exactly that shape is
DIFFERENT; it never writes another user, asks before writing, and removes the scratch user on
Ctrl-C too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PISYNC, Emulator, pisync
from tests.e2e.test_doctor import results
from tests.e2e.test_plan_truth import run_in_pty

pytestmark = pytest.mark.e2e

SYNC = "/pi/api/v2/users/sync"
WRITE_CHECKS = [
    "write-create",
    "sync-answer",
    "write-user-fields",
    "write-parent",
    "write-expiry",
    "write-roles",
    "write-categories",
    "write-variables",
    "write-restrictions",
    "write-not-additive",
    "write-delete",
]


def state(emu: Emulator) -> dict[str, Any]:
    """What the server holds (users, roles, categories), ids counters left out."""
    doc = emu.control("GET", "state")
    return {k: doc[k] for k in ("users", "roles", "categories")}


def written_codes(emu: Emulator) -> set[str]:
    """Every usercode a request wrote (syncs) or deleted."""
    codes: set[str] = set()
    for e in emu.requests():
        if e["path"] == SYNC:
            codes.update(e["usercodes"])
    return codes


def deletes(emu: Emulator) -> list[str]:
    return [e["path"] for e in emu.requests() if e["method"] == "DELETE"]


def scratch_of(emu: Emulator) -> str:
    (code,) = written_codes(emu)
    assert code.startswith("PISYNC-DOCTOR-")
    assert len(code) == len("PISYNC-DOCTOR-") + 8
    return code


def test_every_write_guess_holds_on_the_emulator_and_nothing_is_left(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    before = state(emu)
    emu.clear_requests()
    r = pisync(["doctor", "--write-check", "--yes"], cwd=tmp_path, url=emu.url)
    assert r.code == 0, r.all
    found = results(r.out)
    assert [k for k in found if k in WRITE_CHECKS] == WRITE_CHECKS
    assert set(found.values()) == {"OK"}, r.out
    assert r.out.splitlines()[-1] == (
        "31 OK, 0 different, 0 unknown. Every assumption holds: pisync can plan against this"
        " server."
    )
    assert state(emu) == before
    code = scratch_of(emu)  # the one user written
    user_id = next(e["path"].rsplit("/", 1)[1] for e in emu.requests() if e["method"] == "DELETE")
    assert deletes(emu) == [f"/pi/api/v2/users/{user_id}"]
    lines = r.out.splitlines()
    assert lines[lines.index(next(x for x in lines if "sync-answer [U6]" in x)) + 1] == (
        "    server: the stored payload: apply verifies each write from it, at no extra request"
    )
    assert code not in r.out  # nothing left to point at


EXPECTED = {
    "restrictions-first-value": ({"write-restrictions"}, "1 of 2 values of one restriction stored"),
    "variables-secure-cleared": (
        {"write-variables"},
        "isSecure was not stored (it reads back false)",
    ),
    "variables-secure-masked": (
        {"write-variables"},
        "the secure value reads back otherwise (masked?)",
    ),
    "expiry-as-timestamp": (
        {"write-expiry", "expiry-format"},
        "read back shaped YYYY-MM-DDT99:99:99.999+99:99",
    ),
    "categories-no-ancestors": (
        {"write-categories"},
        "1 of the 2 categories sent (a category and its ancestors) read back",
    ),
    "roles-case-folded": ({"write-roles"}, "read back in another spelling (letter case)"),
    "parent-ignored": ({"write-parent"}, "another parent than the one sent was stored"),
    "sync-additive": (
        {"write-not-additive"},
        "kept what the update left out: roles, categories, restrictions, variables",
    ),
    "user-delete-refused": ({"write-delete"}, "the delete was refused (HTTP 405)"),
    "user-delete-forbidden": ({"write-delete"}, "the delete was refused (HTTP 403)"),
}


@pytest.mark.parametrize("quirk", sorted(EXPECTED))
def test_each_store_quirk_is_different_for_exactly_its_shape(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path, quirk: str
) -> None:
    emu = emulator_factory(example_seed, "--store-quirk", quirk)
    before = state(emu)
    emu.clear_requests()
    r = pisync(["doctor", "--write-check", "--yes", "--format", "json"], cwd=tmp_path, url=emu.url)
    assert r.code == 1, r.all
    doc = json.loads(r.out)
    different, observed = EXPECTED[quirk]
    assert {c["id"] for c in doc["checks"] if c["result"] == "DIFFERENT"} == different
    assert {c["id"] for c in doc["checks"] if c["result"] == "UNKNOWN"} == set()
    write = next(c for c in doc["checks"] if c["id"] in different and c["id"].startswith("write"))
    assert write["observed"].startswith(observed), write
    code = scratch_of(emu)  # no other user was written
    after = state(emu)
    if quirk.startswith("user-delete"):
        left = [u for u in after["users"] if u["user"]["usercode"] == code]
        assert len(left) == 1
        assert left[0]["user"]["clientEnabled"] is False
        assert code in write["observed"]
        after["users"] = [u for u in after["users"] if u["user"]["usercode"] != code]
    assert after == before


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            "user",
            "the user object, without roles, categories, variables or restrictions: apply reads"
            " each written user back (one more request per write)",
        ),
        ("empty", "no body: apply reads each written user back (one more request per write)"),
    ],
)
def test_it_says_whether_apply_can_verify_from_the_sync_answer(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path, answer: str, said: str
) -> None:
    emu = emulator_factory(example_seed, "--sync-answer", answer)
    r = pisync(["doctor", "--write-check", "--yes", "--format", "json"], cwd=tmp_path, url=emu.url)
    assert r.code == 0, r.all
    check = next(c for c in json.loads(r.out)["checks"] if c["id"] == "sync-answer")
    assert (check["result"], check["observed"]) == ("OK", said)


def test_it_refuses_to_write_without_a_terminal_or_yes(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    emu.clear_requests()
    r = pisync(["doctor", "--write-check"], cwd=tmp_path, url=emu.url)
    assert r.code == 64, r.all
    assert r.err == (
        "Error: doctor --write-check writes to the server (it creates, changes and deletes one"
        " scratch user): run it in a terminal to be asked, or pass --yes\n"
    )
    assert emu.requests() == []


def test_it_asks_and_no_writes_nothing(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    emu.clear_requests()
    code, output = run_in_pty(
        ["doctor", "--write-check"], tmp_path, emu.url, b"n\r", b"Go on? [y/N]"
    )
    assert code == 1, output
    assert "The write check creates the scratch user PISYNC-DOCTOR-" in output
    assert output.rstrip().endswith("Write check cancelled; nothing was written.")
    assert emu.requests() == []


def test_an_account_that_may_not_create_users_is_told_so_and_nothing_is_left(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    before = state(emu)
    r = pisync(
        ["doctor", "--write-check", "--yes"],
        cwd=tmp_path,
        url=emu.url,
        env={"PISYNC_USERNAME": "dpatel", "PISYNC_PASSWORD": "dpatel-demo"},
    )
    assert r.code == 0, r.all  # nothing is DIFFERENT: the account cannot tell
    found = results(r.out)
    assert (found["account"], found["write-create"]) == ("OK", "UNKNOWN")
    lines = [line.strip() for line in r.out.splitlines()]
    at = lines.index(
        "OK       account [U12]: the account pisync signs in with is the super administrator,"
        " the only one that may create users through POST /users/sync"
    )
    assert lines[at + 1 : at + 3] == [
        "server: not the super administrator: it may update users but not create them",
        "to do:  plans that create users stop at a guard (create-needs-super-admin); sign in as"
        " the super administrator to create users",
    ]
    at = lines.index(
        "UNKNOWN  write-create [§3.1]: POST /users/sync creates a user from a payload of every"
        " shape pisync writes"
    )
    assert lines[at + 1] == "server: HTTP 403: this account may not create users"
    assert lines[at + 2].startswith(
        "detail: only the super admin can create users through POST /users/sync: DPATEL cannot"
        " create PISYNC-DOCTOR-"
    )
    assert lines[at + 3] == "to do:  run the write check signed in as the super administrator"
    assert state(emu) == before


def test_ctrl_c_during_the_write_check_still_removes_the_scratch_user(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    before = state(emu)
    emu.control("PUT", "faults", {"latency_ms": 300})
    emu.clear_requests()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PISYNC_")}
    env.update(PISYNC_USERNAME="admin", PISYNC_PASSWORD="dashboard", PISYNC_URL=emu.url)
    proc = subprocess.Popen(
        [PISYNC, "doctor", "--write-check", "--yes"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not [e for e in emu.requests() if e["path"] == SYNC] and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.decode() == "\nStopping: removing the scratch user first.\n"
    text = out.decode()
    assert results(text)["write-not-additive"] == "UNKNOWN", text
    assert text.splitlines()[-1].endswith(
        "Interrupted: the write check did not finish (the scratch user was removed)."
    )
    assert state(emu) == before
    assert len(deletes(emu)) == 1
