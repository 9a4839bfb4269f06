"""Every safety guard (SPEC §5) through the real CLI and a real emulator: it blocks
``pisync apply`` (exit 4, the guard's name, its numbers and ``--force`` on stderr) before
any write, for a fresh plan and for a saved one; ``--force`` lets the plan through."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Emulator, Result, pisync, start_emulator

pytestmark = pytest.mark.e2e

TOKENS = "/pi/api/v2/tokens"
SYNC = "/pi/api/v2/users/sync"
BOSS_LOGIN = {"PISYNC_USERNAME": "boss", "PISYNC_PASSWORD": "boss-pw"}

# ADMIN (the super admin), BOSS (a plain user with editUsers who can sign in), U01..U08
SEED: dict[str, Any] = {
    "users": [
        {
            "user": {
                "usercode": "BOSS",
                "forenames": "Bo",
                "surname": "Ss",
                "email": "boss@example.com",
                "password": "boss-pw",
                "allowPasswordLogin": True,
                "editUsers": True,
            }
        },
        *(
            {"user": {"usercode": f"U{i:02d}", "forenames": "U", "surname": f"S{i}"}}
            for i in range(1, 9)
        ),
    ]
}


def declare(*codes: str, **changes: str) -> str:
    """YAML declaring live users as they are (``changes``: usercode -> extra YAML keys)."""
    surnames = {"BOSS": "Ss", **{f"U{i:02d}": f"S{i}" for i in range(1, 9)}}
    lines = ["users:"]
    for code in codes:
        extra = changes.get(code, "")
        if code == "ADMIN":
            lines.append(f"  - {{usercode: ADMIN{extra}}}")
        else:
            forenames = "Bo" if code == "BOSS" else "U"
            names = f"forenames: {forenames}, surname: {surnames[code]}"
            lines.append(f"  - {{usercode: {code}, {names}{extra}}}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    config: str
    desired: str
    violation: str
    env: dict[str, str] = field(default_factory=dict)
    synced: tuple[str, ...] = ()  # the users a forced apply writes
    forced_code: int = 0
    forced_out: str = ""  # the last line of a forced apply
    failure: str = ""  # a failure line the forced apply prints (the server's message)


PRUNE = "users: {prune: disable, protected: [ADMIN]}\n"
CASES = {
    "max-prune-count": Case(
        config=PRUNE
        + "safety: {max_prune_count: 2, max_prune_percent: 100, min_users_for_percent: 1000}\n",
        desired=declare("BOSS", "U01", "U02", "U03", "U04", "U05"),
        violation="[max-prune-count] the plan disables or deletes 3 users, more than"
        " safety.max_prune_count (2)",
        synced=("U06", "U07", "U08"),
        forced_out="Apply complete: 0 created, 0 updated, 3 disabled, 0 deleted, 0 failed.",
    ),
    "max-prune-percent": Case(
        config=PRUNE
        + "safety: {max_prune_count: 100, max_prune_percent: 25, min_users_for_percent: 5}\n",
        desired=declare("BOSS", "U01", "U02", "U03", "U04", "U05"),
        violation="[max-prune-percent] the plan disables or deletes 3 of 9 managed live users"
        " (33.3%), more than safety.max_prune_percent (25%)",
        synced=("U06", "U07", "U08"),
        forced_out="Apply complete: 0 created, 0 updated, 3 disabled, 0 deleted, 0 failed.",
    ),
    "empty-desired-state": Case(
        config=PRUNE
        + "safety: {max_prune_count: 100, max_prune_percent: 100, min_users_for_percent: 5}\n",
        desired="users: []\n",
        violation="[empty-desired-state] the desired state declares no users or roles, but the"
        " plan would disable or delete 9 object(s) on a non-empty server"
        " (wrong path or sources?)",
        synced=("BOSS", *(f"U{i:02d}" for i in range(1, 9))),
        forced_out="Apply complete: 0 created, 0 updated, 9 disabled, 0 deleted, 0 failed.",
    ),
    "protected-user": Case(
        config="users: {prune: 'off', protected: [ADMIN, BOSS]}\n",
        desired=declare("BOSS", "U01", BOSS=", email: boss@new.example"),
        violation="[protected-user] the plan changes protected user(s) BOSS (users.protected)",
        synced=("BOSS",),
        forced_out="Apply complete: 0 created, 1 updated, 0 disabled, 0 deleted, 0 failed.",
    ),
    "last-administrator": Case(
        # BOSS signs in, so lockout stays quiet; the server itself refuses a change to the
        # super admin from anyone else: --force gets the plan past the guard to the server
        config="users: {prune: 'off', protected: []}\n",
        desired=declare("ADMIN", "U01", ADMIN=", enabled: false"),
        violation="[last-administrator] after this plan no enabled administrator would remain",
        env=BOSS_LOGIN,
        forced_code=6,
        synced=("ADMIN",),
        forced_out="Apply complete: 0 created, 0 updated, 0 disabled, 0 deleted, 1 failed.",
        failure="  ! user ADMIN (update) failed: POST /users/sync: HTTP 403: only the super admin"
        " can change the super admin (ADMIN)",
    ),
    "lockout": Case(
        config="users: {prune: 'off', protected: []}\n",
        desired=declare("BOSS", "U01", BOSS=", enabled: false"),
        violation="[lockout] the plan would disable BOSS, the account pisync signs in with",
        env=BOSS_LOGIN,
        synced=("BOSS",),
        forced_out="Apply complete: 0 created, 1 updated, 0 disabled, 0 deleted, 0 failed.",
    ),
}


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_emulator(tmp_path_factory.mktemp("emulator"), None)
    yield emu
    emu.stop()


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    shared_emulator.control("POST", "reset", SEED)
    shared_emulator.clear_requests()
    return shared_emulator


def repo(root: Path, case: Case) -> Path:
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(f'sources: ["users/*.yaml"]\n{case.config}', "utf-8")
    (root / "users" / "desired.yaml").write_text(case.desired, encoding="utf-8")
    return root


def assert_forced(forced: Result, emu: Emulator, case: Case) -> None:
    assert forced.code == case.forced_code, forced.all
    lines = forced.out.splitlines()
    assert lines[-1] == case.forced_out
    if case.failure:
        assert lines[-2] == case.failure
    syncs = [e for e in emu.requests() if e["path"] == SYNC]
    assert sorted(c for e in syncs for c in e["usercodes"]) == sorted(case.synced)
    assert writes(emu) == [("POST", SYNC)] * len(case.synced)


def writes(emu: Emulator) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"])
        for e in emu.requests()
        if e["method"] in ("POST", "PUT", "DELETE", "PATCH") and e["path"] != TOKENS
    ]


def blocked_message(violation: str) -> str:
    return (
        "Error: apply refused by safety guard(s); nothing was changed:\n"
        f"  {violation}\nRe-run with --force if this is intended.\n"
    )


def apply(args: list[str], root: Path, emu: Emulator, case: Case) -> Result:
    return pisync(["apply", *args], cwd=root, url=emu.url, env=case.env)


@pytest.mark.parametrize("guard", list(CASES))
def test_guard_blocks_a_fresh_plan_and_force_passes_it(
    emu: Emulator, tmp_path: Path, guard: str
) -> None:
    case = CASES[guard]
    root = repo(tmp_path / "repo", case)

    blocked = apply(["--auto-approve"], root, emu, case)

    assert blocked.code == 4, blocked.all
    assert blocked.err == blocked_message(case.violation)
    assert blocked.out.startswith(f"pisync will perform these actions against {emu.url}:\n")
    assert writes(emu) == []

    forced = apply(["--auto-approve", "--force"], root, emu, case)

    assert_forced(forced, emu, case)


SAVED = [g for g in CASES if g != "empty-desired-state"]


@pytest.mark.parametrize("guard", SAVED)
def test_guard_blocks_a_saved_plan_and_force_passes_it(
    emu: Emulator, tmp_path: Path, guard: str
) -> None:
    case = CASES[guard]
    root = repo(tmp_path / "repo", case)
    planfile = str(tmp_path / "plan.json")
    planned = pisync(["plan", "--out", planfile], cwd=root, url=emu.url, env=case.env)
    assert planned.code == 4, planned.all  # the plan already says apply would refuse it

    blocked = apply([planfile], root, emu, case)

    assert (blocked.code, blocked.out) == (4, ""), blocked.all
    assert blocked.err == blocked_message(case.violation)
    assert writes(emu) == []

    forced = apply([planfile, "--force"], root, emu, case)

    assert_forced(forced, emu, case)


def test_empty_desired_state_guard_blocks_a_saved_plan(emu: Emulator, tmp_path: Path) -> None:
    case = CASES["empty-desired-state"]
    root = repo(tmp_path / "repo", case)
    planfile = str(tmp_path / "plan.json")
    assert pisync(["plan", "--out", planfile], cwd=root, url=emu.url).code == 4
    blocked = apply([planfile], root, emu, case)
    assert (blocked.code, blocked.err) == (4, blocked_message(case.violation)), blocked.all


def test_a_stale_saved_plan_is_refused_before_any_write(emu: Emulator, tmp_path: Path) -> None:
    emu.control(
        "POST",
        "reset",
        {
            "roles": [{"name": "R1", "description": "one", "categories": [], "privileges": []}],
            "users": SEED["users"],
        },
    )
    case = Case(
        config="users: {prune: 'off'}\n",
        desired="roles:\n"
        "  - {name: R1, description: first}\n"
        "  - {name: R2, description: second}\n"
        + declare("U01", "U02", U01=", email: u1@new.example", U02=", email: u2@new.example")
        + "  - {usercode: N01, forenames: New, surname: One}\n",
        violation="",
    )
    root = repo(tmp_path / "repo", case)
    planfile = str(tmp_path / "plan.json")
    assert pisync(["plan", "--out", planfile], cwd=root, url=emu.url).code == 0
    # meanwhile, in the UI: every kind of change a saved plan must notice
    r1 = next(r for r in emu.api("GET", "/roles")["content"] if r["name"] == "R1")
    emu.api("PUT", f"/roles/{r1['id']}", {"description": "edited"})
    emu.api("POST", "/roles", {"name": "R2"})
    emu.api(
        "POST", "/users/sync", [{"user": {"usercode": "N01", "forenames": "A", "surname": "B"}}]
    )
    u01 = emu.api("GET", "/users/syncPayload?usercode=U01")
    u01[0]["user"]["surname"] = "Edited"
    emu.api("POST", "/users/sync", u01)
    u02 = emu.api("GET", "/users?usercode(eq)=U02")["content"][0]
    emu.api("DELETE", f"/users/{u02['id']}")
    emu.clear_requests()

    stale = pisync(["apply", planfile], cwd=root, url=emu.url)

    assert (stale.code, stale.out) == (5, ""), stale.all
    assert stale.err == (
        "Error: the saved plan is stale; nothing was applied:\n"
        '  role "R1" changed on the server since the plan was made\n'
        '  role "R2" was created on the server since the plan was made\n'
        "  user N01 was created on the server since the plan was made\n"
        "  user U01 changed on the server since the plan was made\n"
        "  user U02 no longer exists on the server\n"
        "Run pisync plan again and review the new plan.\n"
    )
    assert writes(emu) == []
    # --force overrides guards, never staleness
    assert pisync(["apply", planfile, "--force"], cwd=root, url=emu.url).code == 5
    assert writes(emu) == []


# --- the plan says what apply would refuse (issue: guards are invisible until merge) ---------


@pytest.mark.parametrize("guard", list(CASES))
def test_plan_shows_every_guard_in_every_format_and_exits_4(
    emu: Emulator, tmp_path: Path, guard: str
) -> None:
    case = CASES[guard]
    root = repo(tmp_path / "repo", case)

    text = pisync(["plan"], cwd=root, url=emu.url, env=case.env)
    as_json = pisync(["plan", "--format", "json"], cwd=root, url=emu.url, env=case.env)
    markdown = pisync(["plan", "--format", "markdown"], cwd=root, url=emu.url, env=case.env)
    forced = pisync(["plan", "--force"], cwd=root, url=emu.url, env=case.env)

    assert [text.code, as_json.code, markdown.code, forced.code] == [4, 4, 4, 0], text.all
    lines = text.out.splitlines()
    heading = lines.index(
        "Blocked by safety guards (pisync apply refuses this plan; --force overrides):"
    )
    assert f"  ! {case.violation}" in lines[heading + 1 :]
    assert lines[-1].startswith("Plan: ")
    guards = json.loads(as_json.out)["guards"]
    assert f"[{guards[0]['name']}] {guards[0]['message']}" == case.violation
    assert {g["override"] for g in guards} == {"--force"}
    assert "> **Blocked by safety guards:** `pisync apply` refuses this plan unless" in markdown.out
    assert "Safety guards overridden by --force:" in forced.out
    assert writes(emu) == []


def test_lockout_guard_with_a_token_says_it_cannot_identify_the_account(
    emu: Emulator, tmp_path: Path
) -> None:
    case = CASES["lockout"]
    root = repo(tmp_path / "repo", case)
    token = boss_token(emu)
    env = {"PISYNC_TOKEN": token, "PISYNC_USERNAME": "", "PISYNC_PASSWORD": ""}

    unknown = pisync(["plan"], cwd=root, url=emu.url, env=env)
    named = pisync(["plan"], cwd=root, url=emu.url, env={**env, "PISYNC_ACCOUNT": "boss"})

    assert unknown.code == 0, unknown.all
    assert (
        "Note: the lockout guard could not identify the account pisync signs in with (only"
        " PISYNC_TOKEN is set, and the API cannot say whose token it is); set PISYNC_ACCOUNT"
        " to its usercode to check it"
    ) in unknown.out.splitlines()
    assert named.code == 4, named.all
    assert f"  ! {case.violation}" in named.out.splitlines()
    assert token not in unknown.all + named.all


def boss_token(emu: Emulator) -> str:
    req = urllib.request.Request(
        f"{emu.url}/tokens",
        data=b"{}",
        method="POST",
        headers={"Authorization": "Basic boss:boss-pw", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["token"])


# --- issue 19, item 7: the lockout guard reads effective access ------------------------------

EDITORS = {"name": "Editors", "description": "edit users", "categories": [], "privileges": []}
#: BOSS holds editUsers only through the role Editors
VIA_ROLE_SEED: dict[str, Any] = {
    "roles": [{**EDITORS, "privileges": ["editUsers"]}],
    "users": [
        {
            "user": {**SEED["users"][0]["user"], "editUsers": False},
            "userRoles": [{"roleIdentifier": "Editors"}],
        },
        *SEED["users"][1:],
    ],
}
EDITORS_YAML = "roles:\n  - {name: Editors, description: edit users, privileges: [editUsers]}\n"


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (
            EDITORS_YAML + declare("BOSS", BOSS=", roles: []"),
            "the plan would remove the editUsers privilege from BOSS (held through role"
            ' "Editors"), the account pisync signs in with',
        ),
        (
            "roles:\n  - {name: Editors, description: edit users, privileges: [pdf]}\n"
            + declare("BOSS", BOSS=", roles: [Editors]"),
            "the plan would remove the editUsers privilege from BOSS (held through role"
            ' "Editors"), the account pisync signs in with',
        ),
        (
            EDITORS_YAML + declare("BOSS", BOSS=", roles: [Editors], expires: 2026-11-20"),
            "the plan would make BOSS expire on 2026-11-20 (the plan is of 2026-11-26), the account"
            " pisync signs in with",
        ),
    ],
    ids=["role-removed", "privilege-leaves-the-role", "expired"],
)
def test_the_lockout_guard_reads_effective_access(
    emu: Emulator, tmp_path: Path, desired: str, message: str
) -> None:
    emu.control("POST", "reset", VIA_ROLE_SEED)
    emu.clear_requests()
    case = Case(config="users: {prune: 'off'}\n", desired=desired, violation="", env=BOSS_LOGIN)
    root = repo(tmp_path / "repo", case)
    planfile = str(tmp_path / "plan.json")

    planned = pisync(["plan", "--out", planfile], cwd=root, url=emu.url, env=BOSS_LOGIN)
    applied = apply(["--auto-approve"], root, emu, case)
    saved = apply([planfile], root, emu, case)

    assert planned.code == 4, planned.all
    assert f"  ! [lockout] {message}" in planned.out.splitlines()
    assert (applied.code, applied.err) == (4, blocked_message(f"[lockout] {message}"))
    assert (saved.code, saved.err) == (4, blocked_message(f"[lockout] {message}"))
    assert writes(emu) == []


def test_moving_edit_users_to_a_role_is_no_lockout(emu: Emulator, tmp_path: Path) -> None:
    emu.control("POST", "reset", {"roles": [VIA_ROLE_SEED["roles"][0]], "users": SEED["users"]})
    kept = "accessAccount, audit, clientExcludePasswordExpiry, editOwnPassword, logoutEnabled, pdf"
    case = Case(
        config="users: {prune: 'off'}\n",
        desired=EDITORS_YAML + declare("BOSS", BOSS=f", privileges: [{kept}], roles: [Editors]"),
        violation="",
        env=BOSS_LOGIN,
    )
    root = repo(tmp_path / "repo", case)

    planned = pisync(["plan"], cwd=root, url=emu.url, env=BOSS_LOGIN)
    applied = apply(["--auto-approve"], root, emu, case)
    again = pisync(["plan", "--detailed-exitcode"], cwd=root, url=emu.url, env=BOSS_LOGIN)

    assert planned.code == 0, planned.all
    assert "lockout" not in planned.all
    assert applied.code == 0, applied.all
    assert applied.out.splitlines()[-1] == (
        "Apply complete: 0 created, 1 updated, 0 disabled, 0 deleted, 0 failed."
    )
    # BOSS still signs in and may sync users: pisync is not locked out
    assert again.code == 0, again.all
    assert again.out.endswith("\nNo changes. Panintelligence matches the desired state.\n")
