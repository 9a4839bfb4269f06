"""The rate budget (``server.max_requests_per_second``, ``--max-rps``): at most N requests
arrive at the server in any one-second window, the first second included, every attempt
counted.

A token bucket (aiolimiter's, for one) starts with a full burst and refills while it is
spent, so its first second passes up to twice the rate, and so does the first second after
any pause. Spacing the requests 1/N of a second apart holds at pisync's end, but not where
the server counts: one request delayed on its way (a new connection, a busy machine) and the
next on time put N + 1 arrivals into one second.

So the window is anchored on what pisync knows for certain: a request has arrived at the
server by the time its answer (or its failure) comes back. Request j is sent no sooner than
one second after the answer to request j - N came back, so that, whatever the network does,
request j arrives more than a second after request j - N did. The first N go at once. The
price is the latency: each of the N places in the window is busy for a second plus one
round trip (at 20 ms, 2% under the cap). N is the rate rounded down; below one per second,
one request per 1/rate seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable


class Ticket:
    """One request's place in the window; :meth:`done` when its answer (or failure) came
    back, or when it was never sent."""

    __slots__ = ("_clock", "_waiter", "answered_at")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.answered_at: float | None = None
        self._waiter: asyncio.Future[None] | None = None

    def done(self) -> None:
        if self.answered_at is None:
            self.answered_at = self._clock()
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    async def answered(self) -> float:
        if self.answered_at is None:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        assert self.answered_at is not None
        return self.answered_at


class RateBudget:
    """At most ``rate`` requests in any one-second window at the server (see above)."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a rate budget needs a rate above 0")
        self.places = math.floor(rate) if rate >= 1 else 1
        self.window = 1.0 if rate >= 1 else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[Ticket] = deque()  # the last ``places`` requests, oldest first
        self._turn = asyncio.Lock()  # first come, first served

    async def acquire(self) -> Ticket:
        """Wait until this request may go; its ticket, to mark ``done`` when answered."""
        async with self._turn:
            if len(self._sent) == self.places:
                free_at = await self._sent[0].answered() + self.window
                wait = free_at - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                self._sent.popleft()  # only now: a wait cut short keeps its place
            ticket = Ticket(self._clock)
            self._sent.append(ticket)
            return ticket
