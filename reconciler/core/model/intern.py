"""One object per distinct value for what 100,000 users repeat: role and category names,
privilege lists, variables, small strings (a theme, an organisation). Pure memoisation: the
values are immutable, so sharing them changes nothing but memory (measured in
BENCHMARKS.md: about a kilobyte per user on each side of a plan)."""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

#: Above this many distinct values the table starts again (a bound, never reached in practice).
LIMIT = 1_000_000
_SHARED: dict[Hashable, Hashable] = {}


def shared(value: T) -> T:
    """The one instance of ``value`` (a tuple, a frozen dataclass…) this process keeps."""
    found = _SHARED.get(value)
    if found is not None:
        return found  # type: ignore[return-value]
    if len(_SHARED) >= LIMIT:
        _SHARED.clear()
    _SHARED[value] = value
    return value


def text(value: str) -> str:
    """A string many users share (a name, not a free text): interned."""
    return sys.intern(value)


def names(values: tuple[str, ...]) -> tuple[str, ...]:
    """A tuple of names, itself and its names shared."""
    return shared(tuple(sys.intern(v) for v in values))
