"""Interrupts and terminals: what Ctrl-C and SIGTERM do during apply, and whether a person is
there to answer a prompt.

During apply the first SIGINT or SIGTERM asks to stop (no new changes; in-flight ones finish,
retry waits end at once), the second to abandon what is in flight. Either way apply writes its
report and exits 128 + the first signal's number (130 for Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def interrupts(
    loop: asyncio.AbstractEventLoop,
    on_first: Callable[[], None],
    on_second: Callable[[], None],
    received: list[int],
) -> Iterator[None]:
    """Route SIGINT/SIGTERM to ``on_first`` then ``on_second`` while the block runs;
    ``received`` collects the signal numbers that arrived."""

    def on_signal(sig: int) -> None:
        received.append(sig)
        (on_first if len(received) == 1 else on_second)()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # non-POSIX
            loop.add_signal_handler(sig, on_signal, int(sig))
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def exit_code(received: list[int]) -> int:
    """128 + the first signal's number: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + (received[0] if received else int(signal.SIGINT))


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
