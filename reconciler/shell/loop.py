"""Running the event loop: every flow's coroutine goes through :func:`run` or :func:`run_in`.

Python 3.11's ``asyncio.Runner.run`` ends by checking ``signal.getsignal(SIGINT)`` against its
own handler, a ``functools.partial`` that holds the main task. ``getsignal`` first tries the
handler as a ``signal.Handlers`` value, and the ``ValueError`` that enum builds (and throws
away) formats ``repr(partial)``, hence ``repr(task)``, hence the repr of the task's result.
For an apply's plan and live state of 100,000 users that is a string of hundreds of MB and
seconds of CPU, spent on a message nobody reads (measured at 10,000 users: +45 MB peak RSS).
Here the task's own result is always ``None``; the value travels in a box beside it.

The loop is uvloop's where it is installed (a dependency on CPython outside Windows): measured
with ``benchmarks/bench_transport.py``, it cuts pisync's client CPU per request by about a sixth
(0.31 to 0.26 ms), the one cost that grows with every user read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # not installed on this platform: asyncio's own loop
        return None
    return uvloop.new_event_loop


def runner() -> asyncio.Runner:
    """A fresh :class:`asyncio.Runner` on the fastest loop available."""
    return asyncio.Runner(loop_factory=_loop_factory())


async def _boxed(coro: Coroutine[Any, Any, T], box: list[T]) -> None:
    box.append(await coro)


def run_in(runner: asyncio.Runner, coro: Coroutine[Any, Any, T]) -> T:
    """``runner.run(coro)`` without the task holding the result."""
    box: list[T] = []
    runner.run(_boxed(coro, box))
    return box[0]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` without the task holding the result."""
    with runner() as loop_runner:
        return run_in(loop_runner, coro)
