"""How many requests pisync keeps in flight: a fixed number (``server.concurrency: N``), or
``auto``, a limit that follows the server's pace.

``auto`` is a delay-based congestion control, as TCP Vegas and Netflix's concurrency-limits
gradient are. A server that serves K requests at once makes the (K+1)-th wait, and waiting
shows as latency: with L requests in flight its answers take about ``L / K`` times as long
as the fastest answer it gives (the baseline), so ``L * (1 - baseline / latency)``
estimates how many of pisync's requests are queued at the server. Each round (as many
answers as the limit) the limit:

- grows while the queue stays under ``beta / 2`` and the limit was actually used: it doubles
  at first (slow start), then grows by one a round;
- shrinks towards ``L * baseline / latency + beta`` when the queue passes ``beta`` in two
  rounds in a row (one slow round on a busy machine is noise, not a queue), at most halving,
  so it settles a few requests above what the server serves at once: the server never idles
  between an answer and the next request, and it is never flooded;
- halves at once on an overload signal: a 429, 503 or 504, or no answer at all;
- stays within 1 and the ceiling (``server.max_concurrency``).

After a cut, answers to requests sent before it are its echo (they queued under the old
limit) and are not counted, as TCP reacts to one loss per window.

The baseline is the fastest round seen, measured afresh every :data:`PROBE_EVERY` seconds
in a round at half the limit (queueing would hide it otherwise; BBR's ProbeRTT does the
same): so a server whose latency doubles first makes pisync send less (the old baseline
reads the slowdown as a queue), and the next probe accepts the new pace.

The rate budget is separate (:mod:`reconciler.shell.server.rate`): the limit only grows when
the requests on the wire reach it, so a rate cap never inflates it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final

#: Where ``auto`` starts, and how often (seconds) it measures the server's fastest pace.
START: Final = 2
PROBE_EVERY: Final = 5.0

#: (new limit, previous limit, why) each time the limit changes.
OnLimit = Callable[[int, int, str], None]


class InFlight:
    """A semaphore whose size may change: ``acquire`` a slot, ``sent`` when the request goes
    on the wire (after the rate budget), then ``done`` with how long its answer took."""

    def __init__(
        self,
        limit: int,
        *,
        auto: bool = False,
        on_limit: OnLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(1, limit)
        self.auto = auto
        self._clock = clock
        self._held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._control = _Control(self.ceiling, on_limit, clock) if auto else None
        self._limit = min(START, self.ceiling) if auto else self.ceiling

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        return self._limit

    async def acquire(self) -> None:
        if self._held < self._limit and not self._waiters:
            self._held += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._held -= 1  # granted as it was cancelled: pass the slot on
                self._wake()
            else:
                self._waiters.remove(waiter)
            raise

    def sent(self) -> float:
        """The request goes on the wire now; the time to hand back to :meth:`done`."""
        if self._control is not None:
            self._control.on_wire(1)
        return self._clock()

    def done(self, sent: float | None, *, overload: str | None = None, sample: bool = True) -> None:
        """Give the slot back. ``sent``: what :meth:`sent` returned (None: never sent);
        ``sample``: the answer (or its absence, ``overload="no answer"``) says something of
        the server's pace; ``overload``: why the server seems overloaded, if it does."""
        self._held -= 1
        control = self._control
        if control is not None and sent is not None:
            control.on_wire(-1)
            if sample:
                limit = control.answered(self._clock() - sent, overload, self._limit)
                if limit != self._limit:
                    self._limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._held < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._held += 1
                waiter.set_result(None)


class _Control:
    """The ``auto`` limit's arithmetic (see the module docstring)."""

    def __init__(self, ceiling: int, on_limit: OnLimit | None, clock: Callable[[], float]) -> None:
        self.ceiling = ceiling
        self.limit = float(min(START, ceiling))
        self.on_limit = on_limit
        self.clock = clock
        self.slow_start = True
        self.baseline: float | None = None
        self.previous: float | None = None  # the last round's latency
        self.wire = 0  # requests on the wire now
        self.round: list[float] = []
        self.round_peak = 0  # most requests on the wire during the round
        self.round_overload: str | None = None
        self.cut_at = -math.inf  # the last cut: answers to requests sent before it are its echo
        self.next_probe = clock() + PROBE_EVERY
        self.probe: int | None = None  # the probe round's limit, while one runs
        self.drained_at: float | None = None  # when the wire came down to it

    def on_wire(self, change: int) -> None:
        self.wire += change
        if self.wire > self.round_peak:
            self.round_peak = self.wire
        if self.probe is not None and self.drained_at is None and self.wire <= self.probe:
            self.drained_at = self.clock()

    def answered(self, seconds: float, overload: str | None, current: int) -> int:
        """Record one answer (``seconds`` after it was sent); the limit to use from now on."""
        sent_at = self.clock() - seconds
        if sent_at < self.cut_at:
            return current  # sent before the last cut: an echo of the load that caused it
        if overload is not None:
            self.round_overload = self.round_overload or overload
            if self.probe is not None:  # no quiet pace to measure now
                self.probe = None
                self.next_probe = self.clock() + PROBE_EVERY
                self.round = []
        if self.probe is not None:
            return self._probed(seconds, sent_at, current)
        self.round.append(seconds)
        if len(self.round) < max(1, current) and self.round_overload is None:
            return current
        return self._end_round(current)

    def _end_round(self, current: int) -> int:
        latency = _typical(self.round)
        # slower only if two rounds in a row say so: one round of noise (a busy machine, a
        # pause of the server's) is not a queue
        slowed = 0.0 if self.previous is None else min(latency, self.previous)
        self.previous = latency
        overload, peak = self.round_overload, self.round_peak
        self._new_round()
        if self.baseline is None or latency < self.baseline:
            self.baseline = latency
        limit, why = self.limit, ""
        beta = max(2.0, limit / 8)
        if overload is not None:
            limit, why = limit / 2, f"the server is overloaded: {overload}"
            self.slow_start = False
            self.cut_at = self.clock()
            self.previous = None
        elif slowed and limit * (1 - self.baseline / slowed) > beta:
            limit = max(limit / 2, limit * self.baseline / slowed + beta)
            why = f"answers slowed to {_ms(slowed)} from {_ms(self.baseline)}"
            self.slow_start = False
            self.cut_at = self.clock()
            self.previous = None
        else:
            queue = limit * (1 - self.baseline / latency)
            if queue <= beta / 2 and peak >= math.floor(limit):
                limit = limit * 2 if self.slow_start else limit + 1
                why = f"answers take {_ms(latency)}, {_ms(self.baseline)} at best"
        self.limit = min(float(self.ceiling), max(1.0, limit))
        new = math.floor(self.limit)
        if new != current and self.on_limit is not None:
            self.on_limit(new, current, why)
        if self.clock() < self.next_probe:
            return new
        self.probe, self.drained_at = max(1, new // 2), None
        self.on_wire(0)
        return self.probe

    def _probed(self, seconds: float, sent_at: float, current: int) -> int:
        """A round at half the limit: only answers to requests sent once the requests on the
        wire had come down to it measure the server's unqueued pace."""
        if self.drained_at is None or sent_at < self.drained_at:
            return current
        self.round.append(seconds)
        if len(self.round) < current:
            return current
        self.baseline = _typical(self.round)
        self.probe = None
        self.next_probe = self.clock() + PROBE_EVERY
        self._new_round()
        return math.floor(self.limit)

    def _new_round(self) -> None:
        self.round = []
        self.round_peak = self.wire
        self.round_overload = None


def _typical(values: list[float]) -> float:
    """The mean latency of a round (Little's law: with L in flight at a server that serves K,
    the mean is L / K times the unqueued latency), leaving out answers that took over four
    times the median (a page of a thousand users among single-user reads)."""
    ordered = sorted(values)
    cap = 4 * ordered[(len(ordered) - 1) // 2]
    kept = [v for v in ordered if v <= cap]
    return max(1e-6, sum(kept) / len(kept))  # never 0: it divides


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
