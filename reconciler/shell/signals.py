"""Interrupts and terminals: what Ctrl-C and SIGTERM do during apply, and whether a person is
there to answer a prompt.

During apply the first SIGINT or SIGTERM asks to stop (no new changes; in-flight ones finish,
retry waits end at once), the second to abandon what is in flight. Either way apply writes its
report and exits 128 + the first signal's number (130 for Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
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


def confirm(question: str) -> bool:
    """Ask ``question`` on the terminal, default no; ``KeyboardInterrupt`` on Ctrl-C, EOFError
    when the input ends.

    Not ``input()``: a Ctrl-C that reaches another of the process's threads (a worker's), or
    arrives just before ``input()``'s read starts, sets Python's flag without waking the read,
    and the prompt then ignores every Ctrl-C until a key comes. Waiting for the answer in short
    ``select`` rounds gives Python a moment every 0.1 s to raise the KeyboardInterrupt, wherever
    the signal landed.
    """
    while True:
        sys.stdout.write(f"{question} [y/N]: ")
        sys.stdout.flush()
        while not select.select([sys.stdin], [], [], 0.1)[0]:
            pass
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        sys.stdout.write("Error: invalid input\n")
