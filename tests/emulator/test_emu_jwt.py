"""The JWT login path in process: keys, claims, the payload claim, refusals and the request log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from emu_helpers import API, SEED, TestClient, basic, expected_user, state

from pi_emulator import Emulator, EmulatorOptions, FaultConfig, JwtKeys, create_app

SECRET = "an-hs256-secret-for-the-tests-only-0123456789"
CLAIMS = "https://www.panintelligence.com/claims/"
LOGIN = "/pi/auth/jwtLogin"
FAILED = {"message": "JWT login failed"}
NOT_CONFIGURED = {
    "message": "JWT login is not configured (start with --jwt-public-key or --jwt-hs256-secret-env)"
}


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _client(keys: JwtKeys | None) -> TestClient:
    options = EmulatorOptions(seed=SEED, faults=FaultConfig(fault_seed=1), jwt=keys)
    return TestClient(create_app(Emulator(options)), base_url="http://pi.test")


@pytest.fixture
def client(private_key: rsa.RSAPrivateKey) -> Iterator[TestClient]:
    keys = JwtKeys(public_key=private_key.public_key(), hs256_secret=SECRET)
    with _client(keys) as test_client:
        yield test_client


def hs256(**claims: Any) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def claims(usercode: str | None = None, email: str | None = None, payload: Any = None) -> Any:
    out: dict[str, Any] = {}
    if usercode is not None:
        out[CLAIMS + "usercode"] = usercode
    if email is not None:
        out[CLAIMS + "email"] = email
    if payload is not None:
        out[CLAIMS + "userSyncPayload"] = payload
    return out


def _login(client: TestClient, token: str) -> Any:
    return client.post(LOGIN, json={"jwt": token})


def _last_log(client: TestClient) -> Any:
    return client.get("/_emulator/requests").json()[-1]


NEWBIE = [
    {
        "user": {
            "usercode": "newbie",
            "forenames": "New",
            "surname": "Bie",
            "email": "new.bie@example.com",
            "allowPasswordLogin": True,
            "allowExternalLogin": False,
            "password": "never-stored",
        },
        "userRoles": ["Finance Viewer"],
        "userCategories": ["Finance", "Budgets"],
    }
]


def test_without_keys_the_endpoints_are_404() -> None:
    with _client(None) as client:
        for response in (_login(client, hs256()), client.get("/pi/", params={"jwt": hs256()})):
            assert (response.status_code, response.json()) == (404, NOT_CONFIGURED)


def test_a_payload_claim_creates_the_user_as_sync_would(client: TestClient) -> None:
    response = _login(client, hs256(**claims("NEWBIE", payload=NEWBIE)))
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['token']}"}
    own = client.get(f"{API}/users/syncPayload", params={"usercode": "newbie"}, headers=headers)
    assert own.json() == [
        {
            "user": expected_user("NEWBIE", "New", "Bie", email="new.bie@example.com"),
            "variables": [],
            "restrictions": [],
            "userRoles": [{"roleIdentifier": "Finance Viewer"}],
            "userCategories": [
                {"categoryIdentifier": "Finance"},
                {"categoryIdentifier": "Budgets"},
            ],
        }
    ]
    # login flags forced: no password was kept, so password login is refused
    refused = client.post(f"{API}/tokens", headers=basic("NEWBIE", "never-stored"))
    assert refused.json() == {"message": "password login is not allowed for user NEWBIE"}


def test_a_payload_claim_updates_non_additively(client: TestClient) -> None:
    payload = [{"user": {"usercode": "BWONG", "email": "ben@example.com"}}]
    assert _login(client, hs256(**claims("bwong", payload=payload))).status_code == 200
    bwong = next(u for u in state(client)["users"] if u["user"]["usercode"] == "BWONG")
    assert (bwong["id"], bwong["password"], bwong["userRoles"], bwong["user"]) == (
        3,
        None,
        [],
        {"usercode": "BWONG", "forenames": "Ben", "surname": "Wong", "email": "ben@example.com"},
    )


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_rsa_signed_tokens(
    client: TestClient, private_key: rsa.RSAPrivateKey, algorithm: str
) -> None:
    token = jwt.encode(claims("BWONG"), private_key, algorithm=algorithm)
    assert _login(client, token).status_code == 200


def test_the_token_may_come_as_json_form_text_or_query(client: TestClient) -> None:
    token = hs256(**claims("BWONG"), exp=int(time.time()) + 60, iat=int(time.time()) - 5)
    answers = [
        client.post(LOGIN, json={"jwt": token}),
        client.post(LOGIN, data={"jwt": token}),
        client.post(LOGIN, content=token, headers={"Content-Type": "text/plain"}),
        client.get("/pi/", params={"jwt": token, "cookieName": "pi"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert len({a.json()["token"] for a in answers}) == 4
    entry = _last_log(client)
    assert entry == {
        "seq": 4,
        "method": "GET",
        "path": "/pi/",
        "query": "jwt=(redacted)&cookieName=pi",
        "status": 200,
        "appStatus": 200,
        "usercodes": ["BWONG"],
        "fault": None,
        "detail": None,
    }


def test_an_email_claim_finds_the_user_when_there_is_no_usercode_claim(client: TestClient) -> None:
    response = _login(client, hs256(**claims(email="BEN.WONG@example.com")))
    assert response.status_code == 200
    assert _last_log(client)["usercodes"] == ["BWONG"]


def test_the_usercode_claim_wins_over_email(client: TestClient) -> None:
    payload = [{"user": {"usercode": "BWONG", "forenames": "Ben", "surname": "Wong"}}]
    token = hs256(**claims("BWONG", email="someone.else@example.com", payload=payload))
    assert _login(client, token).status_code == 200


def _disabled(client: TestClient) -> None:
    token = client.post(f"{API}/tokens", headers=basic("ADMIN", "dashboard")).json()["token"]
    body = [{"user": {"usercode": "gone", "forenames": "G", "surname": "One",
                      "clientEnabled": False}}]  # fmt: skip
    client.post(f"{API}/users/sync", json=body, headers={"Authorization": f"Bearer {token}"})


REFUSALS: list[tuple[str, Any, str]] = [
    ("wrong secret", jwt.encode(claims("BWONG"), "another-secret-" * 3, algorithm="HS256"),
     "the JWT signature does not verify"),
    ("expired", hs256(**claims("BWONG"), exp=1_000_000), "the JWT has expired (exp)"),
    ("not yet", hs256(**claims("BWONG"), nbf=4_000_000_000),
     "the JWT is not valid yet: The token is not yet valid (nbf)"),
    ("issued later", hs256(**claims("BWONG"), iat=4_000_000_000),
     "the JWT is not valid yet: The token is not yet valid (iat)"),
    ("alg none", jwt.encode(claims("BWONG"), None, algorithm="none"),
     'JWT algorithm "none" is not accepted (RS256, RS384, RS512, HS256)'),
    ("HS384", jwt.encode(claims("BWONG"), SECRET + SECRET, algorithm="HS384"),
     'JWT algorithm "HS384" is not accepted (RS256, RS384, RS512, HS256)'),
    ("garbage", "not-a-jwt", "the JWT is malformed: Not enough segments"),
    ("no identity", hs256(sub="x"), "the JWT has neither a usercode nor an email claim"),
    ("unknown user", hs256(**claims("GHOST")), 'no user has usercode "GHOST"'),
    ("unknown email", hs256(**claims(email="ghost@example.com")),
     'no user has email "ghost@example.com"'),
    ("no external login", hs256(**claims("ADMIN")), "user ADMIN does not allow external login"),
    ("disabled", hs256(**claims("GONE")), "user GONE is disabled"),
    ("usercode mismatch", hs256(**claims("BWONG", payload=NEWBIE)),
     'the usercode claim "BWONG" does not match the payload usercode "newbie"'),
    ("email mismatch", hs256(**claims(email="ben.wong@example.com", payload=NEWBIE)),
     'the email claim "ben.wong@example.com" does not match the payload email '
     '"new.bie@example.com"'),
    ("payload not an array", hs256(**claims("NEWBIE", payload=NEWBIE[0])),
     "the userSyncPayload claim must be an array of one payload element, got an object"),
    ("payload as a string", hs256(**claims("NEWBIE", payload=json.dumps(NEWBIE))),
     'the userSyncPayload claim must be an array of one payload element, got "'
     + json.dumps(NEWBIE) + '"'),
    ("payload refused", hs256(**claims("NEWBIE", payload=[{**NEWBIE[0], "userRoles": ["Nope"]}])),
     'the userSyncPayload claim was refused: payload[0] (NEWBIE): unknown role "Nope" in '
     "userRoles"),
    ("super admin", hs256(**claims("ADMIN", payload=[{"user": {"usercode": "ADMIN"}}])),
     "the userSyncPayload claim was refused: payload[0] (ADMIN): password login cannot be "
     "disabled for the super admin"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("token", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refusals_are_generic_and_logged_precisely(
    client: TestClient, token: str, reason: str
) -> None:
    _disabled(client)
    before = state(client)
    response = _login(client, token)
    assert (response.status_code, response.json()) == (401, FAILED)
    entry = _last_log(client)
    assert (entry["path"], entry["status"], entry["detail"]) == (LOGIN, 401, reason)
    assert state(client) == before


def test_no_token_at_all(client: TestClient) -> None:
    for response in (client.post(LOGIN), client.get("/pi/"), client.post(LOGIN, json={})):
        assert (response.status_code, response.json()) == (401, FAILED)
        assert _last_log(client)["detail"] == "the request carries no JWT"


def test_jwt_logins_are_never_faulted_and_hold_no_secret(client: TestClient) -> None:
    client.put("/_emulator/faults", json={"script": ["500"], "latency_ms": 0})
    token = hs256(**claims("BWONG"))
    assert _login(client, token).status_code == 200
    assert client.get("/_emulator/faults").json()["script"] == ["500"]
    text = json.dumps(client.get("/_emulator/requests").json())
    assert SECRET not in text
    assert token not in text


def test_the_secret_is_not_in_the_keys_repr() -> None:
    assert repr(JwtKeys(hs256_secret=SECRET)) == "JwtKeys(public_key=None)"
