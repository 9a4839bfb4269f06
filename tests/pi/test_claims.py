"""The JWT claims adapter: the payload merge apply makes, secure variables left out, a stable
key order whatever the base, the document, and the schema that documents it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.core.model.privileges import PRIVILEGES
from reconciler.core.model.values import Variable
from reconciler.pi import claims, wire
from reconciler.schemas import SCHEMA_NAMES, load_schema

NEW = {
    "forenames": "Amy",
    "surname": "Able",
    "email": "amy@example.com",
    "roles": ("Finance Viewer",),
    "variables": (
        Variable(name="region", value="North"),
        Variable(name="db", env="DB_PW", secure=True),
        Variable(name="token", env="TOKEN"),
    ),
}
SECRETS = {"DB_PW": "the-db-password", "TOKEN": "not-secure-but-from-env"}


def live_element() -> dict[str, Any]:
    """A live payload as the server keeps it: keys in its own order, a secure value in it."""
    return {
        "userCategories": [{"categoryIdentifier": "Sales"}],
        "userRoles": [{"roleIdentifier": "Sales Viewer"}],
        "restrictions": [],
        "variables": [
            {"name": "vault", "value": "live-secret", "isSecure": True},
            {"name": "site", "value": "Leeds", "isSecure": False},
        ],
        "user": {
            "usercode": "BWONG",
            "readableUserCode": "Bwong",
            "superAdmin": False,
            "parentId": 1,
            "parentIdentifier": "ADMIN",
            "themeName": "dark",
            "forenames": "Ben",
            "email": "ben@example.com",
            "allowPasswordLogin": True,
            "allowExternalLogin": False,
        },
    }


def test_names() -> None:
    assert claims.PAYLOAD_CLAIM == "https://www.panintelligence.com/claims/userSyncPayload"
    assert claims.USERCODE_CLAIM == "https://www.panintelligence.com/claims/usercode"
    assert claims.EMAIL_CLAIM == "https://www.panintelligence.com/claims/email"


def test_a_user_the_server_has_not_is_the_new_user_merge() -> None:
    defaults = {"type": "designer", "theme": "piOcean"}
    fields = claims.claim_fields({**NEW, "theme": "mine"}, exists=False, defaults=defaults)
    # declared keys, then defaults:, then the server's defaults for a new user
    assert fields == {**wire.NEW_USER_DEFAULTS, "type": "designer", **NEW, "theme": "mine"}
    # a user the server has: only the managed keys (its live payload is the base)
    assert claims.claim_fields(NEW, exists=True, defaults=defaults) == NEW


def test_new_user_claims_are_apply_payloads_with_secure_variables_left_out() -> None:
    fields = claims.claim_fields(NEW, exists=False, defaults={})
    got = claims.user_claims(
        "AMY", fields, None, secrets={"TOKEN": SECRETS["TOKEN"]}, include_secure=False
    )
    assert got.left_out == ("db",)
    assert got.overridden == ()
    assert got.email == "amy@example.com"
    user = got.element["user"]
    assert list(user) == sorted(user)
    assert list(got.element) == list(claims.SECTIONS)
    assert user["usercode"] == "AMY"
    assert user["userTypeId"] == 3
    assert {p: user[p] for p in PRIVILEGES if user[p]} == dict.fromkeys(
        wire.NEW_USER_DEFAULTS["privileges"], True
    )
    assert got.element["variables"] == [
        {"name": "region", "value": "North", "isSecure": False},
        {"name": "token", "value": "not-secure-but-from-env", "isSecure": False},
    ]
    assert got.element["userRoles"] == [{"roleIdentifier": "Finance Viewer"}]
    assert "the-db-password" not in json.dumps(got.to_dict())
    assert got.to_dict() == {
        "usercode_claim": "AMY",
        "email_claim": "amy@example.com",
        "userSyncPayload": [got.element],
    }


def test_with_include_secure_the_secure_values_are_in() -> None:
    fields = claims.claim_fields(NEW, exists=False, defaults={})
    got = claims.user_claims("AMY", fields, None, secrets=SECRETS, include_secure=True)
    assert got.left_out == ()
    assert got.element["variables"][0] == {
        "name": "db",
        "value": "the-db-password",
        "isSecure": True,
    }


def test_over_a_live_payload_as_apply_merges_it() -> None:
    base = live_element()
    got = claims.user_claims(
        "BWONG", {"forenames": "Benjamin"}, base, secrets={}, include_secure=False
    )
    assert got.element == {
        "user": {
            "allowExternalLogin": False,
            "allowPasswordLogin": True,
            "email": "ben@example.com",
            "forenames": "Benjamin",
            "parentIdentifier": "ADMIN",
            "themeName": "dark",
            "usercode": "BWONG",
        },
        # the live payload's secure value is left out too, and said
        "variables": [{"name": "site", "value": "Leeds", "isSecure": False}],
        "restrictions": [],
        "userRoles": [{"roleIdentifier": "Sales Viewer"}],
        "userCategories": [{"categoryIdentifier": "Sales"}],
    }
    assert got.left_out == ("vault",)
    assert got.overridden == ("login.password", "login.external")
    assert base == live_element()  # the base is not changed
    # exactly what apply sends, but for the secure variable and the key order
    sent = wire.sync_element(base, "BWONG", {"forenames": "Benjamin"}, {})
    sent["variables"] = [v for v in sent["variables"] if not v["isSecure"]]
    assert sent == got.element
    assert list(sent) != list(got.element)


def test_the_key_order_does_not_depend_on_the_base() -> None:
    base = live_element()
    shuffled = {k: base[k] for k in reversed(list(base))}
    shuffled["user"] = dict(reversed(list(base["user"].items())))
    one = claims.user_claims("BWONG", {}, base, secrets={}, include_secure=True)
    two = claims.user_claims("BWONG", {}, shuffled, secrets={}, include_secure=True)
    assert json.dumps(one.to_dict()) == json.dumps(two.to_dict())


def test_an_empty_email_is_no_email_claim() -> None:
    got = claims.user_claims("X", {"email": ""}, None, secrets={}, include_secure=False)
    assert got.email is None


def _built() -> list[claims.UserClaims]:
    new = claims.claim_fields(NEW, exists=False, defaults={})
    return [
        claims.user_claims("BWONG", {}, live_element(), secrets={}, include_secure=False),
        claims.user_claims("AMY", new, None, secrets={"TOKEN": "t"}, include_secure=False),
    ]


def test_the_document() -> None:
    built = _built()
    doc = claims.document(built, include_secure=False)
    assert list(doc) == ["format_version", "claim", "identity_claims", "users"]
    assert doc["format_version"] == 1
    assert doc["claim"] == claims.PAYLOAD_CLAIM
    assert doc["identity_claims"] == {
        "usercode_claim": claims.USERCODE_CLAIM,
        "email_claim": claims.EMAIL_CLAIM,
    }
    assert list(doc["users"]) == ["AMY", "BWONG"]  # sorted
    assert doc["users"]["BWONG"] == built[0].to_dict()
    secure = claims.document(built, include_secure=True)
    assert list(secure) == ["format_version", "claim", "identity_claims", "warning", "users"]
    assert secure["warning"] == claims.SECURE_WARNING
    assert claims.render(doc) == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --- the schema ----------------------------------------------------------------------------

SCHEMA = load_schema("claims")


def _objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}/{i}")


def test_the_schema_is_shipped_valid_and_described() -> None:
    assert "claims.schema.json" in SCHEMA_NAMES
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "claims.schema.json"
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["title"]
    assert SCHEMA["description"]
    for path, obj in _objects(SCHEMA):
        for key, prop in obj["properties"].items():
            assert prop.get("description"), f"{path}/properties/{key}"


def test_every_object_of_the_schema_is_closed() -> None:
    # the user section alone admits fields beyond those pisync writes (a live payload's own,
    # with --live), and then only JSON scalars
    open_ = {"#/$defs/element/properties/user"}
    for path, obj in _objects(SCHEMA):
        if path in open_:
            assert obj["additionalProperties"] == {"type": ["string", "number", "boolean", "null"]}
        else:
            assert obj.get("additionalProperties") is False, path


@pytest.mark.parametrize("include_secure", [False, True])
def test_documents_validate(include_secure: bool) -> None:
    validator = Draft202012Validator(SCHEMA)
    for example in SCHEMA["examples"]:
        assert list(validator.iter_errors(example)) == []
    doc = claims.document(_built(), include_secure=include_secure)
    assert list(validator.iter_errors(doc)) == []
    assert list(validator.iter_errors({**doc, "extra": 1}))
