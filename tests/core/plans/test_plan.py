"""The Plan value: verbs, apply order, counts, fingerprints and the saved (JSON) form."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.model.digest import fingerprint
from reconciler.core.model.values import Grant, SourcePos
from reconciler.core.plans.order import change_order, phase
from reconciler.core.plans.plan import (
    FORMAT_VERSION,
    SENSITIVE,
    AccessChange,
    Action,
    Change,
    Counts,
    Expiry,
    FieldChange,
    Kind,
    Plan,
    PolicyFinding,
    document_digest,
)

URL = "https://pi.test/pi/api/v2"


def user(key: str, action: Action, parent: str | None = None) -> Change:
    desired: dict[str, Any] = {} if parent is None else {"parent": parent}
    return Change(kind=Kind.USER, key=key, action=action, desired=desired)


def role(key: str, action: Action) -> Change:
    return Change(kind=Kind.ROLE, key=key, action=action)


# --- verbs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "symbol"),
    [(Action.CREATE, "+"), (Action.UPDATE, "~"), (Action.DISABLE, "-"), (Action.DELETE, "-")],
)
def test_action_symbol(action: Action, symbol: str) -> None:
    assert action.symbol == symbol


def test_labels() -> None:
    assert role("Finance Viewer", Action.CREATE).label == 'role "Finance Viewer"'
    assert user("JSMITH", Action.UPDATE).label == "user JSMITH"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (role("R", Action.CREATE), 0),
        (role("R", Action.UPDATE), 0),
        (user("U", Action.CREATE), 1),
        (user("U", Action.UPDATE), 1),
        (user("U", Action.DISABLE), 2),
        (user("U", Action.DELETE), 2),
        (role("R", Action.DELETE), 3),
    ],
)
def test_phase(change: Change, expected: int) -> None:
    assert phase(change) == expected


# --- order -----------------------------------------------------------------------------------


def test_change_order_phases_then_key() -> None:
    changes = [
        role("zeta", Action.DELETE),
        user("B", Action.DELETE),
        user("A", Action.DISABLE),
        user("C", Action.UPDATE),
        user("b", Action.CREATE),
        role("Beta", Action.UPDATE),
        role("alpha", Action.CREATE),
    ]
    assert change_order(changes) == (
        role("alpha", Action.CREATE),
        role("Beta", Action.UPDATE),
        user("b", Action.CREATE),
        user("C", Action.UPDATE),
        user("A", Action.DISABLE),
        user("B", Action.DELETE),
        role("zeta", Action.DELETE),
    )


def test_created_parents_come_before_their_children() -> None:
    changes = [
        user("A_GRANDCHILD", Action.CREATE, parent="m_child"),
        user("M_CHILD", Action.CREATE, parent="Z_ROOT"),
        user("Z_ROOT", Action.CREATE, parent="EXISTING"),
        user("B_OTHER", Action.CREATE),
    ]
    assert [c.key for c in change_order(changes)] == [
        "B_OTHER",
        "Z_ROOT",
        "M_CHILD",
        "A_GRANDCHILD",
    ]


def test_a_parent_cycle_does_not_hang_and_keeps_every_change() -> None:
    changes = [user("A", Action.CREATE, parent="B"), user("B", Action.CREATE, parent="A")]
    assert sorted(c.key for c in change_order(changes)) == ["A", "B"]


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(8))))
def test_order_does_not_depend_on_input_order(perm: list[int]) -> None:
    changes = [
        role("R1", Action.CREATE),
        role("r2", Action.DELETE),
        user("P", Action.CREATE),
        user("C", Action.CREATE, parent="P"),
        user("U", Action.UPDATE),
        user("D", Action.DISABLE),
        user("X", Action.DELETE),
        role("R3", Action.UPDATE),
    ]
    shuffled = [changes[i] for i in perm]
    assert change_order(shuffled) == change_order(changes)


# --- counts ----------------------------------------------------------------------------------


def test_counts_cover_roles_and_users() -> None:
    plan = Plan(
        server=URL,
        changes=(
            role("R", Action.CREATE),
            user("U", Action.CREATE),
            user("V", Action.UPDATE),
            user("W", Action.DISABLE),
            role("S", Action.DELETE),
            user("X", Action.DELETE),
        ),
    )
    assert plan.counts == Counts(create=2, update=1, disable=1, delete=2)
    assert plan.counts.total == 6
    assert not plan.empty
    assert Plan(server=URL).empty
    assert Plan(server=URL, warnings=("w",)).empty  # empty means no changes
    assert Plan(server=URL).counts == Counts()


# --- fingerprints ----------------------------------------------------------------------------


def test_fingerprint_format_and_stability() -> None:
    a = fingerprint({"b": [1, 2], "a": {"y": 1, "x": "é"}})
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", a)
    assert a == fingerprint({"a": {"x": "é", "y": 1}, "b": [1, 2]})  # key order irrelevant
    assert a == fingerprint({"a": {"x": "é", "y": 1}, "b": (1, 2)})  # JSON form
    assert a != fingerprint({"a": {"x": "é", "y": 1}, "b": [2, 1]})
    assert a != fingerprint({"a": {"x": "e", "y": 1}, "b": [1, 2]})


# --- saved form --------------------------------------------------------------------------------

FULL = Plan(
    server=URL,
    targets=("JSMITH",),
    changes=(
        Change(
            kind=Kind.ROLE,
            key="Finance Viewer",
            action=Action.CREATE,
            fields=(FieldChange(path="categories", before=None, after=["Budgets", "Finance"]),),
            desired={"categories": ["Budgets", "Finance"]},
            source=SourcePos(file="C:/repo/users/roles.yaml", line=3, col=5),
        ),
        Change(
            kind=Kind.USER,
            key="JSMITH",
            action=Action.UPDATE,
            fields=(
                FieldChange(path="email", before="a@x", after="b@x"),
                FieldChange(path="variables.pw", before=SENSITIVE, after=SENSITIVE, sensitive=True),
            ),
            desired={"email": "b@x", "variables": {"pw": {"env": "PW", "secure": True}}},
            fingerprint="sha256:" + "0" * 64,
            live_id="17",
            source=SourcePos(file="users/people.yaml", line=10, col=5),
        ),
        Change(
            kind=Kind.USER,
            key="OLD",
            action=Action.DISABLE,
            fields=(FieldChange(path="enabled", before=True, after=False),),
            desired={"enabled": False},
            fingerprint="sha256:" + "1" * 64,
            live_id="18",
        ),
    ),
    access=(
        AccessChange(
            usercode="JSMITH",
            gained_roles=("Finance Viewer",),
            gained_categories=("Budgets", "Finance"),
            lost_categories=("Sales",),
            type_change=("designer", "administrator"),
            escalation=True,
            role_categories={"Finance Viewer": ("Budgets", "Finance")},
            grant=Grant(reason="Runs payroll", ticket="SEC-1"),
        ),
    ),
    expiring=(Expiry(usercode="JSMITH", expires="2026-02-01", days=5, enabled=True),),
    warnings=("a warning",),
    managed_live_users=42,
    policies=("mfa_required_for", "administrators"),
    findings=(
        PolicyFinding(
            policy="mfa_required_for",
            severity="error",
            message="JSMITH is an administrator, which requires MFA; set login.mfa: true",
            usercode="JSMITH",
            source=SourcePos(file="users/people.yaml", line=10, col=5),
            key_path="users[JSMITH]",
        ),
        PolicyFinding(
            policy="administrators",
            severity="warning",
            message="after this plan 1 enabled administrator would remain (JSMITH), fewer than"
            " the minimum of 2; declare another",
        ),
    ),
)


def test_to_dict_shape() -> None:
    data = FULL.to_dict()
    assert list(data) == [
        "format_version",
        "server",
        "targets",
        "partial",
        "summary",
        "changes",
        "access",
        "expiring",
        "guards",
        "forced",
        "notes",
        "warnings",
        "managed_live_users",
        "desired_objects",
        "policy",
    ]
    assert data["policy"] == {
        "checked": ["mfa_required_for", "administrators"],
        "findings": [
            {
                "policy": "mfa_required_for",
                "severity": "error",
                "usercode": "JSMITH",
                "message": "JSMITH is an administrator, which requires MFA; set login.mfa: true",
                "source": "users/people.yaml:10:5",
                "key_path": "users[JSMITH]",
            },
            {
                "policy": "administrators",
                "severity": "warning",
                "usercode": None,
                "message": "after this plan 1 enabled administrator would remain (JSMITH), fewer"
                " than the minimum of 2; declare another",
                "source": None,
                "key_path": "",
            },
        ],
    }
    assert FULL.policy_errors == FULL.findings[:1]
    assert data["access"][0]["grant"] == {
        "reason": "Runs payroll",
        "ticket": "SEC-1",
        "owner": None,
        "review_by": None,
    }
    assert list(FULL.to_document()) == [*data, "digest"]
    assert FULL.to_document()["digest"] == document_digest(data)
    assert data["format_version"] == FORMAT_VERSION == 2
    assert data["summary"] == {"create": 1, "update": 1, "disable": 1, "delete": 0}
    assert data["changes"][1] == {
        "kind": "user",
        "key": "JSMITH",
        "action": "update",
        "fields": [
            {"path": "email", "before": "a@x", "after": "b@x"},
            {"path": "variables.pw", "before": SENSITIVE, "after": SENSITIVE, "sensitive": True},
        ],
        "desired": {"email": "b@x", "variables": {"pw": {"env": "PW", "secure": True}}},
        "fingerprint": "sha256:" + "0" * 64,
        "live_id": "17",
        "source": "users/people.yaml:10:5",
    }


def test_round_trip_through_json() -> None:
    assert Plan.from_dict(json.loads(json.dumps(FULL.to_dict()))) == FULL


@pytest.mark.parametrize("version", [None, 0, 1, 3, "2"])
def test_from_dict_refuses_other_versions(version: Any) -> None:
    data = FULL.to_dict()
    if version is None:
        del data["format_version"]
    else:
        data["format_version"] = version
    with pytest.raises(ValueError, match="format_version"):
        Plan.from_dict(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users/a.yaml:3:5", SourcePos(file="users/a.yaml", line=3, col=5)),
        ("C:/x:y/a.yaml:10:1", SourcePos(file="C:/x:y/a.yaml", line=10, col=1)),
        ("not a position", None),
        (None, None),
    ],
)
def test_source_positions_read_back(text: str | None, expected: SourcePos | None) -> None:
    data = role("R", Action.CREATE).to_dict() | {"source": text}
    assert Change.from_dict(data).source == expected


_TEXT = st.text(max_size=8)
_JSON_SCALAR = st.none() | st.booleans() | st.integers(-5, 5) | _TEXT
_NAMES = st.lists(_TEXT, max_size=3).map(tuple)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    action = draw(st.sampled_from(Action))
    return Change(
        kind=draw(st.sampled_from(Kind)),
        key=draw(_TEXT),
        action=action,
        fields=tuple(
            draw(
                st.lists(
                    st.builds(
                        FieldChange,
                        path=_TEXT,
                        before=_JSON_SCALAR | st.lists(_TEXT),
                        after=_JSON_SCALAR | st.lists(_TEXT),
                        sensitive=st.booleans(),
                    ),
                    max_size=3,
                )
            )
        ),
        desired=draw(st.dictionaries(_TEXT, _JSON_SCALAR | st.lists(_TEXT), max_size=3)),
        fingerprint=draw(
            st.none() | st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__)
        ),
        live_id=draw(st.none() | _TEXT),
        source=draw(
            st.none()
            | st.builds(
                SourcePos,
                file=st.text(min_size=1, max_size=8),
                line=st.integers(1, 999),
                col=st.integers(1, 99),
            )
        ),
    )


PLANS = st.builds(
    Plan,
    server=_TEXT,
    changes=st.lists(changes(), max_size=4).map(tuple),
    targets=_NAMES,
    access=st.lists(
        st.builds(
            AccessChange,
            usercode=_TEXT,
            gained_roles=_NAMES,
            lost_roles=_NAMES,
            gained_categories=_NAMES,
            lost_categories=_NAMES,
            gained_privileges=_NAMES,
            lost_privileges=_NAMES,
            type_change=st.none() | st.tuples(st.none() | _TEXT, st.none() | _TEXT),
            escalation=st.booleans(),
            role_categories=st.dictionaries(_TEXT, _NAMES, max_size=2),
            grant=st.builds(
                Grant,
                reason=st.none() | _TEXT,
                ticket=st.none() | _TEXT,
                owner=st.none() | _TEXT,
                review_by=st.none() | st.dates().map(str),
            ),
        ),
        max_size=2,
    ).map(tuple),
    expiring=st.lists(
        st.builds(
            Expiry,
            usercode=_TEXT,
            expires=st.dates().map(str),
            days=st.integers(-400, 400),
            enabled=st.booleans(),
        ),
        max_size=2,
    ).map(tuple),
    warnings=_NAMES,
    managed_live_users=st.integers(0, 10_000),
    policies=_NAMES,
    findings=st.lists(
        st.builds(
            PolicyFinding,
            policy=_TEXT,
            severity=st.sampled_from(["error", "warning"]),
            message=_TEXT,
            usercode=st.none() | _TEXT,
            source=st.none()
            | st.builds(
                SourcePos,
                file=st.sampled_from(["users/a.yaml", "C:/x/b.yml"]),
                line=st.integers(1, 999),
                col=st.integers(1, 99),
            ),
            key_path=_TEXT,
        ),
        max_size=2,
    ).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(PLANS)
def test_any_plan_round_trips_through_json(plan: Plan) -> None:
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
