"""Fault injection in process: 500/429/drop before and after processing, seeds, the request log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import pytest
from emu_helpers import API, TestClient, basic, make_emulator, state

from pi_emulator import ConnectionDropped, Emulator, EmulatorOptions, FaultConfig, create_app

SUM_TOO_BIG = "drop_rate + fail_rate + rate_limit_rate must not exceed 1"
BAD_SCRIPT = 'script must be an array of "500", "429", "drop" or null, got an array'
UNKNOWN_OPTION = (
    'unknown fault option "speed"; known: latency_ms, latency_jitter_ms, fail_rate, '
    "rate_limit_rate, retry_after, drop_rate, fault_phase, fault_seed, fault_methods, "
    "fault_paths, faults_on_login, token_ttl, token_ttl_mode, script, capacity"
)
NEW_USER = [{"user": {"usercode": "newbie", "forenames": "New", "surname": "Bie"}}]


def _faults(client: TestClient, **options: Any) -> Any:
    response = client.put("/_emulator/faults", json=options)
    assert response.status_code == 200, response.text
    return response.json()


def _log(client: TestClient) -> Any:
    return client.get("/_emulator/requests").json()


def _exists(client: TestClient, usercode: str) -> bool:
    return any(u["user"]["usercode"] == usercode for u in state(client)["users"])


def test_500_before_processing_changes_nothing(client: TestClient, auth: dict[str, str]) -> None:
    _faults(client, script=["500"])
    client.delete("/_emulator/requests")
    response = client.post(f"{API}/users/sync", json=NEW_USER, headers=auth)
    assert (response.status_code, response.json()) == (
        500,
        {"message": "internal server error (injected fault)"},
    )
    assert not _exists(client, "NEWBIE")
    assert _log(client) == [
        {
            "seq": 2,
            "method": "POST",
            "path": "/pi/api/v2/users/sync",
            "query": "",
            "status": 500,
            "appStatus": None,
            "usercodes": ["NEWBIE"],
            "fault": "500",
            "detail": None,
        }
    ]


def test_500_after_processing_keeps_the_write(client: TestClient, auth: dict[str, str]) -> None:
    _faults(client, script=["500"], fault_phase="after")
    response = client.post(f"{API}/users/sync", json=NEW_USER, headers=auth)
    assert response.status_code == 500
    assert _exists(client, "NEWBIE")
    entry = _log(client)[-1]
    assert (entry["status"], entry["appStatus"], entry["fault"]) == (500, 200, "500")
    # the retry is an update of the same user, never a second user
    retry = client.post(f"{API}/users/sync", json=NEW_USER, headers=auth)
    assert retry.status_code == 200
    assert [u["user"]["usercode"] for u in state(client)["users"]].count("NEWBIE") == 1


def test_429_carries_retry_after(client: TestClient, auth: dict[str, str]) -> None:
    _faults(client, script=["429"], retry_after=7)
    response = client.get(f"{API}/roles", headers=auth)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "message": "too many requests (injected fault): retry after 7 seconds"
    }


@pytest.mark.parametrize(("phase", "applied"), [("before", False), ("after", True)])
def test_drop_in_process_raises_an_httpx_transport_error(
    emulator: Emulator, phase: str, applied: bool
) -> None:
    app = create_app(emulator)
    emulator.faults.configure({"script": [None, "drop"], "fault_phase": phase})

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pi.test") as client:
            token = await client.post(f"{API}/tokens", headers=basic("admin", "dashboard"))
            headers = {"Authorization": f"Bearer {token.json()['token']}"}
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await client.post(f"{API}/users/sync", json=NEW_USER, headers=headers)
            assert isinstance(caught.value, ConnectionDropped)
            assert isinstance(caught.value, httpx.TransportError)

    asyncio.run(scenario())
    assert (emulator.store.user_by_code("NEWBIE") is not None) is applied
    entry = emulator.log.entries()[-1]
    assert (entry["status"], entry["fault"]) == (None, "drop")


def _fault_sequence(emulator: Emulator, count: int) -> list[Any]:
    with TestClient(create_app(emulator), base_url="http://pi.test") as client:
        headers = {"Authorization": "Bearer x"}
        for _ in range(count):
            with contextlib.suppress(ConnectionDropped):
                client.get(f"{API}/roles", headers=headers)
        return [e["fault"] for e in _log(client)]


def test_faults_are_reproducible_with_a_seed() -> None:
    config = FaultConfig(fault_seed=42, fail_rate=0.2, rate_limit_rate=0.1, drop_rate=0.05)
    first = _fault_sequence(make_emulator(faults=config), 200)
    second = _fault_sequence(make_emulator(faults=config), 200)
    assert first == second
    counts = {kind: first.count(kind) for kind in ("500", "429", "drop", None)}
    assert counts == {"500": 48, "429": 21, "drop": 10, None: 121}
    reseeded = FaultConfig(fault_seed=43, fail_rate=0.2, rate_limit_rate=0.1, drop_rate=0.05)
    other = _fault_sequence(make_emulator(faults=reseeded), 200)
    assert other != first


def test_setting_the_seed_again_restarts_the_sequence(client: TestClient) -> None:
    config = _faults(client, fault_seed=5, fail_rate=0.5)
    assert (config["fault_seed"], config["fail_rate"]) == (5, 0.5)
    for _ in range(2):
        client.delete("/_emulator/requests")
        _faults(client, fault_seed=5)
        for _ in range(20):
            client.get(f"{API}/roles")
        faults = [e["fault"] for e in _log(client)]
        assert faults == [
            None, None, None, None, None, None, "500", "500", None, None,
            None, "500", "500", "500", None, None, "500", "500", "500", None,
        ]  # fmt: skip


def test_an_unseeded_emulator_reports_the_seed_it_chose() -> None:
    emulator = Emulator()
    assert isinstance(emulator.faults.config.fault_seed, int)


def test_faults_can_spare_login_and_target_methods_and_paths(
    client: TestClient, auth: dict[str, str]
) -> None:
    _faults(client, fail_rate=1.0, faults_on_login=False, fault_methods=["post"],
            fault_paths=["/users/sync"])  # fmt: skip
    assert client.post(f"{API}/tokens", headers=basic("admin", "dashboard")).status_code == 200
    assert client.get(f"{API}/users", headers=auth).status_code == 200
    assert client.post(f"{API}/roles", json={"name": "R"}, headers=auth).status_code == 201
    assert client.post(f"{API}/users/sync", json=NEW_USER, headers=auth).status_code == 500
    _faults(client, faults_on_login=True, fault_paths=[], fault_methods=[])
    assert client.post(f"{API}/tokens", headers=basic("admin", "dashboard")).status_code == 500


def test_control_endpoints_are_never_faulted_or_logged(client: TestClient) -> None:
    _faults(client, fail_rate=1.0)
    client.delete("/_emulator/requests")
    assert client.get("/_emulator/health").status_code == 200
    assert client.get("/_emulator/state").status_code == 200
    assert _log(client) == []


def test_latency_is_added(client: TestClient, auth: dict[str, str]) -> None:
    _faults(client, latency_ms=120)
    started = time.monotonic()
    assert client.get(f"{API}/roles", headers=auth).status_code == 200
    assert time.monotonic() - started >= 0.12


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fail_rate": 2}, "fail_rate must be a number from 0 to 1, got 2"),
        ({"drop_rate": 0.6, "fail_rate": 0.6}, SUM_TOO_BIG),
        ({"fault_phase": "during"}, 'fault_phase must be one of before, after, got "during"'),
        ({"retry_after": 1.5}, "retry_after must be an integer >= 0, got 1.5"),
        ({"script": ["503"]}, BAD_SCRIPT),
        ({"token_ttl": -1}, "token_ttl must be seconds >= 0 or null, got -1"),
        ({"speed": 1}, UNKNOWN_OPTION),
    ],
)
def test_bad_fault_options_are_400(
    client: TestClient, options: dict[str, Any], message: str
) -> None:
    before = client.get("/_emulator/faults").json()
    response = client.put("/_emulator/faults", json=options)
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert client.get("/_emulator/faults").json() == before


def test_fault_options_read_back_whole(client: TestClient) -> None:
    assert _faults(client, latency_ms=5, fault_methods=["post"]) == {
        "latency_ms": 5.0,
        "latency_jitter_ms": 0.0,
        "fail_rate": 0.0,
        "rate_limit_rate": 0.0,
        "retry_after": 1,
        "drop_rate": 0.0,
        "fault_phase": "before",
        "fault_seed": 1,
        "fault_methods": ["POST"],
        "fault_paths": [],
        "faults_on_login": True,
        "token_ttl": 1800.0,
        "token_ttl_mode": "sliding",
        "script": [],
        "capacity": None,
    }


def test_request_log_records_sync_usercodes_and_can_be_cleared(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = [{"user": {"usercode": "a1"}}, {"user": {"usercode": "Bwong"}}]
    client.post(f"{API}/users/sync", json=body, headers=auth)
    client.get(f"{API}/users?usercode(eq)=x&page=1", headers=auth)
    log = _log(client)
    assert [(e["seq"], e["method"], e["path"], e["usercodes"], e["status"]) for e in log] == [
        (1, "POST", "/pi/api/v2/tokens", [], 200),
        (2, "POST", "/pi/api/v2/users/sync", ["A1", "BWONG"], 400),
        (3, "GET", "/pi/api/v2/users", [], 200),
    ]
    assert log[2]["query"] == "usercode(eq)=x&page=1"
    assert [e["seq"] for e in client.get("/_emulator/requests?since=2").json()] == [3]
    assert client.delete("/_emulator/requests").status_code == 204
    client.get(f"{API}/roles", headers=auth)
    assert [e["seq"] for e in _log(client)] == [4]


@pytest.mark.parametrize(
    ("keep", "seqs", "since_2"), [(2, [2, 3], [3]), (0, [], []), (None, [1, 2, 3], [3])]
)
def test_the_request_log_can_keep_only_the_newest(
    keep: int | None, seqs: list[int], since_2: list[int]
) -> None:
    emulator = Emulator(EmulatorOptions(request_log_max=keep))
    with TestClient(create_app(emulator), base_url="http://pi.test") as client:
        for _ in range(3):
            client.post(f"{API}/tokens", headers=basic("ADMIN", "dashboard"))
        assert [e["seq"] for e in client.get("/_emulator/requests").json()] == seqs
        since = client.get("/_emulator/requests", params={"since": 2}).json()
        assert [e["seq"] for e in since] == since_2
