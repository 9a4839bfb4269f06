"""Apply's write verification in the adapter: what the server stored against what was sent,
compared as a plan compares, each difference naming the field and the guess it rests on."""

from __future__ import annotations

from typing import Any

from reconciler.core.model.values import LiveRole
from reconciler.pi import wire
from reconciler.pi.probe import redact_url
from reconciler.pi.verify import Difference, role_differences, stored_message, user_differences


def element(**sections: Any) -> dict[str, Any]:
    user = {"usercode": "A", "forenames": "F", "surname": "S", **sections.pop("user", {})}
    return {"user": user, **sections}


def test_a_create_is_compared_only_on_what_it_sent() -> None:
    sent = element(userRoles=[{"roleIdentifier": "Sales"}])
    stored = element(
        user={"userTypeId": 3, "themeName": "piBerry", "parentIdentifier": "ADMIN"},
        userRoles=[{"roleIdentifier": "sales"}],  # case: compared as a plan compares
        userCategories=[],
        variables=[],
        restrictions=[],
    )
    assert user_differences(sent, stored) == []


def test_what_differs_is_named_with_its_guess() -> None:
    sent = element(
        user={"userExpirationDate": "2027-01-31", "parentIdentifier": "BOSS"},
        restrictions=[
            {"dataConnectionIdentifier": "DB", "columnIdentifier": "Region", "value": v}
            for v in ("East", "West")
        ],
        userRoles=[],
    )
    stored = element(
        user={"userExpirationDate": "2027-01-31T00:00:00.000+00:00", "parentIdentifier": "ADMIN"},
        restrictions=[{"dataConnectionIdentifier": "DB", "columnIdentifier": "Region",
                       "value": "East"}],
        userRoles=[{"roleIdentifier": "Kept"}],
    )  # fmt: skip
    assert user_differences(sent, stored) == [
        Difference("parent", '"BOSS"', '"ADMIN"', "§3.3"),
        Difference("roles", "[]", "[Kept]", "§3.1"),  # kept although left out: not additive
        Difference("restrictions", "[DB/Region: East, West]", "[DB/Region: East]", "U2"),
    ]


def test_a_secret_is_compared_by_digest_and_never_shown() -> None:
    sent = element(variables=[{"name": "pin", "value": "1234", "isSecure": True}])
    masked = element(variables=[{"name": "pin", "value": "********", "isSecure": True}])
    (diff,) = user_differences(sent, masked)
    assert diff == Difference(
        "variables.pin", "a secret value (secure)", "a secret value (secure)", "U1"
    )
    assert "1234" not in stored_message("user A", [diff])
    assert user_differences(sent, sent) == []


def test_the_message_names_each_field_and_its_guess() -> None:
    diffs = [Difference("restrictions", "[x]", "[]", "U2"), Difference("email", '"a"', '"b"', None)]
    assert stored_message("user A", diffs) == (
        "user A was written but the server stored `restrictions` as [] after pisync sent [x]"
        " (guess U2: restrictions elements, one per value, `{dataConnectionIdentifier,"
        " columnIdentifier, value}` (also read: `{connection, column, values}` and a `values`"
        ' array)); and the server stored `email` as "b" after pisync sent "a"'
    )


def test_a_role_is_compared_on_its_managed_fields() -> None:
    stored = LiveRole(
        name="R",
        id="1",
        fields={"description": "d", "categories": ("finance",), "privileges": ("pdf",)},
    )
    assert role_differences({"categories": ["Finance"], "privileges": ["pdf"]}, stored) == []
    assert role_differences({"description": "e"}, stored) == [
        Difference("description", '"e"', '"d"', "U13")
    ]


def test_the_sync_answer_carries_the_stored_user_only_as_a_payload_element() -> None:
    full = element(userRoles=[], userCategories=[], variables=[], restrictions=[])
    assert wire.stored_element([full], "a") == full
    assert wire.stored_element([{**full, "user": {"usercode": "B"}}], "A") is None
    assert wire.stored_element({"id": 5, "usercode": "A"}, "A") is None  # the user object
    assert wire.stored_element(None, "A") is None  # no body
    assert wire.stored_element([element()], "A") is None  # arrays missing: read it back


def test_an_update_writes_a_timestamp_it_read_back_as_the_date_pisync_writes() -> None:
    base = element(user={"userExpirationDate": "2031-01-31T00:00:00.000+00:00"})
    out = wire.sync_element(base, "A", {"surname": "T"}, {})
    assert out["user"]["userExpirationDate"] == "2031-01-31"


def test_a_url_for_a_bug_report_has_no_host_nor_credentials() -> None:
    assert redact_url("https://pi.acme.internal:8224/pi/api/v2") == "https://<host>:8224/pi/api/v2"
    assert redact_url("http://user:pw@[::1]/pi/api/v2?x=1") == "http://<host>/pi/api/v2"
    assert redact_url("not a url") == "<url>"
    assert redact_url("http://h:notaport/") == "<url>"
