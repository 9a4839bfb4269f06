"""The server's capacity: at most K API requests served at once, the rest wait in arrival order.

A real server has a limited number of workers: requests beyond them queue, and the time they
queue adds to what the client measures. With ``capacity`` set (a fault option), ``Gate``
admits at most that many API requests at once (injected latency counts while a request is
served) and makes the others wait, first come first served; raising the capacity at runtime
admits waiting requests at once. With no capacity it only counts.

Either way it counts how many requests are being served and waiting, and the peaks of both,
for ``GET /_emulator/stats``: a test can prove a cap, or read the most requests a client ever
had in flight. Everything runs on the server's one event loop, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from pi_emulator.wire import JsonObj


class Gate:
    """Admission of API requests under a capacity read from ``capacity()`` on every decision."""

    def __init__(self, capacity: Callable[[], int | None]) -> None:
        self._capacity = capacity
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.serving = 0
        self.completed = 0
        self.peak_serving = 0
        self.peak_waiting = 0

    def _has_room(self) -> bool:
        capacity = self._capacity()
        return capacity is None or self.serving < capacity

    def _admit(self) -> None:
        self.serving += 1
        self.peak_serving = max(self.peak_serving, self.serving)

    async def enter(self) -> None:
        """Return once this request may be served (at once, or after the ones before it)."""
        if not self._waiting and self._has_room():
            self._admit()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self.peak_waiting = max(self.peak_waiting, len(self._waiting))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # admitted just as it was cancelled: pass the slot on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(future)
            raise

    def leave(self) -> None:
        """A served request is finished: the next waiting one (if any) is admitted."""
        self.completed += 1
        self._release()

    def _release(self) -> None:
        self.serving -= 1
        self.wake()

    def wake(self) -> None:
        """Admit waiting requests, oldest first, while there is room (after a capacity change)."""
        while self._waiting and self._has_room():
            future = self._waiting.popleft()
            if not future.done():
                self._admit()
                future.set_result(None)

    def stats(self) -> JsonObj:
        return {
            "capacity": self._capacity(),
            "serving": self.serving,
            "waiting": len(self._waiting),
            "peak_serving": self.peak_serving,
            "peak_waiting": self.peak_waiting,
            "completed": self.completed,
        }

    def reset(self) -> None:
        """Start the peaks again from the present counts, and ``completed`` from 0."""
        self.peak_serving = self.serving
        self.peak_waiting = len(self._waiting)
        self.completed = 0
