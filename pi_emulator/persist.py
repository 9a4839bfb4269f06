"""``--state FILE``: atomic, debounced writes of the store in a worker thread.

After a mutation the file is rewritten at most once per ``interval`` seconds (and, after a
slow write, no sooner than four times that write's duration), plus once at shutdown. The
snapshot is taken on the event loop (a shallow copy of immutable records, a few ms at 100k
users); encoding and writing run in a thread so requests keep being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from pi_emulator.state import Snapshot, snapshot, state_document
from pi_emulator.store import Store

_log = logging.getLogger("pi_emulator")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode(snap: Snapshot) -> bytes:
    """The state document as JSON, encoded user by user.

    One ``json.dumps`` of the whole document would hold the GIL for about a second at 100k
    users and stall the event loop; many small calls let it run in between.
    """
    doc = state_document(snap)
    users = doc.pop("users")
    head = _dumps(doc)[:-1]
    return "".join((head, ',"users":[', ",".join(map(_dumps, users)), "]}")).encode()


class Persister:
    """Keeps ``path`` in step with the store returned by ``current``.

    Store versions must only grow, also across a reset (``Emulator.reset`` sees to it).
    """

    def __init__(self, path: Path, current: Callable[[], Store], interval: float = 1.0) -> None:
        self.path = path
        self.current = current
        self.interval = interval
        self._saved: int | None = None  # the store version last written
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pause = 0.0  # the first pass writes the initial state straight away
        self.writes = 0

    def mark_saved(self) -> None:
        """The file already holds the current store (it was just loaded from it)."""
        self._saved = self.current().version

    def dirty(self) -> bool:
        return self._saved != self.current().version

    async def flush(self) -> bool:
        """Write now if anything changed since the last write; True if it wrote."""
        async with self._lock:
            store = self.current()
            key = store.version
            if self._saved == key:
                return False
            snap = snapshot(store)
            started = time.monotonic()
            await asyncio.to_thread(lambda: write_atomic(self.path, encode(snap)))
            self._pause = max(self.interval, 4 * (time.monotonic() - started))
            self._saved = key
            self.writes += 1
            return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pi-emulator-persist")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._pause)
            try:
                await self.flush()
            except OSError as exc:  # keep serving; try again next time
                _log.warning("pi-emulator: cannot write state file %s: %s", self.path, exc)
                self._pause = max(self.interval, 5.0)
