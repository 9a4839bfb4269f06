"""POST /tokens (Basic, both forms), Bearer checks, keepAlive, invalidate, token expiry."""

from __future__ import annotations

import base64

import pytest
from emu_helpers import API, Clock, TestClient, basic, bearer, login

from pi_emulator import Emulator

BAD_FORM = "Basic credentials must be base64(usercode:password) or usercode:password"


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"ADMIN:dashboard").decode(),
        "basic " + base64.b64encode(b"admin:dashboard").decode(),
        "BASIC admin:dashboard",
        "Basic admin:dashboard",
        "basic Admin:dashboard",
    ],
)
def test_tokens_accepts_base64_and_clear_text_in_any_scheme_case(
    client: TestClient, header: str
) -> None:
    response = client.post(f"{API}/tokens", headers={"Authorization": header})
    assert response.status_code == 200
    assert list(response.json()) == ["token"]
    token = response.json()["token"]
    assert len(token) >= 32
    for scheme in ("Bearer", "bearer"):
        headers = {"Authorization": f"{scheme} {token}"}
        check = client.post(f"{API}/tokens/keepAlive", headers=headers)
        assert (check.status_code, check.json()) == (200, {})


def test_tokens_are_opaque_and_distinct(client: TestClient) -> None:
    assert login(client) != login(client)


def test_tokens_ignores_unknown_body_fields(client: TestClient) -> None:
    response = client.post(
        f"{API}/tokens", headers=basic("admin", "dashboard"), json={"rememberMe": True}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Authorization header: send Authorization: Basic ..."),
        ({"Authorization": "Bearer abc"}, "the Authorization header must use the Basic scheme"),
        ({"Authorization": "Basic"}, "the Authorization header must use the Basic scheme"),
        ({"Authorization": "Basic !!notbase64"}, BAD_FORM),
        ({"Authorization": "Basic admin:wrong"}, "invalid usercode or password"),
        ({"Authorization": "Basic nobody:dashboard"}, "invalid usercode or password"),
        ({"Authorization": "Basic :dashboard"}, BAD_FORM),
    ],
)
def test_bad_credentials_are_401(client: TestClient, headers: dict[str, str], message: str) -> None:
    response = client.post(f"{API}/tokens", headers=headers)
    assert (response.status_code, response.json()) == (401, {"message": message})


def test_seeded_user_signs_in_with_emulator_password(client: TestClient) -> None:
    assert client.post(f"{API}/tokens", headers=basic("bwong", "bwong-pw")).status_code == 200


def test_disabled_and_external_only_users_cannot_sign_in(
    client: TestClient, auth: dict[str, str]
) -> None:
    user = {"usercode": "BWONG", "forenames": "Ben", "surname": "Wong", "allowPasswordLogin": True}
    payload = {"user": {**user, "clientEnabled": False}}
    assert client.post(f"{API}/users/sync", json=[payload], headers=auth).status_code == 200
    response = client.post(f"{API}/tokens", headers=basic("bwong", "bwong-pw"))
    assert response.json() == {"message": "user BWONG is disabled"}
    payload["user"].update(clientEnabled=True, allowPasswordLogin=False)
    assert client.post(f"{API}/users/sync", json=[payload], headers=auth).status_code == 200
    response = client.post(f"{API}/tokens", headers=basic("bwong", "bwong-pw"))
    assert (response.status_code, response.json()) == (
        401,
        {"message": "password login is not allowed for user BWONG"},
    )


def test_expired_user_cannot_sign_in(client: TestClient, auth: dict[str, str]) -> None:
    user = {"usercode": "BWONG", "forenames": "Ben", "surname": "Wong", "allowPasswordLogin": True}
    payload = {"user": {**user, "userExpirationDate": "2001-02-03"}}
    assert client.post(f"{API}/users/sync", json=[payload], headers=auth).status_code == 200
    response = client.post(f"{API}/tokens", headers=basic("bwong", "bwong-pw"))
    assert response.json() == {"message": "user BWONG expired on 2001-02-03"}


def test_log_in_as_another_user(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(
        f"{API}/tokens", headers=basic("admin", "dashboard"), json={"logInAsUsercode": "bwong"}
    )
    headers = {"Authorization": f"Bearer {response.json()['token']}"}
    # BWONG lacks editUsers, so the token really acts as BWONG
    listing = client.get(f"{API}/users", headers=headers)
    assert (listing.status_code, listing.json()) == (
        403,
        {"message": "BWONG needs the editUsers privilege to list users"},
    )
    refused = client.post(
        f"{API}/tokens", headers=basic("bwong", "bwong-pw"), json={"logInAsUsercode": "admin"}
    )
    assert (refused.status_code, refused.json()) == (
        403,
        {"message": "BWONG needs the canLogInAsAnotherUser privilege to use logInAsUsercode"},
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Authorization header: send Authorization: Bearer ..."),
        ({"Authorization": "Basic a:b"}, "the Authorization header must use the Bearer scheme"),
        ({"Authorization": "Bearer nope"}, "invalid token: sign in again with POST /tokens"),
    ],
)
def test_bearer_failures_are_401(client: TestClient, headers: dict[str, str], message: str) -> None:
    for method, path in (("GET", "/users"), ("POST", "/tokens/keepAlive"), ("GET", "/roles")):
        response = client.request(method, f"{API}{path}", headers=headers)
        assert (response.status_code, response.json()) == (401, {"message": message})


def test_invalidate_ends_the_token(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(f"{API}/tokens/invalidate", headers=auth)
    assert (response.status_code, response.json()) == (200, {})
    again = client.post(f"{API}/tokens/keepAlive", headers=auth)
    assert again.json() == {"message": "invalid token: sign in again with POST /tokens"}


def test_token_expires_after_ttl_of_inactivity(
    client: TestClient, auth: dict[str, str], clock: Clock
) -> None:
    client.put("/_emulator/faults", json={"token_ttl": 60})
    clock.now += 59
    assert client.post(f"{API}/tokens/keepAlive", headers=auth).status_code == 200
    clock.now += 59  # sliding: the keepAlive above restarted the 60 s
    assert client.get(f"{API}/roles", headers=auth).status_code == 200
    clock.now += 61
    response = client.get(f"{API}/roles", headers=auth)
    assert (response.status_code, response.json()) == (
        401,
        {"message": "token expired: sign in again with POST /tokens"},
    )
    assert client.post(f"{API}/tokens/keepAlive", headers=auth).status_code == 401


def test_absolute_token_ttl_ignores_activity(
    client: TestClient, auth: dict[str, str], clock: Clock
) -> None:
    client.put("/_emulator/faults", json={"token_ttl": 10, "token_ttl_mode": "absolute"})
    for _ in range(3):
        clock.now += 3
        assert client.post(f"{API}/tokens/keepAlive", headers=auth).status_code == 200
    clock.now += 2
    assert client.post(f"{API}/tokens/keepAlive", headers=auth).status_code == 401


def test_token_ttl_zero_never_expires(
    client: TestClient, auth: dict[str, str], clock: Clock
) -> None:
    client.put("/_emulator/faults", json={"token_ttl": 0})
    clock.now += 10**7
    assert client.get(f"{API}/roles", headers=auth).status_code == 200


def test_token_of_a_deleted_user_stops_working(client: TestClient, auth: dict[str, str]) -> None:
    headers = bearer(client, "bwong", "bwong-pw")
    bwong = client.get(f"{API}/users", params={"usercode(eq)": "BWONG"}, headers=auth).json()
    user_id = bwong["content"][0]["id"]
    assert client.delete(f"{API}/users/{user_id}", headers=auth).status_code == 204
    response = client.get(f"{API}/roles", headers=headers)
    assert response.json() == {"message": "the user this token belongs to no longer exists"}


def test_emulator_object_exposed_for_tests(emulator: Emulator) -> None:
    assert emulator.store.user_by_code("admin") is not None
