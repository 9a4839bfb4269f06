"""The server's own rules as guards: only the super administrator creates users, and the
``licence:`` caps counted on the whole server after the plan."""

from __future__ import annotations

from typing import Any

from reconciler.core.governance.guards import Account, check
from reconciler.core.governance.server_rules import account_to_read
from reconciler.core.model.config import Config
from reconciler.core.model.values import LiveState, LiveUser
from reconciler.core.plans.plan import Action, Change, Guard, Kind, Plan


def user(code: str, type_: str = "user", *, enabled: bool = True, lite: bool = False,
         sa: bool = False) -> LiveUser:  # fmt: skip
    record = {"type": type_, "enabled": enabled, "lite": lite}
    return LiveUser(usercode=code, id=code.lower(), record=record, super_admin=sa)


ADMIN = user("ADMIN", "administrator", sa=True)
EDITOR = user("EDITOR", "administrator")


def live(*users: LiveUser, complete: bool = True) -> LiveState:
    return LiveState(
        users={u.usercode: u for u in users}, roles={}, categories={}, complete=complete
    )


def create(code: str, **desired: Any) -> Change:
    return Change(kind=Kind.USER, key=code, action=Action.CREATE, desired=desired)


def update(code: str, **desired: Any) -> Change:
    return Change(kind=Kind.USER, key=code, action=Action.UPDATE, desired=desired)


def guards(
    changes: list[Change], state: LiveState, *, me: str = "ADMIN", **licence: int
) -> list[Guard]:
    plan = Plan(server="s", changes=tuple(changes))
    config = Config(licence=licence)
    account = Account(usercode=me, source="PISYNC_USERNAME")
    return check(plan, state, config, desired_objects=9, account=account)


def test_only_the_super_admin_may_create() -> None:
    assert guards([create("NEW")], live(ADMIN, EDITOR)) == []
    assert guards([update("EDITOR", surname="x")], live(ADMIN, EDITOR), me="EDITOR") == []
    assert guards([create("A"), create("B")], live(ADMIN, EDITOR), me="EDITOR") == [
        Guard(
            name="create-needs-super-admin",
            message=(
                "the plan creates 2 users, but EDITOR, the account pisync signs in with, is not"
                " the super administrator, the only account the server lets create users"
                " through its sync endpoint: apply this plan signed in as the super"
                " administrator (PISYNC_USERNAME and PISYNC_PASSWORD), or leave the new users"
                " out of it"
            ),
            numbers={"creates": 2},
        )
    ]


def test_an_account_not_read_is_not_guessed() -> None:
    assert guards([create("NEW")], live(ADMIN), me="SOMEONE") == []


def test_a_saved_plan_reads_the_account_only_when_it_creates() -> None:
    assert account_to_read(Plan(server="s", changes=(create("N"),)), "editor") == {"EDITOR"}
    assert account_to_read(Plan(server="s", changes=(update("N"),)), "editor") == set()
    assert account_to_read(Plan(server="s", changes=(create("N"),)), None) == set()


def test_the_licence_counts_enabled_users_per_kind_after_the_plan() -> None:
    state = live(
        ADMIN,
        EDITOR,
        user("D1", "designer"),
        user("OFF", "administrator", enabled=False),  # takes no place
        user("L1", "administrator", lite=True),  # lite, not an administrator
    )
    # a disabled administrator enabled again, a new one created: 4 > 2
    changes = [update("OFF", enabled=True), create("NEW", type="administrator")]
    (guard,) = guards(changes, state, administrators=2, lite=1, total=10)
    assert guard.name == "licence"
    assert guard.numbers == {"kind": "administrators", "after": 4, "now": 2, "cap": 2}
    assert guard.message == (
        "after this plan 4 administrators would be enabled, more than licence.administrators"
        " allows (2; 2 now): the server would refuse the writes that go over it; disable users"
        " of that kind first, or raise licence.administrators once the licence allows more"
    )


def test_freeing_a_place_in_the_same_plan_fits() -> None:
    state = live(ADMIN, EDITOR)
    changes = [
        Change(kind=Kind.USER, key="EDITOR", action=Action.DISABLE, desired={"enabled": False}),
        create("NEW", type="administrator"),
    ]
    assert guards(changes, state, administrators=2) == []


def test_a_server_already_over_a_lowered_cap_is_not_blocked_unless_the_plan_adds() -> None:
    state = live(ADMIN, EDITOR, user("A3", "administrator"))
    assert guards([update("A3", surname="x")], state, administrators=2) == []
    (guard,) = guards([create("N", type="designer")], state, total=3)
    assert guard.numbers == {"kind": "total", "after": 4, "now": 3, "cap": 3}


def test_a_new_user_without_a_type_counts_as_a_user_and_a_partial_read_is_not_counted() -> None:
    (guard,) = guards([create("N")], live(ADMIN), users=0)
    assert guard.numbers == {"kind": "users", "after": 1, "now": 0, "cap": 0}
    assert guards([create("N")], live(ADMIN, complete=False), users=0) == []
