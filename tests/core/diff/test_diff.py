"""diff(desired, live): every rule of diff/changes.py's docstring and SPEC §2.1, on whole values.

Each table row is one rule: the states in, the whole tuple of changes out. Two properties
close the loop: a state diffed against itself is empty, and applying a plan's ``desired``
values to the live state gives a state whose diff is empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.desired.build import with_idp_login
from reconciler.core.diff.changes import diff, user_differ
from reconciler.core.diff.proof import unproven
from reconciler.core.diff.scope import Scope
from reconciler.core.model.config import Config, RolePrune, UserPrune
from reconciler.core.model.digest import fingerprint
from reconciler.core.model.values import (
    USER_FIELDS,
    Category,
    DesiredState,
    LiveRole,
    LiveState,
    LiveUser,
    Restriction,
    RoleSpec,
    ServerCopy,
    SourcePos,
    UserSpec,
    Variable,
    canonical_json,
)
from reconciler.core.plans.integrity import disagreements
from reconciler.core.plans.plan import (
    SENSITIVE,
    AccessChange,
    Action,
    Change,
    Expiry,
    FieldChange,
    Guard,
    Kind,
    Plan,
)
from tests.core.builders import BASE_RECORD, rec

#: the guard every plan trips on a server without an enabled administrator (as these are)
LAST_ADMIN = Guard(
    name="last-administrator",
    message="after this plan no enabled administrator would remain",
    numbers={"administrators_after": 0},
)
URL = "https://pi.test/pi/api/v2"
POS = SourcePos(file="users/a.yaml", line=2, col=5)

# --- builders ------------------------------------------------------------------------------


def luser(
    code: str,
    extra: Mapping[str, Any] | None = None,
    *,
    super_admin: bool = False,
    payload: Mapping[str, Any] | None = None,
    **fields: Any,
) -> LiveUser:
    return LiveUser(
        usercode=code,
        id=f"id-{code}",
        record=rec(extra, **fields),
        server_copy=None if payload is None else ServerCopy(canonical_json(payload)),
        super_admin=super_admin,
    )


def spec(
    code: str,
    extra: Mapping[str, Any] | None = None,
    *,
    ignore: bool = False,
    **fields: Any,
) -> UserSpec:
    return UserSpec(usercode=code, fields={**(extra or {}), **fields}, source=POS, ignore=ignore)


def rspec(name: str, **fields: Any) -> RoleSpec:
    return RoleSpec(name=name, fields=fields, source=POS)


def lrole(name: str, **fields: Any) -> LiveRole:
    return LiveRole(name=name, id=f"role-{name}", fields=fields)


def state(
    users: Sequence[LiveUser] = (),
    roles: Sequence[LiveRole] = (),
    cats: Sequence[Category] = (),
) -> LiveState:
    return LiveState(
        users={u.usercode: u for u in users},
        roles={r.name.casefold(): r for r in roles},
        categories={c.name.casefold(): c for c in cats},
    )


def fp(user: LiveUser) -> str:
    return fingerprint(user.server_copy if user.server_copy is not None else dict(user.record))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def update(user: LiveUser, desired: Mapping[str, Any], *fields: FieldChange) -> Change:
    return Change(
        kind=Kind.USER,
        key=user.usercode,
        action=Action.UPDATE,
        fields=fields,
        desired=desired,
        fingerprint=fp(user),
        live_id=user.id,
        source=POS,
    )


def fc(path: str, before: Any, after: Any, *, sensitive: bool = False) -> FieldChange:
    return FieldChange(path=path, before=before, after=after, sensitive=sensitive)


@dataclass(frozen=True)
class Case:
    desired: DesiredState
    live: LiveState
    expected: tuple[Change, ...]
    config: Config = field(default_factory=Config)
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def run(case: Case) -> Plan:
    return diff(case.desired, case.live, case.config, server=URL, **case.kwargs)


# --- the table -------------------------------------------------------------------------------

JS = luser(
    "JSMITH",
    forenames="John",
    email="j@example.com",
    roles=("Finance Viewer",),
    categories=("Budgets", "Finance"),
    privileges=("pdf", "schedule"),
)
TREE = (
    Category(name="Finance", id="1"),
    Category(name="Budgets", id="2", parent_id="1"),
    Category(name="Q1", id="3", parent_id="2"),
    Category(name="Sales", id="4"),
)

CASES: dict[str, Case] = {
    # a key you write is managed ...
    "written key is managed": Case(
        DesiredState(users=(spec("JSMITH", email="john@example.com"),)),
        state([JS]),
        (
            update(
                JS, {"email": "john@example.com"}, fc("email", "j@example.com", "john@example.com")
            ),
        ),
    ),
    # ... a key you omit keeps its live value
    "omitted keys are not compared": Case(
        DesiredState(users=(spec("JSMITH", forenames="John"),)),
        state([luser("JSMITH", forenames="John", surname="Other", email="x@y", lite=True)]),
        (),
    ),
    "every written key that differs, in USER_FIELDS order": Case(
        DesiredState(
            users=(
                spec(
                    "JSMITH",
                    {"login.mfa": True},
                    categories=("Budgets", "Finance"),
                    enabled=False,
                    forenames="Johnny",
                    expires="2027-01-31",
                ),
            )
        ),
        state([JS]),
        (
            update(
                JS,
                # only what changes is written: the categories already match
                {
                    "login.mfa": True,
                    "enabled": False,
                    "forenames": "Johnny",
                    "expires": "2027-01-31",
                },
                fc("forenames", "John", "Johnny"),
                fc("enabled", True, False),
                fc("expires", None, "2027-01-31"),
                fc("login.mfa", False, True),
            ),
        ),
    ),
    "[] is authoritative": Case(
        DesiredState(users=(spec("JSMITH", roles=(), privileges=()),)),
        state([JS]),
        (
            update(
                JS,
                {"roles": [], "privileges": []},
                fc("privileges", ["pdf", "schedule"], []),
                fc("roles", ["Finance Viewer"], []),
            ),
        ),
    ),
    "set order is irrelevant": Case(
        DesiredState(
            users=(
                spec(
                    "JSMITH",
                    privileges=("schedule", "pdf"),
                    categories=("Finance", "Budgets"),
                    variables=(Variable(name="b", value="2"), Variable(name="a", value="1")),
                ),
            )
        ),
        state(
            [
                luser(
                    "JSMITH",
                    privileges=("pdf", "schedule"),
                    categories=("Budgets", "Finance"),
                    variables=(Variable(name="a", value="1"), Variable(name="b", value="2")),
                )
            ]
        ),
        (),
    ),
    "role names and categories compare case-insensitively": Case(
        DesiredState(
            users=(spec("JSMITH", roles=("FINANCE viewer",), categories=("budgets", "FINANCE")),)
        ),
        state([JS]),
        (),
    ),
    "privileges compare case-sensitively": Case(
        DesiredState(users=(spec("JSMITH", privileges=("PDF", "schedule")),)),
        state([JS]),
        (
            update(
                JS,
                {"privileges": ["PDF", "schedule"]},
                fc("privileges", ["pdf", "schedule"], ["PDF", "schedule"]),
            ),
        ),
    ),
    "ancestors of a listed category are added: equal to a live state that has them": Case(
        DesiredState(users=(spec("JSMITH", categories=("Q1",)),)),
        state([luser("JSMITH", categories=("Budgets", "Finance", "Q1"))], cats=TREE),
        (),
    ),
    "ancestors of a listed category are added: shown when missing live": Case(
        DesiredState(users=(spec("JSMITH", categories=("q1", "Sales")),)),
        state([JSQ := luser("JSMITH", categories=("Q1",))], cats=TREE),
        (
            update(
                JSQ,
                {"categories": ["Budgets", "Finance", "q1", "Sales"]},
                fc("categories", ["Q1"], ["Budgets", "Finance", "q1", "Sales"]),
            ),
        ),
    ),
    "read-only fields are never diffed": Case(
        DesiredState(
            users=(
                spec(
                    "JSMITH",
                    superAdmin=True,
                    readableUserCode="js",
                    passwordExpired=True,
                    id="999",
                    email="j@example.com",
                ),
            )
        ),
        state(
            [
                luser(
                    "JSMITH",
                    {"superAdmin": False, "readableUserCode": "JSMITH", "passwordExpired": False},
                    email="j@example.com",
                    payload={"user": {"id": 1, "superAdmin": False}},
                )
            ]
        ),
        (),
    ),
    "ignore: true leaves a declared user alone": Case(
        DesiredState(users=(spec("JSMITH", email="other@example.com", ignore=True),)),
        state([JS]),
        (),
        config=Config(users_prune=UserPrune.DELETE),
    ),
    "users.ignore globs: neither planned nor pruned": Case(
        DesiredState(users=(spec("SVC_A", email="new@example.com"),)),
        state([luser("SVC_A"), luser("SVC_B")]),
        (),
        config=Config(users_prune=UserPrune.DELETE, ignore=("svc_*",)),
    ),
    "protected undeclared users are never pruned": Case(
        DesiredState(),
        state([luser("ADMIN"), luser("BREAKGLASS1")]),
        (),
        config=Config(users_prune=UserPrune.DELETE, protected=("ADMIN", "BREAKGLASS*")),
    ),
    "the super admin is never pruned": Case(
        DesiredState(),
        state([luser("ROOT", super_admin=True)]),
        (),
        config=Config(users_prune=UserPrune.DELETE, protected=()),
    ),
    "prune off: undeclared users stay": Case(
        DesiredState(),
        state([luser("OLD")]),
        (),
    ),
    "prune disable: enabled users are disabled, disabled ones skipped": Case(
        DesiredState(),
        state([OLD := luser("OLD"), luser("OFF", enabled=False)]),
        (
            Change(
                kind=Kind.USER,
                key="OLD",
                action=Action.DISABLE,
                fields=(fc("enabled", True, False),),
                desired={"enabled": False},
                fingerprint=fp(OLD),
                live_id="id-OLD",
            ),
        ),
        config=Config(users_prune=UserPrune.DISABLE),
    ),
    "prune delete: every undeclared managed user, disabled or not": Case(
        DesiredState(),
        state([OLD, OFF := luser("OFF", enabled=False)]),
        (
            Change(
                kind=Kind.USER,
                key="OFF",
                action=Action.DELETE,
                fingerprint=fp(OFF),
                live_id="id-OFF",
            ),
            Change(
                kind=Kind.USER,
                key="OLD",
                action=Action.DELETE,
                fingerprint=fp(OLD),
                live_id="id-OLD",
            ),
        ),
        config=Config(users_prune=UserPrune.DELETE),
    ),
    "roles prune: undeclared, unreferenced roles deleted": Case(
        DesiredState(users=(spec("JSMITH", roles=("kept",)),), roles=(rspec("Declared"),)),
        state(
            [luser("JSMITH", roles=("Kept",))],
            roles=[lrole("Declared"), lrole("Kept"), lrole("Unused", description="x")],
        ),
        (
            Change(
                kind=Kind.ROLE,
                key="Unused",
                action=Action.DELETE,
                fingerprint=fingerprint({"description": "x"}),
                live_id="role-Unused",
            ),
        ),
        config=Config(roles_prune=RolePrune.DELETE),
    ),
    "roles prune off: nothing deleted": Case(
        DesiredState(),
        state(roles=[lrole("Unused")]),
        (),
    ),
    "create uses defaults for omitted keys only": Case(
        DesiredState(users=(spec("NEW", forenames="N", surname="U", type="designer"),)),
        state(),
        (
            Change(
                kind=Kind.USER,
                key="NEW",
                action=Action.CREATE,
                fields=(
                    fc("forenames", None, "N"),
                    fc("surname", None, "U"),
                    fc("type", None, "designer"),
                    fc("login.external", None, True),
                ),
                desired={
                    "login.external": True,
                    "type": "designer",
                    "forenames": "N",
                    "surname": "U",
                },
                source=POS,
            ),
        ),
        kwargs={"defaults": {"type": "user", "login.external": True}},
    ),
    "defaults never touch an existing user": Case(
        DesiredState(users=(spec("JSMITH", email="j@example.com"),)),
        state([JS]),
        (),
        kwargs={"defaults": {"type": "administrator", "theme": "Dark"}},
    ),
    "role create and update, role fields in ROLE_FIELDS order, categories as written": Case(
        DesiredState(
            roles=(
                rspec(
                    "Finance Viewer", description="Read", categories=("Q1",), privileges=("pdf",)
                ),
                rspec("ops", description="Operations", privileges=("schedule", "pdf")),
                rspec("Same", description="Same"),
            )
        ),
        state(
            roles=[
                lrole("Ops", description="Ops", categories=(), privileges=("pdf", "schedule")),
                lrole("Same", description="Same", categories=("X",)),
            ],
            cats=TREE,
        ),
        (
            Change(
                kind=Kind.ROLE,
                key="Finance Viewer",
                action=Action.CREATE,
                fields=(
                    fc("description", None, "Read"),
                    fc("categories", None, ["Q1"]),
                    fc("privileges", None, ["pdf"]),
                ),
                desired={
                    "description": "Read",
                    "categories": ["Q1"],
                    "privileges": ["pdf"],
                },
                source=POS,
            ),
            Change(
                kind=Kind.ROLE,
                key="Ops",
                action=Action.UPDATE,
                fields=(fc("description", "Ops", "Operations"),),
                desired={"description": "Operations"},
                fingerprint=fingerprint(
                    {"description": "Ops", "categories": (), "privileges": ("pdf", "schedule")}
                ),
                live_id="role-Ops",
                source=POS,
            ),
        ),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_rule(name: str) -> None:
    case = CASES[name]
    assert run(case).changes == case.expected


# --- secrets ---------------------------------------------------------------------------------

DB = Variable(name="dbPassword", env="DB_PW", secure=True)


def test_secret_equal_by_digest_is_no_change() -> None:
    live = state(
        [luser("A", variables=(Variable(name="dbPassword", secure=True, digest=sha("s3cret")),))]
    )
    plan = diff(
        DesiredState(users=(spec("A", variables=(DB,)),)),
        live,
        Config(),
        server=URL,
        secrets={"DB_PW": "s3cret"},
    )
    assert plan == Plan(server=URL, managed_live_users=1, desired_objects=1)


#: How a plan shows (and apply reads) the secret DB: the environment variable, never a value.
DB_REF = {"env": "DB_PW", "secure": True}


def test_changed_secret_is_one_sensitive_field_and_never_a_value() -> None:
    user = luser("A", variables=(Variable(name="dbPassword", secure=True, digest=sha("old-pw")),))
    plan = diff(
        DesiredState(users=(spec("A", variables=(DB,)),)),
        state([user]),
        Config(),
        server=URL,
        secrets={"DB_PW": "new-pw"},
    )
    assert plan == Plan(
        server=URL,
        changes=(
            update(
                user,
                {"variables": {"dbPassword": {"env": "DB_PW", "secure": True}}},
                fc("variables.dbPassword", SENSITIVE, DB_REF, sensitive=True),
            ),
        ),
        guards=(LAST_ADMIN,),
        managed_live_users=1,
        desired_objects=1,
    )
    dumped = json.dumps(plan.to_dict())
    for leak in ("new-pw", "old-pw", sha("new-pw"), sha("old-pw")):
        assert leak not in repr(plan)
        assert leak not in dumped


def test_added_and_removed_secrets() -> None:
    user = luser("A", variables=(Variable(name="old", secure=True, digest=sha("gone")),))
    plan = diff(
        DesiredState(users=(spec("A", variables=(DB,)),)),
        state([user]),
        Config(),
        server=URL,
        secrets={"DB_PW": "pw"},
    )
    assert plan.changes == (
        update(
            user,
            {"variables": {"dbPassword": {"env": "DB_PW", "secure": True}, "old": None}},
            fc("variables.dbPassword", None, DB_REF, sensitive=True),
            fc("variables.old", SENSITIVE, None, sensitive=True),
        ),
    )


def test_clear_variables_change_per_name() -> None:
    user = luser(
        "A",
        variables=(Variable(name="region", value="North"), Variable(name="gone", value="x")),
    )
    plan = diff(
        DesiredState(
            users=(
                spec(
                    "A",
                    variables=(
                        Variable(name="region", value="South"),
                        Variable(name="new", value="y"),
                    ),
                ),
            )
        ),
        state([user]),
        Config(),
        server=URL,
    )
    assert plan.changes == (
        update(
            user,
            # only the variables that change: None removes one
            {"variables": {"gone": None, "new": "y", "region": "South"}},
            fc("variables.gone", "x", None),
            fc("variables.new", None, "y"),
            fc("variables.region", "North", "South"),
        ),
    )


def test_env_variable_replacing_a_clear_live_value_hides_both_sides() -> None:
    # `{env: TOKEN}` without `secure` is applied as a clear server variable; when the secret
    # rotates, the live value IS the previous secret and must not be printed or saved.
    user = luser("A", variables=(Variable(name="token", value="old-secret"),))
    plan = diff(
        DesiredState(users=(spec("A", variables=(Variable(name="token", env="TOKEN"),)),)),
        state([user]),
        Config(),
        server=URL,
        secrets={"TOKEN": "new-secret"},
    )
    assert plan.changes == (
        update(
            user,
            {"variables": {"token": {"env": "TOKEN", "secure": False}}},
            fc("variables.token", SENSITIVE, {"env": "TOKEN", "secure": False}, sensitive=True),
        ),
    )
    assert "old-secret" not in json.dumps(plan.to_dict())


# --- prune and roles ----------------------------------------------------------------------------


def test_declared_protected_user_is_planned_and_left_to_the_guard() -> None:
    admin = luser("ADMIN", email="a@example.com")
    plan = diff(
        DesiredState(users=(spec("ADMIN", email="b@example.com"),)),
        state([admin]),
        Config(users_prune=UserPrune.DELETE),
        server=URL,
    )
    assert plan == Plan(
        server=URL,
        changes=(
            update(
                admin, {"email": "b@example.com"}, fc("email", "a@example.com", "b@example.com")
            ),
        ),
        guards=(
            Guard(
                name="protected-user",
                message="the plan changes protected user(s) ADMIN (users.protected)",
                numbers={"users": 1},
            ),
            LAST_ADMIN,
        ),
        managed_live_users=0,
        desired_objects=1,
    )


def test_declared_user_matching_ignore_glob_warns() -> None:
    plan = diff(
        DesiredState(users=(spec("SVC_A", email="x"),)),
        state([luser("SVC_A")]),
        Config(ignore=("SVC_*",)),
        server=URL,
    )
    assert plan == Plan(
        server=URL,
        warnings=("user SVC_A is declared but matches users.ignore; it is left alone",),
        desired_objects=1,
    )


def test_login_via_idp_users_show_no_login_change_after_an_idp_sign_in() -> None:
    config = Config(login_via_idp=("SSO_*",))
    written = DesiredState(users=(spec("SSO_AMY", {"login.password": True}, forenames="Amy"),))
    desired = with_idp_login(written, config)
    # the IdP sign-in set password false / external true: nothing to change back
    signed_in = luser("SSO_AMY", {"login.password": False, "login.external": True}, forenames="Amy")
    assert run(Case(desired, state([signed_in]), (), config)).changes == ()
    # not signed in through the IdP yet: the plan sets what the sign-in would
    local = luser("SSO_AMY", {"login.password": True, "login.external": False}, forenames="Amy")
    assert run(Case(desired, state([local]), (), config)).changes == (
        update(
            local,
            {"login.password": False, "login.external": True},
            fc("login.password", True, False),
            fc("login.external", False, True),
        ),
    )
    # without the switch, the written flag flaps against every IdP sign-in
    assert run(Case(written, state([signed_in]), ())).changes == (
        update(
            signed_in,
            {"login.password": True},
            fc("login.password", False, True),
        ),
    )


def test_managed_live_users_counts_the_prune_scope() -> None:
    live = state(
        [luser("ADMIN"), luser("ROOT", super_admin=True), luser("SVC_X"), luser("A"), luser("B")]
    )
    plan = diff(DesiredState(), live, Config(ignore=("SVC_*",)), server=URL)
    assert plan.managed_live_users == 2


def test_roles_prune_keeps_a_role_a_declared_user_still_holds() -> None:
    plan = diff(
        DesiredState(users=(spec("JSMITH", email="j@example.com"),)),
        state([luser("JSMITH", email="j@example.com", roles=("Held",))], roles=[lrole("Held")]),
        Config(roles_prune=RolePrune.DELETE),
        server=URL,
    )
    assert plan.changes == ()
    assert plan.warnings == (
        'role "Held" is not declared but is still held by users, so roles.prune keeps it;'
        " declare it, or remove it from those users first",
    )


# --- targets -------------------------------------------------------------------------------------


def test_targets_limit_users_and_keep_the_roles_they_need() -> None:
    js = luser("JSMITH", email="j@example.com")
    plan = diff(
        DesiredState(
            users=(
                spec("JSMITH", email="john@example.com", roles=("Needed",)),
                spec("OTHER", forenames="O", surname="T"),
            ),
            roles=(rspec("Needed"), rspec("Unneeded")),
        ),
        state([js, luser("GONE")], roles=[lrole("Stale")]),
        Config(users_prune=UserPrune.DELETE, roles_prune=RolePrune.DELETE),
        server=URL,
        scope=Scope(targets=frozenset({"JSMITH"})),
    )
    assert plan == Plan(
        server=URL,
        targets=("JSMITH",),
        changes=(
            Change(kind=Kind.ROLE, key="Needed", action=Action.CREATE, source=POS),
            update(
                js,
                {"email": "john@example.com", "roles": ["Needed"]},
                fc("email", "j@example.com", "john@example.com"),
                fc("roles", [], ["Needed"]),
            ),
        ),
        access=(
            AccessChange(
                usercode="JSMITH", gained_roles=("Needed",), role_categories={"Needed": ()}
            ),
        ),
        guards=(LAST_ADMIN,),
        managed_live_users=2,
        desired_objects=4,
    )


def test_target_can_select_a_prune() -> None:
    gone = luser("GONE")
    plan = diff(
        DesiredState(),
        state([gone, luser("KEEP")]),
        Config(users_prune=UserPrune.DELETE),
        server=URL,
        scope=Scope(targets=frozenset({"GONE"})),
    )
    assert plan.changes == (
        Change(
            kind=Kind.USER,
            key="GONE",
            action=Action.DELETE,
            fingerprint=fp(gone),
            live_id="id-GONE",
        ),
    )


# --- order, counts, fingerprints ---------------------------------------------------------------


def test_change_order_roles_users_parents_prunes_role_deletes() -> None:
    plan = diff(
        DesiredState(
            users=(
                spec("A_CHILD", forenames="c", surname="c", parent="z_parent"),
                spec("Z_PARENT", forenames="p", surname="p"),
                spec("M_EXISTING", email="new@example.com"),
            ),
            roles=(rspec("Zeta", description="new"), rspec("alpha", description="changed")),
        ),
        state(
            [luser("M_EXISTING"), luser("B_OLD"), luser("Y_OLD")],
            roles=[lrole("Alpha", description="old"), lrole("Obsolete")],
        ),
        Config(users_prune=UserPrune.DISABLE, roles_prune=RolePrune.DELETE),
        server=URL,
    )
    assert [(c.kind, c.action, c.key) for c in plan.changes] == [
        (Kind.ROLE, Action.UPDATE, "Alpha"),
        (Kind.ROLE, Action.CREATE, "Zeta"),
        (Kind.USER, Action.UPDATE, "M_EXISTING"),
        (Kind.USER, Action.CREATE, "Z_PARENT"),
        (Kind.USER, Action.CREATE, "A_CHILD"),
        (Kind.USER, Action.DISABLE, "B_OLD"),
        (Kind.USER, Action.DISABLE, "Y_OLD"),
        (Kind.ROLE, Action.DELETE, "Obsolete"),
    ]
    assert plan.counts.create == 3
    assert (plan.counts.update, plan.counts.disable, plan.counts.delete) == (2, 2, 1)


def test_fingerprint_is_stable_and_tracks_the_live_object() -> None:
    desired = DesiredState(users=(spec("A", email="new@example.com"),))
    payload = {"user": {"usercode": "A", "id": 7, "theme": "Blue"}}
    first = diff(desired, state([luser("A", payload=payload)]), Config(), server=URL)
    again = diff(desired, state([luser("A", payload=dict(payload))]), Config(), server=URL)
    assert first.changes[0].fingerprint == again.changes[0].fingerprint
    assert first.changes[0].fingerprint is not None
    assert first.changes[0].fingerprint.startswith("sha256:")
    # a change the plan does not touch (an unmanaged field) still changes the fingerprint
    moved = {"user": {"usercode": "A", "id": 7, "theme": "Red"}}
    other = diff(desired, state([luser("A", payload=moved)]), Config(), server=URL)
    assert other.changes[0].fingerprint != first.changes[0].fingerprint


def test_plan_round_trips_through_json() -> None:
    plan = run(
        CASES["role create and update, role fields in ROLE_FIELDS order, categories as written"]
    )
    plan2 = diff(
        DesiredState(
            users=(
                spec(
                    "A",
                    variables=(DB,),
                    restrictions=(Restriction(connection="c", column="k", values=("v",)),),
                ),
            )
        ),
        state([luser("A")]),
        Config(),
        server=URL,
        secrets={"DB_PW": "x"},
    )
    for p in (plan, plan2):
        assert Plan.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_identical_inputs_give_identical_plans_whatever_the_declaration_order() -> None:
    users = (spec("B", email="b"), spec("A", email="a"), spec("C", forenames="c", surname="c"))
    live = state([luser("A"), luser("B")])
    forward = diff(DesiredState(users=users), live, Config(), server=URL)
    backward = diff(DesiredState(users=users[::-1]), live, Config(), server=URL)
    assert forward == backward


# --- expiring --------------------------------------------------------------------------------


def test_expiring_uses_desired_expiry_and_skips_out_of_scope_users() -> None:
    today = dt.date(2026, 1, 10)
    live = state(
        [
            luser("SOON", expires="2026-01-12"),
            luser("CHANGED", expires="2026-01-12"),
            luser("LAPSED", expires="2025-12-31"),
            luser("LAPSED_OFF", expires="2025-12-31", enabled=False),
            luser("ADMIN", expires="2026-01-11"),
            luser("LATER", expires="2026-03-01"),
        ]
    )
    plan = diff(
        DesiredState(
            users=(
                spec("CHANGED", expires="2027-01-01"),
                spec("NEW", forenames="n", surname="n", expires="2026-01-20"),
            )
        ),
        live,
        Config(),
        server=URL,
        today=today,
    )
    assert plan.expiring == (
        Expiry(usercode="LAPSED", expires="2025-12-31", days=-10, enabled=True),
        Expiry(usercode="NEW", expires="2026-01-20", days=10, enabled=True),
        Expiry(usercode="SOON", expires="2026-01-12", days=2, enabled=True),
    )


def test_no_today_no_expiring() -> None:
    plan = diff(DesiredState(), state([luser("SOON", expires="2000-01-01")]), Config(), server=URL)
    assert plan.expiring == ()


# --- properties --------------------------------------------------------------------------------

_NAME = st.text(alphabet="abcdefgXYZ _-", min_size=1, max_size=6).filter(lambda s: s.strip() == s)
_PRIVS = ("pdf", "schedule", "exportToCsv", "editUsers", "audit")
_TYPES = ("administrator", "designer", "chart-explorer", "user", "chart-viewer")


@dataclass(frozen=True)
class World:
    """A live state the server could hold, with the secrets behind its secure variables."""

    live: LiveState
    secrets: Mapping[str, str]
    env_of: Mapping[tuple[str, str], str]  # (usercode, variable) -> env name of a secret


def _ancestor_closed(names: frozenset[str], cats: Sequence[Category]) -> tuple[str, ...]:
    by_id = {c.id: c for c in cats}
    by_name = {c.name: c for c in cats}
    out = set(names)
    for name in names:
        parent = by_id.get(by_name[name].parent_id or "")
        while parent is not None:
            out.add(parent.name)
            parent = by_id.get(parent.parent_id or "")
    return tuple(sorted(out, key=lambda s: (s.casefold(), s)))


def _subset(draw: st.DrawFn, pool: Sequence[str]) -> frozenset[str]:
    return frozenset(draw(st.sets(st.sampled_from(pool)))) if pool else frozenset()


@st.composite
def categories(draw: st.DrawFn) -> list[Category]:
    names = draw(st.lists(_NAME, max_size=5, unique_by=str.casefold))
    return [
        Category(
            name=n,
            id=str(i),
            parent_id=None if i == 0 or draw(st.booleans()) else str(draw(st.integers(0, i - 1))),
        )
        for i, n in enumerate(names)
    ]


@st.composite
def world(draw: st.DrawFn) -> World:
    cats = draw(categories())
    cat_names = [c.name for c in cats]
    role_names = draw(st.lists(_NAME, max_size=3, unique_by=str.casefold))
    roles = [
        LiveRole(
            name=n,
            id=f"r{i}",
            fields={
                "description": draw(_NAME),
                "categories": _ancestor_closed(_subset(draw, cat_names), cats),
                "privileges": tuple(sorted(_subset(draw, _PRIVS))),
            },
        )
        for i, n in enumerate(role_names)
    ]
    codes = draw(
        st.lists(st.text(alphabet="ABCDE", min_size=1, max_size=3), max_size=5, unique=True)
    )
    secrets: dict[str, str] = {}
    env_of: dict[tuple[str, str], str] = {}
    users = []
    for code in codes:
        variables = []
        for vname in draw(st.lists(_NAME, max_size=3, unique=True)):
            if draw(st.booleans()):
                variables.append(Variable(name=vname, value=draw(_NAME)))
            else:
                env = f"ENV_{code}_{len(env_of)}"
                secrets[env] = draw(_NAME)
                env_of[(code, vname)] = env
                variables.append(Variable(name=vname, secure=True, digest=sha(secrets[env])))
        record = rec(
            {
                "login.password": draw(st.booleans()),
                "login.external": draw(st.booleans()),
                "login.mfa": draw(st.booleans()),
            },
            forenames=draw(_NAME),
            surname=draw(_NAME),
            email=draw(st.none() | _NAME),
            type=draw(st.sampled_from(_TYPES)),
            enabled=draw(st.booleans()),
            lite=draw(st.booleans()),
            expires=draw(st.none() | st.sampled_from(["2026-01-01", "2030-12-31"])),
            privileges=tuple(sorted(_subset(draw, _PRIVS))),
            roles=tuple(sorted(_subset(draw, role_names))),
            categories=_ancestor_closed(_subset(draw, cat_names), cats),
            variables=tuple(sorted(variables)),
            restrictions=tuple(
                sorted(
                    {
                        Restriction(connection=c, column="col", values=tuple(sorted(v)))
                        for c, v in draw(
                            st.dictionaries(_NAME, st.sets(_NAME, min_size=1), max_size=2)
                        ).items()
                    }
                )
            ),
        )
        users.append(
            LiveUser(usercode=code, id=f"u-{code}", record=record, super_admin=draw(st.booleans()))
        )
    return World(live=state(users, roles, cats), secrets=secrets, env_of=env_of)


def declared_as_live(w: World) -> DesiredState:
    """Every live user and role declared with every field, secrets as {env:}."""
    users = []
    for code, user in w.live.users.items():
        fields = dict(user.record)
        fields["variables"] = tuple(
            Variable(name=v.name, env=w.env_of[(code, v.name)], secure=True) if v.secure else v
            for v in fields["variables"]
        )
        users.append(UserSpec(usercode=code, fields=fields))
    roles = tuple(RoleSpec(name=r.name, fields=dict(r.fields)) for r in w.live.roles.values())
    return DesiredState(users=tuple(users), roles=roles)


CONFIGS = st.builds(
    Config,
    users_prune=st.sampled_from(UserPrune),
    roles_prune=st.sampled_from(RolePrune),
    protected=st.sampled_from([(), ("A",), ("A*",)]),
    ignore=st.sampled_from([(), ("B",), ("C*",)]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=world(), config=CONFIGS)
def test_state_against_itself_is_empty(w: World, config: Config) -> None:
    plan = diff(declared_as_live(w), w.live, config, server=URL, secrets=w.secrets)
    assert plan.changes == ()
    assert plan.access == ()


@st.composite
def desired_for(draw: st.DrawFn, w: World) -> tuple[DesiredState, dict[str, str]]:
    """Any valid desired state over the world's names: some fields of some users."""
    secrets = dict(w.secrets)
    live_codes = sorted(w.live.users)
    new_codes = draw(st.lists(st.text(alphabet="ABCDEF", min_size=1, max_size=3), max_size=3))
    codes = draw(st.lists(st.sampled_from(live_codes), unique=True)) if live_codes else []
    codes = list(dict.fromkeys(codes + new_codes))
    cat_names = [c.name for c in w.live.categories.values()] + ["Elsewhere"]
    role_pool = [r.name for r in w.live.roles.values()] + ["New Role", "other"]
    role_names = draw(st.lists(st.sampled_from(role_pool), unique_by=str.casefold, max_size=3))
    roles = tuple(
        RoleSpec(
            name=draw(st.sampled_from([n, n.upper(), n.lower()])),
            fields=draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "description": _NAME,
                        "categories": st.lists(st.sampled_from(cat_names), max_size=3).map(tuple),
                        "privileges": st.lists(
                            st.sampled_from(_PRIVS), unique=True, max_size=3
                        ).map(tuple),
                    },
                )
            ),
        )
        for n in role_names
    )
    users = []
    for code in codes:
        variables = []
        for i, vname in enumerate(draw(st.lists(_NAME, max_size=3, unique=True))):
            kind = draw(st.sampled_from(["clear", "secure", "env"]))
            if kind == "clear":
                variables.append(Variable(name=vname, value=draw(_NAME)))
            else:
                env = f"D_{code}_{i}"
                secrets[env] = draw(_NAME)
                variables.append(Variable(name=vname, env=env, secure=kind == "secure"))
        options: dict[str, st.SearchStrategy[Any]] = {
            "forenames": _NAME,
            "surname": _NAME,
            "email": st.none() | _NAME,
            "type": st.sampled_from(_TYPES),
            "enabled": st.booleans(),
            "login.mfa": st.booleans(),
            "expires": st.none() | st.just("2031-01-01"),
            "privileges": st.lists(st.sampled_from(_PRIVS), unique=True).map(tuple),
            "roles": st.lists(st.sampled_from(role_pool), unique_by=str.casefold).map(tuple),
            "categories": st.lists(st.sampled_from(cat_names), unique_by=str.casefold).map(tuple),
            "variables": st.just(tuple(variables)),
            "restrictions": st.lists(
                st.builds(
                    Restriction,
                    connection=_NAME,
                    column=st.just("col"),
                    values=st.sets(_NAME, min_size=1).map(lambda s: tuple(sorted(s))),
                ),
                unique=True,
                max_size=2,
            ).map(lambda rs: tuple(sorted(rs))),
        }
        fields = draw(st.fixed_dictionaries({}, optional=options))
        users.append(
            UserSpec(
                usercode=code, fields=fields, ignore=draw(st.booleans()) and draw(st.booleans())
            )
        )
    return DesiredState(users=tuple(users), roles=roles), secrets


def canonical_user(
    desired: Mapping[str, Any], secrets: Mapping[str, str], old: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A plan's JSON ``desired`` values back in canonical record form (what apply writes): the
    variables it names set (``None``: removed) over ``old``'s, the other fields replaced."""
    out: dict[str, Any] = {}
    for key, value in desired.items():
        if key in ("privileges", "roles", "categories"):
            out[key] = tuple(sorted(value))
        elif key == "restrictions":
            out[key] = tuple(
                sorted(
                    Restriction(
                        connection=r["connection"], column=r["column"], values=tuple(r["values"])
                    )
                    for r in value
                )
            )
        elif key == "variables":
            kept = {v.name: v for v in (old or {}).get("variables") or ()}
            for name, v in value.items():
                if v is None:
                    kept.pop(name, None)
                else:
                    kept[name] = _variable(name, v, secrets)
            out[key] = tuple(sorted(kept.values()))
        else:
            out[key] = value
    return out


def _variable(name: str, ref: Any, secrets: Mapping[str, str]) -> Variable:
    if isinstance(ref, str):
        return Variable(name=name, value=ref)
    value = secrets[ref["env"]]
    if ref["secure"]:
        return Variable(name=name, secure=True, digest=sha(value))
    return Variable(name=name, value=value)  # a non-secure secret is stored in clear


def apply_plan(plan: Plan, live: LiveState, secrets: Mapping[str, str]) -> LiveState:
    """What a perfect apply leaves behind: the live state with each change overlaid."""
    users = dict(live.users)
    roles = dict(live.roles)
    for change in plan.changes:
        if change.kind is Kind.ROLE:
            key = change.key.casefold()
            old_role = roles.get(key)
            if change.action is Action.DELETE:
                del roles[key]
                continue
            fields = {
                **(old_role.fields if old_role else {}),
                **canonical_user(change.desired, secrets),
            }
            roles[key] = LiveRole(
                name=old_role.name if old_role else change.key, id=f"n-{key}", fields=fields
            )
            continue
        old = users.get(change.key)
        if change.action is Action.DELETE:
            del users[change.key]
            continue
        base = old.record if old is not None else rec()
        users[change.key] = LiveUser(
            usercode=change.key,
            id=old.id if old else f"new-{change.key}",
            record={**base, **canonical_user(change.desired, secrets, base)},
            super_admin=old.super_admin if old else False,
        )
    return LiveState(users=users, roles=roles, categories=live.categories)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=CONFIGS)
def test_applying_a_plan_converges(data: st.DataObject, config: Config) -> None:
    w = data.draw(world())
    desired, secrets = data.draw(desired_for(w))
    defaults = {"type": "user", "login.external": True}
    plan = diff(desired, w.live, config, server=URL, secrets=secrets, defaults=defaults)
    after = apply_plan(plan, w.live, secrets)
    again = diff(desired, after, config, server=URL, secrets=secrets, defaults=defaults)
    assert again.changes == ()
    # and the plan survives its own saved form
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=CONFIGS)
def test_every_plan_agrees_with_itself_and_is_proved_by_its_own_repository(
    data: st.DataObject, config: Config
) -> None:
    # what show prints (the fields) is what apply sends (desired), for every plan the diff
    # makes; and apply's proof re-derives every change of it from the same state
    w = data.draw(world())
    desired, secrets = data.draw(desired_for(w))
    defaults = {"type": "user", "login.external": True}
    plan = diff(desired, w.live, config, server=URL, secrets=secrets, defaults=defaults)
    document = json.loads(json.dumps(plan.to_document()))
    assert disagreements(Plan.from_dict(document), document) == []
    assert unproven(plan, desired, w.live, config, defaults=defaults, secrets=secrets) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=CONFIGS)
def test_each_user_diffed_as_its_payload_arrives_gives_the_same_plan(
    data: st.DataObject, config: Config
) -> None:
    # a plan diffs each declared user as the reader reports its live state (its payload, or
    # the server's "no such user") and hands those changes to diff(): the plan, and what
    # apply's proof re-derives, must be exactly what diff() makes on its own
    w = data.draw(world())
    desired, secrets = data.draw(desired_for(w))
    defaults = {"type": "user", "login.external": True}
    change_of = user_differ(desired, config, defaults=defaults, secrets=secrets)(w.live.categories)
    known = {u.usercode: change_of(u.usercode, w.live.users.get(u.usercode)) for u in desired.users}
    alone = diff(desired, w.live, config, server=URL, secrets=secrets, defaults=defaults)
    early = diff(
        desired, w.live, config, server=URL, secrets=secrets, defaults=defaults, known=known
    )
    assert early == alone
    assert unproven(early, desired, w.live, config, defaults=defaults, secrets=secrets) == []


def test_user_fields_cover_the_spec_keys() -> None:
    # the table above is written against this list; a new field must get a rule here
    assert tuple(BASE_RECORD) == USER_FIELDS
