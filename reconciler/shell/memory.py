"""Giving freed memory back to the system during long runs.

CPython frees the objects of each payload a plan reads, but glibc keeps the freed heap pages
for reuse instead of returning them: at 100,000 users a plan's resident memory was twice what
it held (751 MB resident for ~300 MB of live objects; ``malloc_trim`` took it to 517 MB).
:func:`release` asks glibc to return them; elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import cache

#: Payloads read between two releases (a release costs a few milliseconds).
EVERY = 5_000


@cache
def _trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return trim


def release() -> None:
    """Return the memory freed so far to the system, where the C library allows it."""
    trim = _trim()
    if trim is not None:
        trim(0)
