"""Capacity: at most K API requests served at once, the rest wait in arrival order; the stats
endpoint proves it. In process (asyncio, exact counts) and over real HTTP."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from emu_helpers import API, basic, make_emulator

from pi_emulator import FaultConfig, create_app
from pi_emulator.process import EmulatorProcess


@asynccontextmanager
async def _client(**faults: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client signed in as ADMIN, of an emulator with these fault options."""
    app = create_app(make_emulator(faults=FaultConfig(fault_seed=1).updated(faults)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pi.test") as client:
        token = await client.post(f"{API}/tokens", headers=basic("ADMIN", "dashboard"))
        client.headers["Authorization"] = f"Bearer {token.json()['token']}"
        assert (await client.delete("/_emulator/stats")).status_code == 204
        yield client


async def _stats(client: httpx.AsyncClient) -> Any:
    return (await client.get("/_emulator/stats")).json()


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (the app and the client share it)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@in_loop
async def test_at_most_k_served_at_once_and_the_rest_wait() -> None:
    async with _client(capacity=2, latency_ms=50) as client:
        started = time.monotonic()
        answers = await asyncio.gather(*(client.get(f"{API}/roles") for _ in range(6)))
        elapsed = time.monotonic() - started
        assert [a.status_code for a in answers] == [200] * 6
        assert await _stats(client) == {
            "capacity": 2,
            "serving": 0,
            "waiting": 0,
            "peak_serving": 2,
            "peak_waiting": 4,
            "completed": 6,
        }
        assert elapsed >= 3 * 0.050  # three rounds of two


@in_loop
async def test_waiting_requests_are_served_in_arrival_order() -> None:
    async with _client(capacity=1, latency_ms=10) as client:
        finished: list[int] = []

        async def call(n: int) -> None:
            await client.get(f"{API}/users/syncPayload", params={"usercode": "BWONG"})
            finished.append(n)

        tasks = []
        for n in range(5):
            tasks.append(asyncio.create_task(call(n)))
            await asyncio.sleep(0.001)  # arrive in this order
        await asyncio.gather(*tasks)
        assert finished == [0, 1, 2, 3, 4]
        assert (await _stats(client))["peak_serving"] == 1


@in_loop
async def test_without_a_capacity_the_stats_count_what_the_client_had_in_flight() -> None:
    async with _client(latency_ms=30) as client:
        await asyncio.gather(*(client.get(f"{API}/roles") for _ in range(5)))
        assert await _stats(client) == {
            "capacity": None,
            "serving": 0,
            "waiting": 0,
            "peak_serving": 5,
            "peak_waiting": 0,
            "completed": 5,
        }


@in_loop
async def test_raising_the_capacity_at_runtime_admits_waiting_requests_at_once() -> None:
    async with _client(capacity=1, latency_ms=300) as client:
        calls = [asyncio.create_task(client.get(f"{API}/roles")) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert (await _stats(client)) | {"peak_serving": None} == {
            "capacity": 1,
            "serving": 1,
            "waiting": 2,
            "peak_serving": None,
            "peak_waiting": 2,
            "completed": 0,
        }
        started = time.monotonic()
        changed = await client.put("/_emulator/faults", json={"capacity": 3})
        assert changed.json()["capacity"] == 3
        await asyncio.gather(*calls)
        # the two waiting ones started together: about one latency, not two
        assert time.monotonic() - started < 0.55
        assert (await _stats(client))["peak_serving"] == 3


@in_loop
async def test_a_latency_change_at_runtime_applies_under_a_capacity() -> None:
    async with _client(capacity=2, latency_ms=20) as client:

        async def timed_round() -> float:
            started = time.monotonic()
            await asyncio.gather(*(client.get(f"{API}/roles") for _ in range(4)))
            return time.monotonic() - started

        fast = await timed_round()
        await client.put("/_emulator/faults", json={"latency_ms": 80})
        slow = await timed_round()
        assert fast >= 2 * 0.020
        assert slow >= 2 * 0.080
        assert slow > fast
        stats = await _stats(client)
        assert (stats["peak_serving"], stats["completed"]) == (2, 8)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
@in_loop
async def test_a_bad_capacity_is_400(bad: object) -> None:
    async with _client() as client:
        answer = await client.put("/_emulator/faults", json={"capacity": bad})
        assert answer.status_code == 400
        assert answer.json()["message"].startswith("capacity must be an integer >= 1 or null, got")


@in_loop
async def test_cancelled_waiters_leave_the_queue() -> None:
    async with _client(capacity=1, latency_ms=200) as client:
        first = asyncio.create_task(client.get(f"{API}/roles"))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(client.get(f"{API}/roles"))
        await asyncio.sleep(0.02)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        await first
        assert (await _stats(client)) | {"peak_waiting": None} == {
            "capacity": 1,
            "serving": 0,
            "waiting": 0,
            "peak_serving": 1,
            "peak_waiting": None,
            "completed": 1,
        }


def test_capacity_over_real_http(tmp_path: Path) -> None:
    with EmulatorProcess.start(tmp_path, args=["--capacity", "2", "--latency-ms", "50"]) as emu:

        async def run() -> tuple[list[int], float]:
            async with httpx.AsyncClient(base_url=emu.url, timeout=10) as client:
                token = await client.post("/tokens", headers=basic("ADMIN", "dashboard"))
                client.headers["Authorization"] = f"Bearer {token.json()['token']}"
                emu.control("DELETE", "stats")
                started = time.monotonic()
                answers = await asyncio.gather(*(client.get("/roles") for _ in range(6)))
                return [a.status_code for a in answers], time.monotonic() - started

        statuses, elapsed = asyncio.run(run())
        assert statuses == [200] * 6
        stats = emu.control("GET", "stats")
        assert (stats["capacity"], stats["peak_serving"], stats["completed"]) == (2, 2, 6)
        assert 1 <= stats["peak_waiting"] <= 4
        assert elapsed >= 3 * 0.050
        # the latency doubles mid-run: the cap holds and each round takes twice as long
        emu.control("PUT", "faults", {"latency_ms": 100})
        statuses, elapsed = asyncio.run(run())
        assert statuses == [200] * 6
        assert elapsed >= 3 * 0.100
        assert emu.control("GET", "stats")["peak_serving"] == 2
