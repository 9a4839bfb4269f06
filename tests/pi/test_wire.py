"""The wire adapter: every shape the reference allows in, the canonical shape out."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from reconciler.core.model.digest import fingerprint, role_fingerprint
from reconciler.core.model.privileges import PRIVILEGES
from reconciler.core.model.values import Category, LiveRole, LiveUser, Restriction, Variable
from reconciler.errors import UnexpectedResponse
from reconciler.pi import endpoints, messages, wire


def element(**user: Any) -> dict[str, Any]:
    return {
        "user": {"usercode": "JSMITH", "id": 7, "userTypeId": 1, "clientEnabled": True, **user},
        "variables": [
            {"name": "region", "value": "North", "isSecure": False},
            {"name": "db", "value": "s3cret", "isSecure": True},
        ],
        "restrictions": [
            {
                "dataConnectionIdentifier": "Sales DB",
                "columnIdentifier": "Region",
                "value": "North",
            },
            {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "East"},
        ],
        "userRoles": [{"roleIdentifier": "Finance Viewer"}, "sales viewer"],
        "userCategories": [{"categoryIdentifier": "Finance"}, {"description": "Budgets"}],
    }


def test_live_user_reads_every_reference_shape() -> None:
    summary = {"usercode": "jsmith", "id": 7}
    user = wire.live_user(
        summary,
        element(
            forenames="John",
            surname="Smith",
            email="",
            parentIdentifier="admin",
            userExpirationDate="2027-01-31T00:00:00",
            allowExternalLogin=True,
            pdf=True,
            editUsers=True,
            someFutureFlag=True,
        ),
    )
    assert user == LiveUser(
        usercode="JSMITH",
        id="7",
        record={
            "forenames": "John",
            "surname": "Smith",
            "email": None,
            "type": "designer",
            "enabled": True,
            "lite": False,
            "parent": "ADMIN",
            "organisation": None,
            "theme": None,
            "expires": "2027-01-31",
            "login.password": False,
            "login.external": True,
            "login.mfa": False,
            "privileges": ("editUsers", "pdf"),
            "roles": ("Finance Viewer", "sales viewer"),
            "categories": ("Budgets", "Finance"),
            "variables": (
                Variable(name="db", secure=True, digest=hashlib.sha256(b"s3cret").hexdigest()),
                Variable(name="region", value="North"),
            ),
            "restrictions": (
                Restriction(connection="Sales DB", column="Region", values=("East", "North")),
            ),
        },
        server_copy=user.server_copy,
        fingerprint=fingerprint(user.server_copy),
        super_admin=False,
    )
    assert "s3cret" not in repr(user.record)


def test_a_payload_is_kept_only_when_asked_and_its_fingerprint_always() -> None:
    summary = {"usercode": "jsmith", "id": 7}
    kept = wire.live_user(summary, element())
    dropped = wire.live_user(summary, element(), keep=lambda user: False)
    assert dropped.server_copy is None
    assert wire.json_of(kept.server_copy) == element()
    assert dropped.fingerprint == kept.fingerprint == fingerprint(element())
    assert dropped.record == kept.record


def test_page_info_accepts_both_shapes() -> None:
    assert wire.page_info([1], "x") == wire.Page(items=[1], total=None, last=None, enveloped=False)
    assert wire.page_info({"content": [1], "totalElements": 9, "last": False}, "x") == wire.Page(
        items=[1], total=9, last=False, enveloped=True
    )


@pytest.mark.parametrize("body", [{"token": ""}, {}, [], "t"])
def test_a_sign_in_answer_without_a_token_string_is_not_the_api(body: Any) -> None:
    request = endpoints.token_request("admin", "pw")
    answer = messages.Reply(status=200, body=json.dumps(body).encode())
    with pytest.raises(UnexpectedResponse) as exc:
        endpoints.read_token(answer, request, url="https://pi.test/x", username="admin")
    assert str(exc.value) == (
        "https://pi.test/x does not answer like the Panintelligence API (POST /tokens returned"
        " HTTP 200 without a token); the URL usually ends in /pi/api/v2"
    )


def test_ids_may_be_numbers_or_strings() -> None:
    assert wire.ident(3) == "3"
    assert wire.ident("a-1") == "a-1"
    with pytest.raises(wire.WireError):
        wire.ident(True)


def test_sync_element_overlays_managed_keys_and_keeps_the_rest() -> None:
    base = element(
        forenames="John", surname="Smith", pdf=True, someFutureFlag=True, superAdmin=False
    )
    out = wire.sync_element(
        base,
        "JSMITH",
        {
            "email": "j@example.com",
            "type": "user",
            "privileges": ["exportToCsv"],
            "roles": ["Finance Viewer"],
            "categories": ["Budgets", "Finance"],
            "variables": {"region": "South", "db": {"env": "DB_PW", "secure": True}},
            "restrictions": [{"connection": "Sales DB", "column": "Region", "values": ["West"]}],
            "login.mfa": True,
            "parent": "ADMIN",
            "expires": None,
        },
        {"DB_PW": "from-env"},
    )
    user = out["user"]
    assert {k: user[k] for k in ("usercode", "forenames", "email", "userTypeId", "requireMfa")} == {
        "usercode": "JSMITH",
        "forenames": "John",
        "email": "j@example.com",
        "userTypeId": 3,
        "requireMfa": True,
    }
    assert user["parentIdentifier"] == "ADMIN"
    assert user["userExpirationDate"] is None
    assert user["someFutureFlag"] is True  # unknown fields survive (sync is not additive)
    assert "id" not in user  # read-only fields are not sent
    assert "superAdmin" not in user
    assert {p for p in PRIVILEGES if user[p]} == {"exportToCsv"}
    assert out["userRoles"] == [{"roleIdentifier": "Finance Viewer"}]
    assert out["userCategories"] == [
        {"categoryIdentifier": "Budgets"},
        {"categoryIdentifier": "Finance"},
    ]
    assert out["variables"] == [
        {"name": "db", "value": "from-env", "isSecure": True},
        {"name": "region", "value": "South", "isSecure": False},
    ]
    assert out["restrictions"] == [
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "West"}
    ]
    assert base["user"]["id"] == 7  # the live payload itself is untouched


def test_sync_element_for_a_new_user_starts_empty() -> None:
    out = wire.sync_element(None, "NEW", {"forenames": "N", "surname": "U"}, {})
    assert out == {
        "user": {"usercode": "NEW", "forenames": "N", "surname": "U"},
        "variables": [],
        "restrictions": [],
        "userRoles": [],
        "userCategories": [],
    }


def test_roles_and_categories() -> None:
    obj = {
        "id": 4,
        "name": "Sales",
        "description": "d",
        "categories": ["B", {"name": "A"}],
        "privileges": {"pdf": True, "schedule": False},
    }
    role = wire.live_role(obj)
    assert role == LiveRole(
        name="Sales",
        id="4",
        fields={"description": "d", "categories": ("A", "B"), "privileges": ("pdf",)},
        server_copy=role.server_copy,
    )
    assert role_fingerprint(role) == fingerprint(obj)
    assert wire.role_body("Sales", {"categories": ["A"]}, role.server_copy) == {
        "name": "Sales",
        "description": "d",
        "categories": [{"categoryIdentifier": "A"}],
        "privileges": {"pdf": True, "schedule": False},
    }
    assert wire.category({"id": 2, "description": "Budgets", "parentId": 1}) == Category(
        name="Budgets", id="2", parent_id="1"
    )
    assert wire.category({"id": "1", "description": "Finance", "parentId": None}) == Category(
        name="Finance", id="1", parent_id=None
    )


@pytest.mark.parametrize(
    ("read", "item", "said"),
    [
        (
            wire.variables_from,
            {"name": 5, "value": "s3cret-value", "isSecure": True},
            "variables: cannot read an object with the keys name, value, isSecure",
        ),
        (
            wire.restrictions_from,
            {"dataConnectionIdentifier": ["x"], "value": "\x1b[31m" * 500},
            "restrictions: cannot read an object with the keys dataConnectionIdentifier, value",
        ),
        (wire.variables_from, "text", "variables: cannot read a str"),
    ],
)
def test_an_item_the_adapter_cannot_read_is_named_by_its_keys_never_its_values(
    read: Any, item: Any, said: str
) -> None:
    with pytest.raises(wire.WireError) as exc:
        read([item])
    assert str(exc.value) == said
