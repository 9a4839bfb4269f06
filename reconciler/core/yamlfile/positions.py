"""Values that remember where they were written: a YAML mapping is a :class:`PosDict`, a
sequence a :class:`PosList` (a ``dict``/``list`` that also knows the position of itself, of
each key and value, or of each item).

Positions are stored packed, one int each (``0-based line << 32 | 0-based column``), and turned
into :class:`~reconciler.core.model.values.SourcePos` only when asked for: at 100,000 users the
loader records millions of them and reads a handful.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from reconciler.core.model.values import SourcePos

# (0-based line << SHIFT) | 0-based column
SHIFT = 32
_MASK = (1 << SHIFT) - 1


def unpack(file: str, packed: int) -> SourcePos:
    return SourcePos(file=file, line=(packed >> SHIFT) + 1, col=(packed & _MASK) + 1)


def line_col(packed: int) -> tuple[int, int]:
    """The 1-based (line, column) of a packed position, without making a SourcePos."""
    return (packed >> SHIFT) + 1, (packed & _MASK) + 1


class PosMap(Mapping[str, SourcePos]):
    """A read-only view ``key -> SourcePos`` over packed positions (built lazily)."""

    __slots__ = ("_file", "_packed")

    def __init__(self, file: str, packed: Mapping[str, int]) -> None:
        self._file = file
        self._packed = packed

    def __getitem__(self, key: str) -> SourcePos:
        return unpack(self._file, self._packed[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __repr__(self) -> str:
        return f"PosMap({dict(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PosMap, (self._file, dict(self._packed)))


class PosDict(dict[str, Any]):
    """A YAML mapping: a ``dict`` that knows where it, its keys and its values were written."""

    __slots__ = ("_file", "_kpos", "_pos", "_vpos")
    _file: str
    _pos: int
    _kpos: dict[str, int]
    _vpos: dict[str, int]

    @property
    def file(self) -> str:
        return self._file

    @property
    def pos(self) -> SourcePos:
        """Where the mapping starts (for a block mapping: its first key)."""
        return unpack(self._file, self._pos)

    @property
    def key_pos(self) -> PosMap:
        return PosMap(self._file, self._kpos)

    @property
    def value_pos(self) -> PosMap:
        return PosMap(self._file, self._vpos)

    def key_at(self, key: str) -> SourcePos:
        """Where ``key`` is written (the mapping's own position if it has no such key)."""
        return unpack(self._file, self.key_packed(key))

    def packed_keys(self) -> Mapping[str, int]:
        """Each key's packed position (read-only: the mapping's own table)."""
        return self._kpos

    def key_packed(self, key: str) -> int:
        """:meth:`key_at`, packed (for a caller that keeps the numbers)."""
        return self._kpos.get(key, self._pos)

    def value_at(self, key: str) -> SourcePos:
        packed = self._vpos.get(key)
        return self.key_at(key) if packed is None else unpack(self._file, packed)

    def __reduce__(self) -> tuple[Any, ...]:
        # A constructor call plus the items: smaller and ~35% faster to pickle than the
        # default (slot state), which matters when worker processes send documents back.
        args = (self._file, self._pos, self._kpos, self._vpos)
        return (_rebuild_dict, args, None, None, iter(self.items()))


class PosList(list[Any]):
    """A YAML sequence: a ``list`` that knows where it and each item were written."""

    __slots__ = ("_file", "_ipos", "_pos")
    _file: str
    _pos: int
    _ipos: list[int]

    @property
    def file(self) -> str:
        return self._file

    @property
    def pos(self) -> SourcePos:
        return unpack(self._file, self._pos)

    @property
    def item_pos(self) -> tuple[SourcePos, ...]:
        return tuple(unpack(self._file, p) for p in self._ipos)

    def item_at(self, index: int) -> SourcePos:
        """Where item ``index`` is written (the list's own position if out of range)."""
        return unpack(self._file, self.item_packed(index))

    def item_packed(self, index: int) -> int:
        """:meth:`item_at`, packed (for a caller that keeps the numbers)."""
        if 0 <= index < len(self._ipos):
            return self._ipos[index]
        return self._pos

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_list, (self._file, self._pos, self._ipos), None, iter(self))


def _rebuild_dict(file: str, pos: int, kpos: dict[str, int], vpos: dict[str, int]) -> PosDict:
    d = PosDict()
    d._file, d._pos, d._kpos, d._vpos = file, pos, kpos, vpos
    return d


def _rebuild_list(file: str, pos: int, ipos: list[int]) -> PosList:
    seq = PosList()
    seq._file, seq._pos, seq._ipos = file, pos, ipos
    return seq


class FieldPositions(Mapping[str, SourcePos]):
    """Key positions of a mapping without the keys in ``skip``, plus the keys of the nested
    mappings named in ``flatten`` as ``"outer.inner"`` (e.g. ``login.mfa``).

    A view: it shares the mappings' packed positions (copying them for every one of 100,000
    users would cost more than all the look-ups ever made).
    """

    __slots__ = ("_file", "_nested", "_packed", "_skip")

    def __init__(
        self, entry: PosDict, *, skip: Collection[str] = (), flatten: Collection[str] = ()
    ) -> None:
        self._file = entry._file
        self._packed = entry._kpos
        self._skip = skip
        nested = {outer: entry.get(outer) for outer in flatten}
        self._nested = {k: v._kpos for k, v in nested.items() if isinstance(v, PosDict)}

    def packed_at(self, key: str) -> int:
        """The packed position of ``key`` (KeyError when it is not there)."""
        outer, dot, inner = key.partition(".")
        if dot and outer in self._nested:
            return self._nested[outer][inner]
        if key in self._skip or key in self._nested:
            raise KeyError(key)
        return self._packed[key]

    def __getitem__(self, key: str) -> SourcePos:
        return unpack(self._file, self.packed_at(key))

    def __iter__(self) -> Iterator[str]:
        for key in self._packed:
            if key not in self._skip and key not in self._nested:
                yield key
        for outer, packed in self._nested.items():
            for inner in packed:
                yield f"{outer}.{inner}"

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"FieldPositions({dict(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PosMap, (self._file, {k: self.packed_at(k) for k in self}))


def new_posdict(file: str, line: int = 1, col: int = 1) -> PosDict:
    """An empty mapping at a position (for callers that need a document without a file)."""
    d = PosDict()
    d._file, d._pos, d._kpos, d._vpos = file, (line - 1) << SHIFT | (col - 1), {}, {}
    return d


class PackedPositions(Mapping[str, SourcePos]):
    """Positions of a fixed set of keys (``names``, shared by every instance), packed into one
    array of machine integers: about 200 bytes for a user's keys where a dict of ints takes
    900. Absent keys hold -1."""

    __slots__ = ("_file", "_index", "_names", "_packed")

    def __init__(
        self, file: str, names: tuple[str, ...], index: Mapping[str, int], packed: array[int]
    ) -> None:
        self._file = file
        self._names = names
        self._index = index
        self._packed = packed

    @classmethod
    def of(
        cls, file: str, names: tuple[str, ...], index: Mapping[str, int], found: Mapping[str, int]
    ) -> PackedPositions:
        """From ``found`` (key -> packed position); keys not in ``names`` are dropped."""
        packed = array("q", [-1]) * len(names)
        for key, value in found.items():
            at = index.get(key)
            if at is not None:
                packed[at] = value
        return cls(file, names, index, packed)

    def packed(self) -> dict[str, int]:
        return {k: self._packed[i] for i, k in enumerate(self._names) if self._packed[i] >= 0}

    def __getitem__(self, key: str) -> SourcePos:
        at = self._index.get(key)
        if at is None or self._packed[at] < 0:
            raise KeyError(key)
        return unpack(self._file, self._packed[at])

    def __iter__(self) -> Iterator[str]:
        return (k for i, k in enumerate(self._names) if self._packed[i] >= 0)

    def __len__(self) -> int:
        return sum(1 for v in self._packed if v >= 0)

    def __repr__(self) -> str:
        return f"PackedPositions({dict(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedPositions, (self._file, self._names, self._index, self._packed))
