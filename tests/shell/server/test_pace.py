"""The rate budget and the in-flight limit on their own, on a simulated clock: the window a
rate budget keeps, and how ``auto`` moves against a model server that serves K requests at
once (the rest queue) — what the end-to-end tests show against the emulator, here exactly
and fast."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from reconciler.shell.server.inflight import PROBE_EVERY, START, InFlight
from reconciler.shell.server.rate import RateBudget
from tests.e2e.loopback import busiest_second


class Clock:
    """Simulated time for one event loop: ``sleep`` parks the caller until the clock reaches
    its time; the clock jumps to the next wake-up only when every task is parked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._order), waiter))
        await waiter

    def run(self, main: Coroutine[Any, Any, Any]) -> Any:
        async def driver() -> Any:
            task = asyncio.ensure_future(main)
            while not task.done():
                for _ in range(50):  # let every runnable task run to its next wait
                    await asyncio.sleep(0)
                if self._timers and not task.done():
                    at, _, waiter = heapq.heappop(self._timers)
                    self.now = max(self.now, at)
                    waiter.set_result(None)
            return task.result()

        return asyncio.run(driver())


# --- the rate budget ---------------------------------------------------------------------


def sends_under_budget(
    rate: float, requests: int, latency: Callable[[int], float], workers: int = 16
) -> list[float]:
    """When each request was sent, ``workers`` at a time, each answered after ``latency(i)``."""
    clock = Clock()
    budget = RateBudget(rate, clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    numbers = iter(range(requests))

    async def worker() -> None:
        for i in numbers:
            ticket = await budget.acquire()
            sent.append(clock())
            await clock.sleep(latency(i))
            ticket.done()

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(workers)))

    clock.run(main())
    return sent


@pytest.mark.parametrize("rate", [1, 5, 8, 2.5])
def test_no_second_holds_more_than_the_rate_the_first_included(rate: float) -> None:
    sent = sends_under_budget(rate, 60, lambda i: 0.02)
    assert busiest_second(sent) == int(rate)
    assert sum(1 for t in sent if t < 1.0) == int(rate)  # the first second: no double burst


def test_a_request_answered_late_holds_its_place_until_a_second_after_its_answer() -> None:
    # a slow answer (the request may have reached the server just before it) keeps the
    # requests after it out of the window, whatever their own latency
    sent = sends_under_budget(5, 12, lambda i: 0.9 if i == 0 else 0.01)
    assert sent[:5] == [0.0] * 5
    assert sent[5] == pytest.approx(1.9)  # the first answer came at 0.9
    assert min(sent[6:]) >= 1.01


def test_below_one_a_second_one_request_per_period() -> None:
    sent = sends_under_budget(0.5, 4, lambda i: 0.0, workers=4)
    assert sent == [0.0, 2.0, 4.0, 6.0]


def test_after_a_pause_the_budget_does_not_burst_twice() -> None:
    clock = Clock()
    budget = RateBudget(4, clock=clock, sleep=clock.sleep)
    sent: list[float] = []

    async def main() -> None:
        for i in range(12):
            if i == 4:
                await clock.sleep(3.0)  # idle: a token bucket would refill here
            ticket = await budget.acquire()
            sent.append(clock())
            ticket.done()

    clock.run(main())
    assert busiest_second(sent) == 4


# --- the in-flight limit -----------------------------------------------------------------


def test_a_fixed_limit_is_a_semaphore() -> None:
    async def main() -> tuple[int, int]:
        slots = InFlight(3)
        peak = now = 0

        async def one() -> None:
            nonlocal peak, now
            await slots.acquire()
            sent = slots.sent()
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.001)
            now -= 1
            slots.done(sent)

        await asyncio.gather(*(one() for _ in range(20)))
        return peak, slots.limit

    assert asyncio.run(main()) == (3, 3)


def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    async def main() -> int:
        slots = InFlight(1)
        await slots.acquire()
        waiting = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        waiting.cancel()
        slots.done(None)
        await asyncio.wait_for(slots.acquire(), 1)  # not stuck behind the cancelled one
        return slots.limit

    assert asyncio.run(main()) == 1


class ModelServer:
    """Serves ``capacity`` requests at once, first come first served, each for ``latency``
    seconds (changeable)."""

    def __init__(self, clock: Clock, capacity: int, latency: float) -> None:
        self.clock = clock
        self.capacity = capacity
        self.latency = latency
        self.serving = 0
        self.queue: list[asyncio.Future[None]] = []
        self.peak_serving = 0

    async def serve(self) -> None:
        if self.serving >= self.capacity:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.queue.append(turn)
            await turn
        else:
            self.serving += 1
        self.peak_serving = max(self.peak_serving, self.serving)
        await self.clock.sleep(self.latency)
        if self.queue:
            self.queue.pop(0).set_result(None)  # the slot passes straight on
        else:
            self.serving -= 1


Trace = list[tuple[float, int, int, str]]


def run_auto(
    capacity: int,
    latency: float,
    requests: int,
    *,
    ceiling: int = 32,
    during: Callable[[ModelServer, int], Awaitable[None] | None] | None = None,
    overloaded: Callable[[float], bool] = lambda sent: False,
) -> tuple[Trace, ModelServer, InFlight]:
    """``requests`` requests through an ``auto`` limit against a :class:`ModelServer`, by
    ``ceiling`` workers; the limit's changes (time, new, old, why). ``overloaded(sent)``:
    whether the request sent at that time is refused (answered "HTTP 429")."""
    clock = Clock()
    changes: Trace = []
    slots = InFlight(
        ceiling,
        auto=True,
        on_limit=lambda new, old, why: changes.append((clock(), new, old, why)),
        clock=clock,
    )
    server = ModelServer(clock, capacity, latency)
    numbers = iter(range(requests))

    async def worker() -> None:
        for i in numbers:
            if during is not None:
                during(server, i)
            await slots.acquire()
            sent = slots.sent()
            await server.serve()
            slots.done(sent, overload="HTTP 429" if overloaded(sent) else None)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(ceiling)))

    clock.run(main())
    return changes, server, slots


def test_auto_starts_low_and_settles_near_the_capacity() -> None:
    changes, _, slots = run_auto(capacity=8, latency=0.02, requests=3000)
    assert [c[1] for c in changes[:3]] == [START * 2, START * 4, START * 8]  # slow start
    late = [new for at, new, _, _ in changes if at > changes[-1][0] / 2]
    assert min(late) >= 8, late
    assert max(late) <= 12, late
    assert 8 <= slots.limit <= 12


@pytest.mark.parametrize("capacity", [1, 3, 20])
def test_auto_follows_other_capacities(capacity: int) -> None:
    _, _, slots = run_auto(capacity=capacity, latency=0.02, requests=3000)
    assert capacity <= slots.limit <= capacity + max(2, capacity // 8) + 2


def test_auto_never_passes_the_ceiling() -> None:
    changes, server, _ = run_auto(capacity=100, latency=0.02, requests=2000, ceiling=6)
    assert max(new for _, new, _, _ in changes) == 6
    assert server.peak_serving == 6


def test_auto_lowers_the_limit_at_once_when_the_latency_doubles_then_relearns_it() -> None:
    doubled_at: list[float] = []

    def double(server: ModelServer, i: int) -> None:
        if i == 3000:
            server.latency = 0.04
            doubled_at.append(server.clock())

    changes, _, slots = run_auto(capacity=8, latency=0.02, requests=12000, during=double)
    at = doubled_at[0]
    before = [new for t, new, _, _ in changes if t < at][-1]
    after = [(t - at, new, why) for t, new, _, why in changes if t >= at]
    first_cut = next(a for a in after if a[1] < before)
    assert first_cut[0] < 0.5
    assert first_cut[2].startswith("answers slowed to ")
    assert min(new for t, new, _ in after if t < PROBE_EVERY) <= before / 2
    # the next probe measures the new pace: back near the capacity
    assert 8 <= slots.limit <= 12


def test_auto_halves_on_an_overload_once_per_episode() -> None:
    # every request sent during 15 ms is refused: all in flight together before the first
    # answer came back, one congestion episode, so one cut
    changes, _, _ = run_auto(
        capacity=8, latency=0.02, requests=3000, overloaded=lambda sent: 1.0 <= sent < 1.015
    )
    cuts = [(at, new, old) for at, new, old, why in changes if "overloaded" in why]
    assert [why for *_, why in changes if "overloaded" in why] == [
        "the server is overloaded: HTTP 429"
    ]
    ((at, new, old),) = cuts
    assert 1.0 < at < 1.1
    assert new == old // 2


def test_auto_cuts_again_while_the_overload_lasts() -> None:
    changes, _, slots = run_auto(
        capacity=8, latency=0.02, requests=3000, overloaded=lambda sent: 1.0 <= sent < 1.5
    )
    cuts = [new for _, new, _, why in changes if "overloaded" in why]
    assert cuts[-1] == 1  # down to one request at a time while every answer is a 429
    assert 8 <= slots.limit <= 12  # and back once it ends
