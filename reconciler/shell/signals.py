"""Interrupts and terminals: what Ctrl-C and SIGTERM do during apply, and whether a person is
there to answer a prompt."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


def install_stop_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[int]:
    """SIGINT/SIGTERM: stop starting new requests; in-flight ones finish. The returned list
    receives the signal numbers that arrived (the exit code is 128 + the first)."""
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-POSIX
            loop.add_signal_handler(sig, on_signal, int(sig))
    return received


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
