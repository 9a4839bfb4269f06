"""Safety guards: each blocks with its name, its numbers and the override."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reconciler.core.governance.guards import Account, check
from reconciler.core.model.config import Config, SafetyConfig
from reconciler.core.model.values import LiveRole, LiveState, LiveUser
from reconciler.core.plans.plan import Action, Change, FieldChange, Guard, Kind, Plan


def live_user(
    code: str,
    *,
    type_: str = "user",
    enabled: bool = True,
    sa: bool = False,
    privileges: tuple[str, ...] = (),
    roles: tuple[str, ...] = (),
) -> LiveUser:
    return LiveUser(
        usercode=code,
        id=code.lower(),
        record={"type": type_, "enabled": enabled, "privileges": privileges, "roles": roles},
        super_admin=sa,
    )


def state(*users: LiveUser, roles: tuple[LiveRole, ...] = ()) -> LiveState:
    return LiveState(
        users={u.usercode: u for u in users},
        roles={r.name.casefold(): r for r in roles},
        categories={},
    )


def change(key: str, action: Action, *fields: FieldChange, **desired: Any) -> Change:
    """A user change; its desired values are its fields' when not given (as a plan's are)."""
    values = desired or {f.path: f.after for f in fields}
    return Change(kind=Kind.USER, key=key, action=action, fields=fields, desired=values)


def role(name: str, *privileges: str) -> LiveRole:
    return LiveRole(
        name=name, id=name.lower(), fields={"categories": (), "privileges": tuple(privileges)}
    )


def role_change(name: str, **desired: Any) -> Change:
    return Change(kind=Kind.ROLE, key=name, action=Action.UPDATE, desired=desired)


ADMIN = live_user("ADMIN", type_="administrator", sa=True)
BOSS = live_user("BOSS", type_="administrator", privileges=("editUsers", "pdf"))
USERS = [live_user(f"U{i:02}") for i in range(20)]


def run(
    changes: list[Change],
    live: LiveState,
    *,
    config: Config | None = None,
    managed: int = 20,
    desired: int | None = 5,
    me: str | None = None,
) -> list[Guard]:
    plan = Plan(server="s", changes=tuple(changes), managed_live_users=managed)
    account = None if me is None else Account(usercode=me.upper(), source="PISYNC_USERNAME")
    return check(plan, live, config or Config(), desired_objects=desired, account=account)


def test_a_plan_without_risk_passes() -> None:
    assert run([change("U01", Action.UPDATE, email="x")], state(ADMIN, *USERS)) == []


def test_prune_count_and_percent() -> None:
    config = Config(safety=SafetyConfig(max_prune_count=2, max_prune_percent=10))
    changes = [change(f"U{i:02}", Action.DISABLE, enabled=False) for i in range(3)]
    assert run(changes, state(ADMIN, *USERS), config=config) == [
        Guard(
            name="max-prune-count",
            message="the plan disables or deletes 3 users, more than safety.max_prune_count (2)",
            numbers={"pruned": 3, "max_prune_count": 2},
        ),
        Guard(
            name="max-prune-percent",
            message=(
                "the plan disables or deletes 3 of 20 managed live users (15.0%), more than"
                " safety.max_prune_percent (10%)"
            ),
            numbers={"pruned": 3, "managed": 20, "percent": 15.0, "max_prune_percent": 10.0},
        ),
    ]


def test_percent_is_not_applied_below_min_users() -> None:
    config = Config(safety=SafetyConfig(max_prune_percent=10, min_users_for_percent=10))
    changes = [change("U01", Action.DELETE)]
    assert run(changes, state(ADMIN, *USERS[:5]), config=config, managed=5) == []


def test_empty_desired_state_against_a_non_empty_server() -> None:
    violations = run([change("U01", Action.DISABLE)], state(ADMIN, *USERS), desired=0)
    assert violations == [
        Guard(
            name="empty-desired-state",
            message=(
                "the desired state declares no users or roles, but the plan would disable or"
                " delete 1 object(s) on a non-empty server (wrong path or sources?)"
            ),
            numbers={"removed": 1, "declared": 0},
        )
    ]


def test_a_change_to_a_protected_user() -> None:
    config = Config(protected=("ADMIN", "BREAK_GLASS*"))
    changes = [change("BREAK_GLASS_1", Action.UPDATE, email="x")]
    assert run(changes, state(ADMIN, *USERS), config=config) == [
        Guard(
            name="protected-user",
            message="the plan changes protected user(s) BREAK_GLASS_1 (users.protected)",
            numbers={"users": 1},
        )
    ]


@pytest.mark.parametrize(
    "last",
    [
        change("BOSS", Action.DISABLE),
        change("BOSS", Action.DELETE),
        change(
            "BOSS",
            Action.UPDATE,
            FieldChange(path="type", before="administrator", after="user"),
            type="user",
        ),
        change(
            "BOSS",
            Action.UPDATE,
            FieldChange(path="enabled", before=True, after=False),
            enabled=False,
        ),
    ],
    ids=["disable", "delete", "demote", "enabled-false"],
)
def test_removing_the_last_administrator(last: Change) -> None:
    assert run([last], state(BOSS, *USERS)) == [
        Guard(
            name="last-administrator",
            message="after this plan no enabled administrator would remain",
            numbers={"administrators_after": 0},
        )
    ]


def test_another_administrator_remains() -> None:
    assert run([change("BOSS", Action.DISABLE)], state(ADMIN, BOSS, *USERS)) == []


@pytest.mark.parametrize(
    ("c", "message"),
    [
        (
            change("BOSS", Action.DELETE),
            "the plan would delete BOSS, the account pisync signs in with",
        ),
        (
            change(
                "BOSS",
                Action.UPDATE,
                FieldChange(path="privileges", before=["editUsers", "pdf"], after=["pdf"]),
            ),
            "the plan would remove the editUsers privilege from BOSS, the account pisync signs in"
            " with",
        ),
        (
            change(
                "BOSS", Action.UPDATE, FieldChange(path="login.password", before=True, after=False)
            ),
            "the plan would turn off password login for BOSS, the account pisync signs in with",
        ),
        (
            change(
                "BOSS",
                Action.UPDATE,
                FieldChange(path="type", before="administrator", after="designer"),
            ),
            "the plan would make BOSS a designer instead of an administrator, the account pisync"
            " signs in with",
        ),
    ],
    ids=["delete", "editUsers", "password", "demote"],
)
def test_locking_out_the_account_pisync_signs_in_with(c: Change, message: str) -> None:
    violations = run([c], state(ADMIN, BOSS, *USERS), me="boss")
    assert Guard(name="lockout", message=message) in violations


EDITOR = role("Editors", "editUsers")
VIA_ROLE = live_user("BOSS", type_="administrator", roles=("Editors",), privileges=("pdf",))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            [
                change(
                    "BOSS", Action.UPDATE, FieldChange(path="roles", before=["Editors"], after=[])
                )
            ],
            "the plan would remove the editUsers privilege from BOSS (held through role"
            ' "Editors"), the account pisync signs in with',
        ),
        (
            [role_change("Editors", privileges=["pdf"])],
            "the plan would remove the editUsers privilege from BOSS (held through role"
            ' "Editors"), the account pisync signs in with',
        ),
        (
            [Change(kind=Kind.ROLE, key="Editors", action=Action.DELETE)],
            "the plan would remove the editUsers privilege from BOSS (held through role"
            ' "Editors"), the account pisync signs in with',
        ),
        (
            [
                change(
                    "BOSS",
                    Action.UPDATE,
                    FieldChange(path="expires", before=None, after="2026-11-26"),
                )
            ],
            "the plan would make BOSS expire on 2026-11-26 (the plan is of 2026-11-26), the account"
            " pisync signs in with",
        ),
    ],
    ids=["role-removed", "privilege-leaves-role", "role-deleted", "expires"],
)
def test_the_lockout_guard_reads_effective_access(changes: list[Change], message: str) -> None:
    plan = Plan(server="s", changes=tuple(changes), managed_live_users=20)
    me = Account(usercode="BOSS", source="PISYNC_USERNAME")
    live = state(ADMIN, VIA_ROLE, *USERS, roles=(EDITOR,))
    guards = check(plan, live, Config(), desired_objects=5, account=me, today=dt.date(2026, 11, 26))
    assert guards == [Guard(name="lockout", message=message)]


def test_moving_edit_users_from_a_direct_grant_to_a_role_is_no_lockout() -> None:
    c = change(
        "BOSS",
        Action.UPDATE,
        FieldChange(path="privileges", before=["editUsers", "pdf"], after=["pdf"]),
        FieldChange(path="roles", before=[], after=["Editors"]),
    )
    plan = Plan(server="s", changes=(c,), managed_live_users=20)
    me = Account(usercode="BOSS", source="PISYNC_USERNAME")
    live = state(ADMIN, BOSS, *USERS, roles=(EDITOR,))
    assert check(plan, live, Config(), desired_objects=5, account=me) == []


def test_an_expiry_after_the_plan_date_is_no_lockout() -> None:
    c = change("BOSS", Action.UPDATE, FieldChange(path="expires", before=None, after="2026-11-27"))
    plan = Plan(server="s", changes=(c,), managed_live_users=20)
    me = Account(usercode="BOSS", source="PISYNC_USERNAME")
    live = state(ADMIN, BOSS, *USERS)
    assert (
        check(plan, live, Config(), desired_objects=5, account=me, today=dt.date(2026, 11, 26))
        == []
    )


def test_password_login_is_no_lockout_for_a_token_account() -> None:
    c = change("BOSS", Action.UPDATE, FieldChange(path="login.password", before=True, after=False))
    plan = Plan(server="s", changes=(c,), managed_live_users=20)
    token = Account(usercode="BOSS", source="PISYNC_ACCOUNT")
    assert check(plan, state(ADMIN, BOSS, *USERS), Config(), desired_objects=5, account=token) == []


def test_a_plan_without_changes_trips_no_guard() -> None:
    assert run([], state(*USERS), desired=0) == []


def test_guard_text_and_json() -> None:
    g = Guard(name="lockout", message="m", numbers={"n": 1})
    assert str(g) == "[lockout] m"
    assert g.to_dict() == {
        "name": "lockout",
        "message": "m",
        "numbers": {"n": 1},
        "override": "--force",
    }
    assert Guard.from_dict(g.to_dict()) == g
