"""Effective access in a plan: what each user can reach before and after, in whole values.

Plans come from ``diff()`` so the access summary is tested as reviewers get it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from reconciler.core.diff.changes import diff
from reconciler.core.governance.access import effective_access_changes
from reconciler.core.model.config import Config, RolePrune, UserPrune
from reconciler.core.model.values import (
    DesiredState,
    LiveRole,
    LiveState,
    LiveUser,
    RoleSpec,
    UserSpec,
)
from reconciler.core.plans.plan import AccessChange, Action, Change, Kind
from tests.core.builders import BASE_RECORD

URL = "https://pi.test/pi/api/v2"


def luser(code: str, **fields: Any) -> LiveUser:
    return LiveUser(usercode=code, id=f"id-{code}", record={**BASE_RECORD, **fields})


def spec(code: str, **fields: Any) -> UserSpec:
    return UserSpec(usercode=code, fields=fields)


def lrole(name: str, cats: Sequence[str] = (), privs: Sequence[str] = ()) -> LiveRole:
    return LiveRole(
        name=name,
        id=f"r-{name}",
        fields={"description": name, "categories": tuple(cats), "privileges": tuple(privs)},
    )


def state(users: Sequence[LiveUser], roles: Sequence[LiveRole] = ()) -> LiveState:
    return LiveState(
        users={u.usercode: u for u in users},
        roles={r.name.casefold(): r for r in roles},
        categories={},
    )


def access(
    users: Sequence[UserSpec],
    live: LiveState,
    roles: Sequence[RoleSpec] = (),
    config: Config | None = None,
) -> tuple[AccessChange, ...]:
    desired = DesiredState(users=tuple(users), roles=tuple(roles))
    return diff(desired, live, config or Config(), server=URL).access


EDITORS = lrole("Editors", cats=("Reports",), privs=("pdf", "editUsers"))
VIEWERS = lrole("Viewers", cats=("Dashboards", "Reports"), privs=("pdf",))


CASES: dict[str, tuple[tuple[AccessChange, ...], Any]] = {
    "direct category gained and lost": (
        (AccessChange(usercode="A", gained_categories=("HR",), lost_categories=("Sales",)),),
        lambda: access(
            [spec("A", categories=("HR", "Finance"))],
            state([luser("A", categories=("Finance", "Sales"))]),
        ),
    ),
    "direct privilege gained, not escalating": (
        (AccessChange(usercode="A", gained_privileges=("exportToCsv",)),),
        lambda: access(
            [spec("A", privileges=("pdf", "exportToCsv"))], state([luser("A", privileges=("pdf",))])
        ),
    ),
    "direct escalating privilege": (
        (AccessChange(usercode="A", gained_privileges=("editRoles",), escalation=True),),
        lambda: access([spec("A", privileges=("editRoles",))], state([luser("A")])),
    ),
    "a role brings its categories and privileges": (
        (
            AccessChange(
                usercode="A",
                gained_roles=("Editors",),
                gained_categories=("Reports",),
                gained_privileges=("editUsers", "pdf"),
                escalation=True,
                role_categories={"Editors": ("Reports",)},
            ),
        ),
        lambda: access([spec("A", roles=("editors",))], state([luser("A")], [EDITORS])),
    ),
    "what a user already had directly is not gained through a role": (
        (
            AccessChange(
                usercode="A",
                gained_roles=("Viewers",),
                gained_categories=("Dashboards",),
                role_categories={"Viewers": ("Dashboards", "Reports")},
            ),
        ),
        lambda: access(
            [spec("A", roles=("Viewers",))],
            state([luser("A", categories=("Reports",), privileges=("pdf",))], [VIEWERS]),
        ),
    ),
    "swapping roles": (
        (
            AccessChange(
                usercode="A",
                gained_roles=("Viewers",),
                lost_roles=("Editors",),
                gained_categories=("Dashboards",),
                lost_privileges=("editUsers",),
                role_categories={"Viewers": ("Dashboards", "Reports")},
            ),
        ),
        lambda: access(
            [spec("A", roles=("Viewers",))],
            state([luser("A", roles=("Editors",))], [EDITORS, VIEWERS]),
        ),
    ),
    "a role created in the same plan": (
        (
            AccessChange(
                usercode="A",
                gained_roles=("New",),
                gained_categories=("Fresh",),
                gained_privileges=("schedule",),
                role_categories={"New": ("Fresh",)},
            ),
        ),
        lambda: access(
            [spec("A", roles=("New",))],
            state([luser("A")]),
            [RoleSpec(name="New", fields={"categories": ("Fresh",), "privileges": ("schedule",)})],
        ),
    ),
    "a role's definition changing reaches holders that are not otherwise changed": (
        (
            AccessChange(usercode="HOLDER", gained_categories=("Finance",)),
            AccessChange(usercode="HOLDER2", gained_categories=("Finance",)),
        ),
        lambda: access(
            [],
            state(
                [
                    luser("HOLDER", roles=("Viewers",)),
                    luser("HOLDER2", roles=("viewers",)),  # case-insensitive
                    luser("HASIT", roles=("Viewers",), categories=("Finance",)),
                    luser("OTHER"),
                ],
                [VIEWERS],
            ),
            [RoleSpec(name="Viewers", fields={"categories": ("Dashboards", "Finance", "Reports")})],
        ),
    ),
    "a role gaining an escalating privilege flags its holders": (
        (AccessChange(usercode="HOLDER", gained_privileges=("editSql",), escalation=True),),
        lambda: access(
            [],
            state([luser("HOLDER", roles=("Viewers",))], [VIEWERS]),
            [RoleSpec(name="Viewers", fields={"privileges": ("pdf", "editSql")})],
        ),
    ),
    "type change to administrator is an escalation": (
        (AccessChange(usercode="A", type_change=("designer", "administrator"), escalation=True),),
        lambda: access([spec("A", type="administrator")], state([luser("A", type="designer")])),
    ),
    "type change down is not": (
        (AccessChange(usercode="A", type_change=("administrator", "user")),),
        lambda: access([spec("A", type="user")], state([luser("A", type="administrator")])),
    ),
    "created user: everything is gained": (
        (
            AccessChange(
                usercode="NEW",
                gained_roles=("Viewers",),
                gained_categories=("Dashboards", "Reports"),
                gained_privileges=("pdf",),
                type_change=(None, "designer"),
                role_categories={"Viewers": ("Dashboards", "Reports")},
            ),
        ),
        lambda: access(
            [spec("NEW", forenames="N", surname="N", type="designer", roles=("Viewers",))],
            state([], [VIEWERS]),
        ),
    ),
    "created administrator is an escalation": (
        (AccessChange(usercode="NEW", type_change=(None, "administrator"), escalation=True),),
        lambda: access([spec("NEW", type="administrator")], state([])),
    ),
    "disable (prune) loses everything": (
        (
            AccessChange(
                usercode="OLD",
                lost_roles=("Editors",),
                lost_categories=("Reports", "Sales"),
                lost_privileges=("editUsers", "pdf", "schedule"),
                type_change=("designer", None),
            ),
        ),
        lambda: access(
            [],
            state(
                [
                    luser(
                        "OLD",
                        type="designer",
                        roles=("Editors",),
                        categories=("Sales",),
                        privileges=("schedule",),
                    )
                ],
                [EDITORS],
            ),
            config=Config(users_prune=UserPrune.DISABLE),
        ),
    ),
    "disable (enabled: false) loses everything": (
        (
            AccessChange(
                usercode="A",
                lost_categories=("Sales",),
                type_change=("user", None),
            ),
        ),
        lambda: access([spec("A", enabled=False)], state([luser("A", categories=("Sales",))])),
    ),
    "delete loses everything": (
        (AccessChange(usercode="OLD", lost_privileges=("pdf",), type_change=("user", None)),),
        lambda: access(
            [],
            state([luser("OLD", privileges=("pdf",))]),
            config=Config(users_prune=UserPrune.DELETE),
        ),
    ),
    "re-enabling gains everything": (
        (AccessChange(usercode="A", gained_privileges=("pdf",), type_change=(None, "user")),),
        lambda: access(
            [spec("A", enabled=True)], state([luser("A", enabled=False, privileges=("pdf",))])
        ),
    ),
    "a disabled user staying disabled gains nothing": (
        (),
        lambda: access(
            [spec("A", enabled=False, privileges=("editUsers",))],
            state([luser("A", enabled=False)]),
        ),
    ),
    "changes that do not move access are not listed": (
        (),
        lambda: access(
            [spec("A", email="new@example.com", roles=("EDITORS",))],
            state([luser("A", roles=("Editors",))], [EDITORS]),
        ),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_access(name: str) -> None:
    expected, compute = CASES[name]
    assert compute() == expected


def test_a_held_role_is_not_pruned_so_nobody_loses_access() -> None:
    live = state([luser("HOLDER", roles=("Editors",), categories=("Sales",))], [EDITORS])
    assert access([], live, config=Config(roles_prune=RolePrune.DELETE)) == ()


def test_role_deletion_is_a_lost_role_for_holders() -> None:
    live = state([luser("HOLDER", roles=("Editors",), categories=("Sales",))], [EDITORS])
    deletion = Change(kind=Kind.ROLE, key="Editors", action=Action.DELETE, live_id="r1")
    assert effective_access_changes((deletion,), (), live) == (
        AccessChange(
            usercode="HOLDER",
            lost_roles=("Editors",),
            lost_categories=("Reports",),
            lost_privileges=("editUsers", "pdf"),
        ),
    )


def test_effective_access_changes_on_a_hand_made_plan() -> None:
    live = state([luser("A", roles=("Viewers",))], [VIEWERS])
    changes = (
        Change(
            kind=Kind.ROLE,
            key="Viewers",
            action=Action.UPDATE,
            desired={"privileges": ["pdf", "orgAdmin"]},
        ),
        Change(kind=Kind.USER, key="B", action=Action.CREATE, desired={"roles": ["viewers"]}),
    )
    assert effective_access_changes(changes, (), live) == (
        AccessChange(usercode="A", gained_privileges=("orgAdmin",), escalation=True),
        AccessChange(
            usercode="B",
            gained_roles=("Viewers",),
            gained_categories=("Dashboards", "Reports"),
            gained_privileges=("orgAdmin", "pdf"),
            escalation=True,
            role_categories={"Viewers": ("Dashboards", "Reports")},
        ),
    )


def test_access_round_trips() -> None:
    change = AccessChange(
        usercode="A",
        gained_roles=("R",),
        type_change=(None, "user"),
        escalation=True,
        role_categories={"R": ("X", "Y")},
    )
    record: Mapping[str, Any] = change.to_dict()
    assert AccessChange.from_dict(record) == change
