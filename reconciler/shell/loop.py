"""Running the event loop: every flow's coroutine goes through :func:`run` or :func:`run_in`.

Python 3.11's ``asyncio.Runner.run`` ends by checking ``signal.getsignal(SIGINT)`` against its
own handler, a ``functools.partial`` that holds the main task. ``getsignal`` first tries the
handler as a ``signal.Handlers`` value, and the ``ValueError`` that enum builds (and throws
away) formats ``repr(partial)``, hence ``repr(task)``, hence the repr of the task's result.
For an apply's plan and live state of 100,000 users that is a string of hundreds of MB and
seconds of CPU, spent on a message nobody reads (measured at 10,000 users: +45 MB peak RSS).
Here the task's own result is always ``None``; the value travels in a box beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def _boxed(coro: Coroutine[Any, Any, T], box: list[T]) -> None:
    box.append(await coro)


def run_in(runner: asyncio.Runner, coro: Coroutine[Any, Any, T]) -> T:
    """``runner.run(coro)`` without the task holding the result."""
    box: list[T] = []
    runner.run(_boxed(coro, box))
    return box[0]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` without the task holding the result."""
    with asyncio.Runner() as runner:
        return run_in(runner, coro)
