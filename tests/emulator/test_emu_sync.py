"""POST /users/sync and GET /users/syncPayload: create, update, non-additivity, validation."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import API, TestClient, basic, bearer, expected_user, state

SYNC = f"{API}/users/sync"


def _sync(client: TestClient, auth: dict[str, str], *elements: Any) -> Any:
    response = client.post(SYNC, json=list(elements), headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def _payload(client: TestClient, auth: dict[str, str], usercode: str) -> Any:
    response = client.get(f"{API}/users/syncPayload", params={"usercode": usercode}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


FULL: dict[str, Any] = {
    "user": {
        "usercode": "JSMITH",
        "forenames": "John",
        "surname": "Smith",
        "email": "john.smith@example.com",
        "userTypeId": 1,
        "lite": True,
        "themeName": "piDark",
        "parentIdentifier": "DPATEL",
        "orgIdentifier": "Dashboard",
        "ownerOrgIdentifier": "Dashboard",
        "allowPasswordLogin": True,
        "requireMfa": True,
        "userExpirationDate": "2027-01-31",
        "exportToCsv": True,
        "pdf": False,
        "schedule": True,
    },
    "variables": [
        {"name": "region", "value": "North", "isSecure": False},
        {"name": "dbPassword", "value": "s3cret", "isSecure": True},
    ],
    "restrictions": [
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "North"},
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "East"},
    ],
    "userRoles": [{"roleIdentifier": "Sales Viewer"}, {"roleIdentifier": "Finance Viewer"}],
    "userCategories": [{"categoryIdentifier": "Finance"}, {"categoryIdentifier": "Budgets"}],
}

FULL_RESULT = {
    **FULL,
    "user": expected_user(
        "JSMITH",
        "John",
        "Smith",
        **{k: v for k, v in FULL["user"].items() if k not in ("usercode", "forenames", "surname")},
        parentId=2,
    ),
}


def test_create_returns_the_whole_payload(client: TestClient, auth: dict[str, str]) -> None:
    result = _sync(
        client, auth, {"user": {"usercode": "new.user", "forenames": "New", "surname": "User"}}
    )
    assert result == [
        {
            "user": expected_user("NEW.USER", "New", "User", readableUserCode="New.user"),
            "variables": [],
            "restrictions": [],
            "userRoles": [],
            "userCategories": [],
        }
    ]
    assert _payload(client, auth, "New.User") == result


def test_round_trip_is_exact(client: TestClient, auth: dict[str, str]) -> None:
    posted = _sync(client, auth, FULL)
    assert posted == [FULL_RESULT]
    fetched = _payload(client, auth, "jsmith")
    assert fetched == posted
    # what GET returns can be sent back unchanged, and changes nothing
    version = client.get("/_emulator/health").json()["version"]
    assert _sync(client, auth, *fetched) == fetched
    assert client.get("/_emulator/health").json()["version"] == version


def test_alternative_input_shapes_come_back_canonical(
    client: TestClient, auth: dict[str, str]
) -> None:
    element = {
        "user": {"usercode": "alt", "forenames": "A", "surname": "Lt"},
        "userRoles": ["finance viewer", {"name": "SALES VIEWER"}, "Finance Viewer"],
        "userCategories": ["finance", {"description": "Budgets"}, {"name": "HR"}],
        "variables": [{"name": "v", "value": "1"}],
        "restrictions": [
            {"connection": "Sales DB", "column": "Region", "values": ["N", "S", "N"]},
            {"dataConnection": "CRM", "columnIdentifier": "Team", "value": "A"},
        ],
    }
    result = _sync(client, auth, element)[0]
    assert {k: v for k, v in result.items() if k != "user"} == {
        "variables": [{"name": "v", "value": "1", "isSecure": False}],
        "restrictions": [
            {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "N"},
            {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "S"},
            {"dataConnectionIdentifier": "CRM", "columnIdentifier": "Team", "value": "A"},
        ],
        "userRoles": [{"roleIdentifier": "Finance Viewer"}, {"roleIdentifier": "Sales Viewer"}],
        "userCategories": [
            {"categoryIdentifier": "Finance"},
            {"categoryIdentifier": "Budgets"},
            {"categoryIdentifier": "HR"},
        ],
    }


def test_update_is_not_additive(client: TestClient, auth: dict[str, str]) -> None:
    _sync(client, auth, FULL)
    result = _sync(client, auth, {"user": {"usercode": "jsmith"}})
    # omitted fields take their defaults, omitted arrays are emptied; names, the parent and
    # the password are kept (they have no default)
    assert result == [
        {
            "user": expected_user("JSMITH", "John", "Smith", parentId=2, parentIdentifier="DPATEL"),
            "variables": [],
            "restrictions": [],
            "userRoles": [],
            "userCategories": [],
        }
    ]


def test_empty_and_omitted_arrays_mean_none(client: TestClient, auth: dict[str, str]) -> None:
    _sync(client, auth, FULL)
    emptied = {**FULL, "variables": [], "userRoles": [], "userCategories": None}
    del emptied["restrictions"]
    result = _sync(client, auth, emptied)[0]
    assert (result["variables"], result["restrictions"]) == ([], [])
    assert (result["userRoles"], result["userCategories"]) == ([], [])
    assert result["user"] == FULL_RESULT["user"]


def test_read_only_fields_are_ignored(client: TestClient, auth: dict[str, str]) -> None:
    user = {
        "usercode": "ro",
        "forenames": "Read",
        "surname": "Only",
        "id": 999,
        "readableUserCode": "zzz",
        "superAdmin": True,
        "passwordExpired": True,
        "parentId": 3,
        "orgId": 7,
        "ownerOrgId": 8,
    }
    result = _sync(client, auth, {"user": user})[0]["user"]
    assert result == expected_user("RO", "Read", "Only")
    assert client.get(f"{API}/users/4", headers=auth).json()["usercode"] == "RO"


def test_usercodes_are_case_insensitive(client: TestClient, auth: dict[str, str]) -> None:
    result = _sync(client, auth, {"user": {"usercode": "bWoNg", "forenames": "Benjamin"}})
    assert result[0]["user"]["usercode"] == "BWONG"
    assert result[0]["user"]["forenames"] == "Benjamin"
    assert client.get("/_emulator/health").json()["users"] == 3
    assert _payload(client, auth, "BwOnG") == result


def test_several_elements_later_ones_see_earlier_ones(
    client: TestClient, auth: dict[str, str]
) -> None:
    result = _sync(
        client,
        auth,
        {"user": {"usercode": "lead", "forenames": "L", "surname": "Ead"}},
        {"user": {"usercode": "member", "forenames": "M", "surname": "Ember",
                  "parentIdentifier": "LEAD"}},
    )  # fmt: skip
    assert [(e["user"]["usercode"], e["user"]["parentIdentifier"]) for e in result] == [
        ("LEAD", "ADMIN"),
        ("MEMBER", "LEAD"),
    ]
    assert result[1]["user"]["parentId"] == 4


def test_password_is_write_only_and_cleared_without_password_login(
    client: TestClient, auth: dict[str, str]
) -> None:
    user = {"usercode": "pw", "forenames": "P", "surname": "W", "allowPasswordLogin": True}
    result = _sync(client, auth, {"user": {**user, "clientPassword": "first"}})
    assert "clientPassword" not in result[0]["user"]
    assert client.post(f"{API}/tokens", headers=basic("pw", "first")).status_code == 200
    _sync(client, auth, {"user": user})  # omitted: kept
    assert client.post(f"{API}/tokens", headers=basic("pw", "first")).status_code == 200
    _sync(client, auth, {"user": {**user, "allowPasswordLogin": False}})  # cleared
    _sync(client, auth, {"user": user})
    response = client.post(f"{API}/tokens", headers=basic("pw", "first"))
    assert (response.status_code, response.json()) == (
        401,
        {"message": "invalid usercode or password"},
    )


def test_super_admin_can_update_itself_with_its_own_defaults(
    client: TestClient, auth: dict[str, str]
) -> None:
    result = _sync(client, auth, {"user": {"usercode": "admin", "email": "admin@example.com"}})
    user = result[0]["user"]
    assert (user["superAdmin"], user["userTypeId"], user["editUsers"], user["parentId"]) == (
        True,
        0,
        True,
        None,
    )
    assert user["email"] == "admin@example.com"
    assert client.post(f"{API}/tokens", headers=basic("admin", "dashboard")).status_code == 200


def _user(**fields: Any) -> dict[str, Any]:
    return {"usercode": "NEWBIE", "forenames": "New", "surname": "Bie", **fields}


def _el(**sections: Any) -> dict[str, Any]:
    return {"user": _user(), **sections}


P = "payload[0] (NEWBIE): "

INVALID: list[tuple[Any, str]] = [
    ({"a": 1}, "the request body must be a JSON array of sync payload elements, got an object"),
    ([], "the request body is an empty array: send at least one payload element"),
    ([{"users": {}}], 'payload[0]: must be an object with a "user" object'),
    ([{"user": {"forenames": "X"}}], "payload[0]: user.usercode is required"),
    (
        [{"user": {"usercode": "has space"}}],
        "payload[0]: user.usercode must be 1 to 64 characters "
        'from A-Z a-z 0-9 . _ @ -, got "has space"',
    ),
    ([_el(), _el()], "payload[1]: usercode NEWBIE appears more than once"),
    ([_el(userRoles=["Nope"])], P + 'unknown role "Nope" in userRoles'),
    (
        [_el(userRoles=[{"role": "x"}])],
        P + 'userRoles[0] must be a role name or an object with "roleIdentifier", got an object',
    ),
    ([_el(userCategories=["Nope"])], P + 'unknown category "Nope" in userCategories'),
    (
        [_el(userCategories=["Budgets"])],
        P + 'category "Budgets" is listed without its parent category '
        '"Finance": list "Finance" in userCategories too',
    ),
    ([_el(userCategories="Finance")], P + 'userCategories must be an array, got "Finance"'),
    (
        [{"user": _user(allowExternalLogin=False)}],
        P + "allowPasswordLogin and allowExternalLogin cannot both "
        "be false: the user could not log in",
    ),
    (
        [{"user": _user(parentIdentifier="GHOST")}],
        P + 'unknown parentIdentifier "GHOST": no user has that usercode',
    ),
    (
        [{"user": _user(parentIdentifier="newbie")}],
        P + "a user cannot be its own parent (parentIdentifier)",
    ),
    (
        [{"user": _user(userTypeId=7)}],
        P + "user.userTypeId must be an integer from 0 to 4 (0 Administrator, 1 "
        "Designer, 2 Chart Explorer, 3 User, 4 Chart Viewer), got 7",
    ),
    (
        [{"user": _user(userTypeId="3")}],
        P + "user.userTypeId must be an integer from 0 to 4 (0 Administrator, 1 "
        'Designer, 2 Chart Explorer, 3 User, 4 Chart Viewer), got "3"',
    ),
    (
        [{"user": _user(userTypeId=True)}],
        P + "user.userTypeId must be an integer from 0 to 4 (0 Administrator, 1 "
        "Designer, 2 Chart Explorer, 3 User, 4 Chart Viewer), got true",
    ),
    (
        [{"user": {"usercode": "NEWBIE", "surname": "B"}}],
        P + "user.forenames is required to create a user",
    ),
    (
        [{"user": {"usercode": "NEWBIE", "forenames": "N"}}],
        P + "user.surname is required to create a user",
    ),
    ([{"user": _user(forenames=" ")}], P + 'user.forenames must be a non-empty string, got " "'),
    ([{"user": _user(pdf="yes")}], P + 'user.pdf must be true or false, got "yes"'),
    (
        [{"user": _user(clientEnabled=None)}],
        P + "user.clientEnabled must be true or false, got null",
    ),
    ([{"user": _user(email=5)}], P + "user.email must be a string or null, got 5"),
    (
        [{"user": _user(userExpirationDate="31/01/2027")}],
        P + 'user.userExpirationDate must be a date "YYYY-MM-DD" or null, got "31/01/2027"',
    ),
    (
        [{"user": _user(userExpirationDate="2027-02-30")}],
        P + 'user.userExpirationDate must be a date "YYYY-MM-DD" or null, got "2027-02-30"',
    ),
    (
        [{"user": _user(orgIdentifier="Acme")}],
        P + 'unknown organisation "Acme" in user.orgIdentifier: the emulator has only "Dashboard"',
    ),
    (
        [{"user": _user(clientPassword="")}],
        P + 'user.clientPassword must be a non-empty string, got ""',
    ),
    (
        [_el(variables=[{"name": "", "value": "x"}])],
        P + 'variables[0].name must be a non-empty string, got ""',
    ),
    (
        [_el(variables=[{"name": "a", "value": 1}])],
        P + "variables[0].value must be a string, got 1",
    ),
    (
        [_el(variables=[{"name": "a", "value": "1", "isSecure": "no"}])],
        P + 'variables[0].isSecure must be true or false, got "no"',
    ),
    (
        [_el(variables=[{"name": "a", "value": "1"}, {"name": "a", "value": "2"}])],
        P + 'variable "a" is given more than once',
    ),
    (
        [_el(variables=["a=1"])],
        P + 'variables[0] must be an object with "name", "value" and "isSecure"',
    ),
    (
        [_el(restrictions=[{"columnIdentifier": "C", "value": "v"}])],
        P + "restrictions[0].dataConnectionIdentifier must be a non-empty string",
    ),
    (
        [_el(restrictions=[{"dataConnectionIdentifier": "D", "value": "v"}])],
        P + "restrictions[0].columnIdentifier must be a non-empty string",
    ),
    (
        [_el(restrictions=[{"dataConnectionIdentifier": "D", "columnIdentifier": "C"}])],
        P + 'restrictions[0] needs "value" (a string) or "values" (a non-empty array of strings)',
    ),
    (
        [
            _el(
                restrictions=[
                    {"dataConnectionIdentifier": "D", "columnIdentifier": "C", "value": 3}
                ]
            )
        ],
        P + "restrictions[0].value must be a string, got 3",
    ),
    (
        [{"user": {"usercode": "admin", "allowPasswordLogin": False, "allowExternalLogin": True}}],
        "payload[0] (ADMIN): password login cannot be disabled for the super admin",
    ),
    (
        [{"user": {"usercode": "admin", "clientEnabled": False}}],
        "payload[0] (ADMIN): the super admin cannot be disabled",
    ),
    (
        [{"user": {"usercode": "admin", "userTypeId": 1}}],
        "payload[0] (ADMIN): the super admin must stay an Administrator (userTypeId 0)",
    ),
    (
        [
            {"user": {"usercode": "dpatel", "parentIdentifier": "bwong"}},
            {"user": {"usercode": "bwong", "parentIdentifier": "dpatel"}},
        ],
        "payload[1] (BWONG): parentIdentifier DPATEL would make a "
        "cycle: DPATEL is below BWONG in the user hierarchy",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
def test_invalid_sync_is_400_and_changes_nothing(
    client: TestClient, auth: dict[str, str], body: Any, message: str
) -> None:
    before = state(client)
    response = client.post(SYNC, json=body, headers=auth)
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert state(client) == before


def test_every_problem_is_reported_and_the_request_is_all_or_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    before = state(client)
    body = [
        {"user": {"usercode": "good", "forenames": "G", "surname": "Ood"}},
        {"user": {"usercode": "bad", "forenames": "B", "surname": "Ad", "lite": 1},
         "userRoles": ["Ghost"]},
    ]  # fmt: skip
    response = client.post(SYNC, json=body, headers=auth)
    assert response.json() == {
        "message": "payload[1] (BAD): user.lite must be true or false, got 1; "
        'payload[1] (BAD): unknown role "Ghost" in userRoles'
    }
    assert state(client) == before


def test_invalid_json_body_is_400(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(SYNC, content=b"[{", headers=auth)
    assert response.status_code == 400
    assert response.json()["message"].startswith("the request body is not valid JSON: ")
    empty = client.post(SYNC, headers=auth)
    assert empty.json() == {"message": "a JSON request body is required"}


def test_only_the_super_admin_creates(client: TestClient) -> None:
    dpatel = bearer(client, "dpatel", "dpatel-pw")
    before = state(client)
    create = [{"user": {"usercode": "x", "forenames": "X", "surname": "Y"}}]
    response = client.post(SYNC, json=create, headers=dpatel)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "only the super admin can create users through POST /users/sync: "
                    "DPATEL cannot create X"},
    )  # fmt: skip
    admin = [{"user": {"usercode": "admin"}}]
    response = client.post(SYNC, json=admin, headers=dpatel)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "only the super admin can change the super admin (ADMIN)"},
    )
    assert state(client) == before
    update = [{"user": {"usercode": "bwong", "forenames": "Ben", "surname": "Wong", "lite": True}}]
    response = client.post(SYNC, json=update, headers=dpatel)
    assert response.status_code == 200
    assert response.json()[0]["user"]["lite"] is True


def test_updates_need_edit_users(client: TestClient) -> None:
    bwong = bearer(client, "bwong", "bwong-pw")
    update = [{"user": {"usercode": "bwong", "allowPasswordLogin": True}}]
    response = client.post(SYNC, json=update, headers=bwong)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "BWONG needs the editUsers privilege to update users"},
    )


def test_edit_users_can_come_from_a_role(client: TestClient, auth: dict[str, str]) -> None:
    client.put(f"{API}/roles/2", json={"privileges": ["editUsers"]}, headers=auth)
    bwong = bearer(client, "bwong", "bwong-pw")
    update = [{"user": {"usercode": "dpatel", "allowPasswordLogin": True, "userTypeId": 0}}]
    assert client.post(SYNC, json=update, headers=bwong).status_code == 200


def test_sync_payload_errors(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get(f"{API}/users/syncPayload", params={"usercode": "ghost"}, headers=auth)
    assert (response.status_code, response.json()) == (
        404,
        {"message": 'no user has usercode "ghost"'},
    )
    response = client.get(f"{API}/users/syncPayload", headers=auth)
    assert (response.status_code, response.json()) == (
        400,
        {"message": "the usercode query parameter is required"},
    )
    by_id = client.get(f"{API}/users/syncPayload", params={"id": "3"}, headers=auth)
    assert by_id.json() == _payload(client, auth, "BWONG")


def test_secure_variable_values_are_returned_as_stored(
    client: TestClient, auth: dict[str, str]
) -> None:
    _sync(client, auth, FULL)
    assert _payload(client, auth, "JSMITH")[0]["variables"][1] == {
        "name": "dbPassword",
        "value": "s3cret",
        "isSecure": True,
    }
