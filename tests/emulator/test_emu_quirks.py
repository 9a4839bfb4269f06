"""Store quirks, the sync answer and licence caps, in process (over Starlette's TestClient).

Each quirk is checked the way ``pisync doctor --write-check`` will use it: write a scratch user
with every element shape pisync writes, read it back, and find that exactly the quirk's shape
differs from what a plain emulator stores.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from emu_helpers import API, SEED, TestClient, bearer, login, state

from pi_emulator import EmulatorOptions, FaultConfig, JwtKeys, ShapeConfig, create_app
from pi_emulator.emulator import Emulator

SYNC = f"{API}/users/sync"
SCRATCH_CODE = "PISYNC-DOCTOR-1A2B"
#: every element shape pisync writes: roles, a nested category with its ancestor, plain and
#: secure variables, a restriction with several values, a parent, an expiry date, login flags
SCRATCH: dict[str, Any] = {
    "user": {
        "usercode": SCRATCH_CODE,
        "forenames": "Doctor",
        "surname": "Check",
        "parentIdentifier": "DPATEL",
        "userExpirationDate": "2031-01-31",
        "allowPasswordLogin": False,
        "allowExternalLogin": True,
    },
    "userRoles": [{"roleIdentifier": "Finance Viewer"}],
    "userCategories": [{"categoryIdentifier": "Finance"}, {"categoryIdentifier": "Budgets"}],
    "variables": [
        {"name": "region", "value": "North", "isSecure": False},
        {"name": "dbPassword", "value": "s3cret", "isSecure": True},
    ],
    "restrictions": [
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "North"},
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "South"},
    ],
}


def _read_back(client: TestClient, usercode: str = SCRATCH_CODE) -> Any:
    response = client.get(f"{API}/users/syncPayload", params={"usercode": usercode})
    assert response.status_code == 200, response.text
    return response.json()[0]


def _differences(plain: Any, other: Any) -> dict[str, Any]:
    """``section`` or ``user.field`` -> the other server's value, where it differs."""
    out: dict[str, Any] = {}
    for key, value in other.items():
        if key == "user":
            out |= {f"user.{k}": v for k, v in value.items() if plain["user"][k] != v}
        elif plain[key] != value:
            out[key] = value
    return out


def _write_scratch(client: TestClient) -> Any:
    response = client.post(SYNC, json=[SCRATCH])
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("quirk", "differences"),
    [
        ("restrictions-first-value",
         {"restrictions": [{"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region",
                            "value": "North"}]}),
        ("variables-secure-cleared",
         {"variables": [{"name": "region", "value": "North", "isSecure": False},
                        {"name": "dbPassword", "value": "s3cret", "isSecure": False}]}),
        ("variables-secure-masked",
         {"variables": [{"name": "region", "value": "North", "isSecure": False},
                        {"name": "dbPassword", "value": "********", "isSecure": True}]}),
        ("expiry-as-timestamp", {"user.userExpirationDate": "2031-01-31T00:00:00.000+00:00"}),
        ("categories-no-ancestors", {"userCategories": [{"categoryIdentifier": "Budgets"}]}),
        ("roles-case-folded", {"userRoles": [{"roleIdentifier": "finance viewer"}]}),
        ("parent-ignored", {"user.parentId": 1, "user.parentIdentifier": "ADMIN"}),
        ("sync-additive", {}),  # a create has nothing to keep; see the update test
        ("user-delete-refused", {}),
        ("user-delete-forbidden", {}),
    ],
)  # fmt: skip
def test_each_quirk_changes_exactly_its_own_shape(
    shaped: Any, quirk: str, differences: dict[str, Any]
) -> None:
    plain = shaped()
    quirked = shaped(store_quirks=[quirk])
    plain_answer = _write_scratch(plain)
    quirked_answer = _write_scratch(quirked)
    expected = _read_back(plain)
    stored = _read_back(quirked)
    assert _differences(expected, stored) == differences
    # the answer to the sync carries what was stored, quirk included
    assert (plain_answer, quirked_answer) == ([expected], [stored])


def test_sync_additive_keeps_what_the_payload_left_out(shaped: Any) -> None:
    update = {"user": {"usercode": SCRATCH_CODE, "surname": "Checked"}}
    cleared = shaped()
    kept = shaped(store_quirks=["sync-additive"])
    for client in (cleared, kept):
        _write_scratch(client)
        assert client.post(SYNC, json=[update]).status_code == 200
    kept_back = _read_back(kept)
    assert _differences(_read_back(cleared), kept_back) == {
        key: kept_back[key] for key in ("variables", "restrictions", "userRoles", "userCategories")
    }
    assert _read_back(cleared)["variables"] == []
    assert _read_back(kept)["userRoles"] == [{"roleIdentifier": "Finance Viewer"}]
    # the user section is still not additive: an omitted field takes its default
    assert _read_back(kept)["user"]["userExpirationDate"] is None
    # a list given again is merged: the old items first, a variable given again takes its value
    variables = [{"name": "dbPassword", "value": "new", "isSecure": True},
                 {"name": "team", "value": "A", "isSecure": False}]  # fmt: skip
    again = {**update, "variables": variables}
    assert kept.post(SYNC, json=[again]).status_code == 200
    assert _read_back(kept)["variables"] == [
        {"name": "region", "value": "North", "isSecure": False},
        {"name": "dbPassword", "value": "new", "isSecure": True},
        {"name": "team", "value": "A", "isSecure": False},
    ]


def test_expiry_as_timestamp_shows_in_user_objects_too(shaped: Any) -> None:
    client = shaped(store_quirks=["expiry-as-timestamp"])
    _write_scratch(client)
    found = client.get(f"{API}/users", params={"usercode(eq)": SCRATCH_CODE}).json()["content"]
    assert found[0]["userExpirationDate"] == "2031-01-31T00:00:00.000+00:00"
    by_id = client.get(f"{API}/users/{found[0]['id']}").json()
    assert by_id["userExpirationDate"] == "2031-01-31T00:00:00.000+00:00"
    # what the state keeps is the date it was sent
    stored = [u for u in state(client)["users"] if u["user"]["usercode"] == SCRATCH_CODE]
    assert stored[0]["user"]["userExpirationDate"] == "2031-01-31"


def test_quirks_apply_only_to_writes_after_they_are_set(shaped: Any) -> None:
    client = shaped()
    _write_scratch(client)
    response = client.put("/_emulator/options", json={"store_quirks": ["restrictions-first-value"]})
    assert response.json()["store_quirks"] == ["restrictions-first-value"]
    assert len(_read_back(client)["restrictions"]) == 2  # stored before: as it was sent
    _write_scratch(client)
    assert len(_read_back(client)["restrictions"]) == 1


@pytest.mark.parametrize(
    ("quirk", "status", "message"),
    [
        ("user-delete-refused", 405, "method DELETE is not allowed on /pi/api/v2/users/3"),
        ("user-delete-forbidden", 403,
         "users cannot be deleted through the API: disable them (clientEnabled false)"),
    ],
)  # fmt: skip
def test_delete_quirks_refuse_and_disabling_still_works(
    shaped: Any, quirk: str, status: int, message: str
) -> None:
    client = shaped(store_quirks=[quirk])
    before = state(client)
    response = client.delete(f"{API}/users/3")
    assert (response.status_code, response.json()) == (status, {"message": message})
    assert state(client) == before
    disable = {"user": {"usercode": "BWONG", "clientEnabled": False}}
    assert client.post(SYNC, json=[disable]).json()[0]["user"]["clientEnabled"] is False


def test_a_quirk_applies_to_a_jwt_payload_claim_too() -> None:
    secret = "quirk-test-secret-0123456789-abcdefgh"
    options = EmulatorOptions(
        seed=SEED,
        faults=FaultConfig(fault_seed=1),
        shape=ShapeConfig(store_quirks=("categories-no-ancestors",)),
        jwt=JwtKeys(hs256_secret=secret),
    )
    with TestClient(create_app(Emulator(options)), base_url="http://pi.test") as client:
        element = {"user": {"usercode": "NEWBIE", "forenames": "N", "surname": "B"},
                   "userCategories": ["Finance", "Budgets"]}  # fmt: skip
        claims = {
            "https://www.panintelligence.com/claims/usercode": "NEWBIE",
            "https://www.panintelligence.com/claims/userSyncPayload": [element],
        }
        token = jwt.encode(claims, secret, algorithm="HS256")
        assert client.post("/pi/auth/jwtLogin", json={"jwt": token}).status_code == 200
        client.headers["Authorization"] = f"Bearer {login(client)}"
        assert _read_back(client, "NEWBIE")["userCategories"] == [{"categoryIdentifier": "Budgets"}]


def test_unknown_quirks_are_400_naming_the_known_ones(shaped: Any) -> None:
    client = shaped()
    response = client.put("/_emulator/options", json={"store_quirks": ["typo"]})
    assert (response.status_code, response.json()) == (
        400,
        {
            "message": "store_quirks must be an array of store quirks from: "
            "restrictions-first-value, variables-secure-cleared, variables-secure-masked, "
            "expiry-as-timestamp, categories-no-ancestors, roles-case-folded, parent-ignored, "
            "sync-additive, user-delete-refused, user-delete-forbidden, got an array"
        },
    )


# -- what POST /users/sync answers (reference U6) ------------------------------------------------


def test_sync_answer_payload_is_the_stored_payload_array(shaped: Any) -> None:
    client = shaped(sync_answer="payload")
    assert _write_scratch(client) == [_read_back(client)]


def test_sync_answer_user_is_the_user_object(shaped: Any) -> None:
    client = shaped(sync_answer="user")
    answer = _write_scratch(client)
    listed = client.get(f"{API}/users", params={"usercode(eq)": SCRATCH_CODE}).json()["content"]
    assert answer == listed[0]
    two = [{"user": {"usercode": "A1", "forenames": "A", "surname": "One"}},
           {"user": {"usercode": "B2", "forenames": "B", "surname": "Two"}}]  # fmt: skip
    answer = client.post(SYNC, json=two).json()
    assert [(u["id"], u["usercode"]) for u in answer] == [(5, "A1"), (6, "B2")]


def test_sync_answer_empty_is_200_without_a_body(shaped: Any) -> None:
    client = shaped(sync_answer="empty")
    response = client.post(SYNC, json=[SCRATCH])
    assert (response.status_code, response.content) == (200, b"")
    assert _read_back(client)["user"]["surname"] == "Check"
    # a refusal still says why
    refused = client.post(SYNC, json=[{"user": {"usercode": "X"}}])
    assert refused.status_code == 400


# -- licence caps (reference S16) -----------------------------------------------------------------


def _user(code: str, **fields: Any) -> dict[str, Any]:
    return {"user": {"usercode": code, "forenames": "F", "surname": "S", **fields}}


def test_a_sync_over_a_licence_cap_is_refused_whole(shaped: Any) -> None:
    # the seed: ADMIN and DPATEL are administrators, BWONG a user (type 3)
    client = shaped(licence={"administrators": 2, "total": 4})
    before = state(client)
    response = client.post(SYNC, json=[_user("N1", userTypeId=0), _user("N2"), _user("N3")])
    assert (response.status_code, response.json()) == (
        400,
        {
            "message": "licence exceeded: the licence allows 2 administrators (userTypeId 0) "
            "and this request would make 3; the licence allows 4 enabled users in total and "
            "this request would make 6: disable users of that kind first, or use a larger "
            "licence"
        },
    )
    assert state(client) == before
    # within the caps: fine; a disabled user counts for nothing
    assert (
        client.post(SYNC, json=[_user("N2"), _user("N3", clientEnabled=False)]).status_code == 200
    )
    over = client.post(SYNC, json=[_user("N4")])
    assert over.json()["message"].startswith(
        "licence exceeded: the licence allows 4 enabled users in total and this request "
        "would make 5"
    )


def test_a_licence_counts_lite_users_apart_and_allows_what_lowers_a_count(shaped: Any) -> None:
    client = shaped(licence={"lite": 1, "users": 1})
    # BWONG already fills "users"; turning it lite moves it to "lite" (users goes down)
    assert client.post(SYNC, json=[_user("BWONG", lite=True)]).status_code == 200
    assert client.post(SYNC, json=[_user("N1")]).status_code == 200
    refused = client.post(SYNC, json=[_user("N2", lite=True)])
    assert refused.json()["message"].startswith(
        "licence exceeded: the licence allows 1 lite users and this request would make 2"
    )
    # a lower licence leaves the server over its cap; an unrelated change still passes
    client.put("/_emulator/options", json={"licence": {"users": 0}})
    assert client.post(SYNC, json=[_user("N1", surname="Renamed")]).status_code == 200
    # and deleting frees a place
    client.put("/_emulator/options", json={"licence": {"lite": 1}})
    assert client.delete(f"{API}/users/3").status_code == 204
    assert client.post(SYNC, json=[_user("N2", lite=True)]).status_code == 200


def test_a_jwt_login_over_the_licence_is_refused() -> None:
    secret = "licence-test-secret-0123456789-abcdefgh"
    options = EmulatorOptions(
        seed=SEED,
        faults=FaultConfig(fault_seed=1),
        shape=ShapeConfig(licence={"total": 3}),
        jwt=JwtKeys(hs256_secret=secret),
    )
    with TestClient(create_app(Emulator(options)), base_url="http://pi.test") as client:
        claims = {
            "https://www.panintelligence.com/claims/usercode": "NEWBIE",
            "https://www.panintelligence.com/claims/userSyncPayload": [_user("NEWBIE")],
        }
        token = jwt.encode(claims, secret, algorithm="HS256")
        response = client.post("/pi/auth/jwtLogin", json={"jwt": token})
        assert (response.status_code, response.json()) == (401, {"message": "JWT login failed"})
        assert client.get("/_emulator/requests").json()[-1]["detail"] == (
            "the userSyncPayload claim was refused: licence exceeded: the licence allows 3 "
            "enabled users in total and this request would make 4: disable users of that kind "
            "first, or use a larger licence"
        )


@pytest.mark.parametrize(
    ("licence", "message"),
    [
        ({"admins": 1}, "licence must be an object of caps (integers >= 0) for: administrators, "
                        "designers, chart_explorers, users, chart_viewers, lite, total, or null, "
                        "got an object"),
        ({"total": -1}, None),
        ({"total": True}, None),
    ],
)  # fmt: skip
def test_bad_licences_are_400(shaped: Any, licence: Any, message: str | None) -> None:
    client = shaped()
    response = client.put("/_emulator/options", json={"licence": licence})
    assert response.status_code == 400
    assert response.json()["message"].startswith("licence must be an object of caps")
    if message is not None:
        assert response.json()["message"] == message


# -- a non-super-admin account with editUsers ----------------------------------------------------


def test_a_seeded_editor_updates_but_cannot_create(shaped: Any) -> None:
    client = shaped()
    editor = bearer(client, "dpatel", "dpatel-pw")
    update = client.post(SYNC, json=[_user("BWONG", surname="Wong-Li")], headers=editor)
    assert update.json()[0]["user"]["surname"] == "Wong-Li"
    create = client.post(SYNC, json=[_user("NEW1")], headers=editor)
    assert (create.status_code, create.json()) == (
        403,
        {"message": "only the super admin can create users through POST /users/sync: "
                    "DPATEL cannot create NEW1"},
    )  # fmt: skip
