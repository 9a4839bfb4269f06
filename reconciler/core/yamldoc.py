"""YAML bytes -> plain values that remember where they were written. Safe, bounded, pure.

:func:`parse_yaml` never raises and never recurses: every problem becomes an
:class:`~reconciler.core.issues.Issue` with a 1-based line and column.

How it reads, and why:

- ruamel.yaml's libyaml ``CParser`` produces the *events*; this module builds the values from
  them in one flat loop. ruamel's own constructor is where ``YAML(typ='safe').load`` spends
  ~85% of its time (resolver and ``construct_object``), so building from events is about 5x
  faster, and it lets the builder see anchors, aliases and tags as they are written, bound the
  nesting depth, and record positions at no extra cost.
- Values are the YAML 1.2 core schema's, as ``YAML(typ='safe')`` gives them (``yes``/``no``/
  ``on``/``off`` are text; ``0o17`` is 15; ``1_000`` is 1000), with three deliberate
  differences, all pinned by tests: timestamps stay text (an unquoted ``2027-01-31`` is the
  string ``"2027-01-31"``, so authors need not quote dates and the schema checks them); mapping
  keys are always their text (JSON Schema needs string keys); a plain ``=`` is text.
- Mappings load as :class:`PosDict` and sequences as :class:`PosList`: a ``dict``/``list`` that
  also knows the position of itself, of each key and value, or of each item. Positions are
  stored packed (one int each) and turned into :class:`SourcePos` only when asked for.

Rejected, each with a message that says what to do: files over ``max_bytes`` (checked before
parsing), bytes that are not UTF-8 (at the first bad byte's line), control characters, tabs
used for indentation, syntax errors (at the parser's line and column), duplicate keys (at the
later key, naming the first), every anchor and alias (so "billion laughs" fails at its first
anchor, before anything is expanded), every explicit tag (``!!python/...``, ``!vault``, and
also ``!!str``: quote a value to keep it text), merge keys ``<<``, non-text mapping keys,
nesting deeper than ``max_depth``, more than one document, a ``%YAML`` version other than 1.2,
an empty or comments-only file, and a top level that is not a mapping.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from reconciler.core.issues import Issue, error
from reconciler.core.model import SourcePos


def _find_c_parser() -> Any:
    """ruamel.yaml.clib's libyaml ``CParser`` class, or None when it is not installed."""
    try:
        module = importlib.import_module("_ruamel_yaml")
    except ImportError:  # pragma: no cover - only without ruamel.yaml.clib
        return None
    return getattr(module, "CParser", None)


_CParser: Any = _find_c_parser()

DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_MAX_DEPTH = 100
#: After this many problems in one file the rest of it is not read.
MAX_ISSUES_PER_FILE = 20

# Positions are packed into one int: (0-based line << 32) | 0-based column.
_SHIFT = 32
_MASK = (1 << _SHIFT) - 1


def _unpack(file: str, packed: int) -> SourcePos:
    return SourcePos(file=file, line=(packed >> _SHIFT) + 1, col=(packed & _MASK) + 1)


class PosMap(Mapping[str, SourcePos]):
    """A read-only view ``key -> SourcePos`` over packed positions (built lazily)."""

    __slots__ = ("_file", "_packed")

    def __init__(self, file: str, packed: Mapping[str, int]) -> None:
        self._file = file
        self._packed = packed

    def __getitem__(self, key: str) -> SourcePos:
        return _unpack(self._file, self._packed[key])

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
        return _unpack(self._file, self._pos)

    @property
    def key_pos(self) -> PosMap:
        return PosMap(self._file, self._kpos)

    @property
    def value_pos(self) -> PosMap:
        return PosMap(self._file, self._vpos)

    def key_at(self, key: str) -> SourcePos:
        """Where ``key`` is written (the mapping's own position if it has no such key)."""
        packed = self._kpos.get(key)
        return self.pos if packed is None else _unpack(self._file, packed)

    def value_at(self, key: str) -> SourcePos:
        packed = self._vpos.get(key)
        return self.key_at(key) if packed is None else _unpack(self._file, packed)

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
        return _unpack(self._file, self._pos)

    @property
    def item_pos(self) -> tuple[SourcePos, ...]:
        return tuple(_unpack(self._file, p) for p in self._ipos)

    def item_at(self, index: int) -> SourcePos:
        """Where item ``index`` is written (the list's own position if out of range)."""
        if 0 <= index < len(self._ipos):
            return _unpack(self._file, self._ipos[index])
        return self.pos

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

    def _lookup(self, key: str) -> int:
        outer, dot, inner = key.partition(".")
        if dot and outer in self._nested:
            return self._nested[outer][inner]
        if key in self._skip or key in self._nested:
            raise KeyError(key)
        return self._packed[key]

    def __getitem__(self, key: str) -> SourcePos:
        return _unpack(self._file, self._lookup(key))

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
        return (PosMap, (self._file, {k: self._lookup(k) for k in self}))


def new_posdict(file: str, line: int = 1, col: int = 1) -> PosDict:
    """An empty mapping at a position (for callers that need a document without a file)."""
    d = PosDict()
    d._file, d._pos, d._kpos, d._vpos = file, (line - 1) << _SHIFT | (col - 1), {}, {}
    return d


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFile:
    """One file's document (``None`` when it had errors) and the problems found reading it."""

    file: str
    data: PosDict | None
    issues: tuple[Issue, ...] = ()


def c_parser_in_use() -> bool:
    """Whether the fast libyaml parser (ruamel.yaml.clib ``CParser``) is installed and used.

    Without it parsing still works, about 6x slower (pure Python).
    """
    return _CParser is not None and YAML(typ="safe").Parser is _CParser


def parse_yaml(
    data: bytes,
    file: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    allow_empty: bool = False,
) -> ParsedFile:
    """Parse one file's bytes; ``file`` is the path to show in positions.

    ``allow_empty`` makes an empty or comments-only file an empty mapping instead of an error
    (for ``pisync.yaml``, where every key has a default).
    """
    if len(data) > max_bytes:
        return _failed(
            file,
            1,
            1,
            f"the file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes; "
            "split it into smaller files",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start)
        return _failed(
            file,
            line,
            col,
            f"the file is not UTF-8: byte 0x{data[exc.start]:02X} cannot be decoded; "
            "save the file as UTF-8",
        )
    bad = _FORBIDDEN_CHARS.search(text)
    if bad is not None:
        line, col = _char_position(text, bad.start())
        return _failed(
            file,
            line,
            col,
            f"the control character U+{ord(bad.group()):04X} is not allowed in YAML; remove it",
        )
    builder = _Builder(file, max_depth)
    try:
        builder.run(_events(data))
    except _Stop:
        pass
    except MarkedYAMLError as exc:
        builder.issues.append(_syntax_issue(exc, file, text))
    except YAMLError as exc:  # a reader error without a mark (not expected after the checks)
        builder.issues.append(error(SourcePos(file=file, line=1, col=1), f"invalid YAML: {exc}"))
    if builder.issues:
        return ParsedFile(file=file, data=None, issues=tuple(builder.issues))
    return _top_level(file, text, builder.root, allow_empty=allow_empty)


# --- checks before parsing ---------------------------------------------------------------

# Characters YAML 1.2 does not allow in a stream (outside its printable set).
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


def _failed(file: str, line: int, col: int, message: str) -> ParsedFile:
    issue = error(SourcePos(file=file, line=line, col=col), message)
    return ParsedFile(file=file, data=None, issues=(issue,))


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _char_position(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


# --- events ------------------------------------------------------------------------------


def _events(data: bytes) -> Callable[[], Any]:
    """A ``next event`` function: libyaml's when available, else ruamel's pure parser."""
    if _CParser is not None:
        get_event: Callable[[], Any] = _CParser(data).get_event
        return get_event
    events: Iterator[Any] = iter(YAML(typ="safe", pure=True).parse(data))
    return events.__next__


class _Stop(Exception):
    """The builder cannot go on (its reason is already in the builder's issues)."""


_ANCHOR_MESSAGE = "anchors (&{}) are not supported: write the value out in full where needed"
_ALIAS_MESSAGE = "aliases (*{}) are not supported: write the value out in full instead"


class _Builder:
    """Builds PosDict/PosList values from parser events, iteratively, recording problems.

    Anchors, aliases, tags and duplicate keys are recorded and building goes on (the data is
    discarded anyway when there is any issue), so one run reports several of them; anything
    that leaves no sensible way on (depth, a non-text key, a second document) stops it.
    """

    def __init__(self, file: str, max_depth: int) -> None:
        self.file = file
        self.max_depth = max_depth
        self.issues: list[Issue] = []
        self.root: Any = _NOTHING

    def problem(self, mark: Any, message: str, *, stop: bool = False) -> None:
        pos = SourcePos(file=self.file, line=mark.line + 1, col=mark.column + 1)
        self.issues.append(error(pos, message))
        if len(self.issues) >= MAX_ISSUES_PER_FILE:
            self.issues.append(
                error(pos, "more problems in this file were not reported: fix these first")
            )
            raise _Stop
        if stop:
            raise _Stop

    def node_props(self, ev: Any) -> None:
        if ev.anchor is not None:
            self.problem(ev.start_mark, _ANCHOR_MESSAGE.format(ev.anchor))
        if ev.ctag is not None:
            self.problem(
                ev.start_mark,
                f"tags are not supported (found {_show_tag(str(ev.ctag))}): remove the tag, "
                "and quote the value if it must stay text",
            )

    def run(self, next_event: Callable[[], Any]) -> None:
        # The loop is deliberately one function with local variables: it runs once per
        # event (about 50 per user), so attribute lookups and calls are kept out of it.
        file = self.file
        stack: list[tuple[Any, Any, Any, bool]] = []
        cur: Any = None  # the open PosDict / PosList, None at the top level
        pos_of: Any = None  # cur's _kpos (mapping) or _ipos (sequence)
        vpos: Any = None  # cur's _vpos (mapping)
        key: str | None = None  # pending key in a mapping; None: a key comes next
        is_map = False
        documents = 0
        first = _PLAIN_FIRST
        resolve = _resolve_plain
        while True:
            ev = next_event()
            kind = type(ev)
            if kind is ScalarEvent:
                if ev.anchor is not None or ev.ctag is not None:
                    self.node_props(ev)
                m = ev.start_mark
                p = m.line << _SHIFT | m.column
                value = ev.value
                if is_map and key is None:
                    if value in cur:
                        first_pos = _unpack(file, pos_of[value])
                        self.problem(
                            m,
                            f'duplicate key "{value}" (first written at line {first_pos.line}, '
                            f"column {first_pos.col}); a key may appear once per mapping",
                        )
                    elif value == "<<" and ev.implicit[0]:
                        self.problem(m, "merge keys (<<) are not supported: write the keys out")
                    key = value
                    pos_of[value] = p
                    continue
                if ev.implicit[0]:
                    if not value:
                        value = None
                    elif value[0] in first:
                        value = resolve(value)
                if is_map:
                    cur[key] = value
                    vpos[key] = p
                    key = None
                elif cur is not None:
                    cur.append(value)
                    pos_of.append(p)
                else:
                    self.root = value
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if ev.anchor is not None or ev.ctag is not None:
                    self.node_props(ev)
                m = ev.start_mark
                if is_map and key is None:
                    self.problem(
                        m, "a mapping key must be text, not a mapping or a list", stop=True
                    )
                if len(stack) >= self.max_depth:
                    self.problem(
                        m,
                        f"the data is nested deeper than {self.max_depth} levels; "
                        "desired-state files need only a few",
                        stop=True,
                    )
                p = m.line << _SHIFT | m.column
                new: Any
                if kind is MappingStartEvent:
                    new = PosDict()
                    new._kpos = {}
                    new._vpos = {}
                else:
                    new = PosList()
                    new._ipos = []
                new._file = file
                new._pos = p
                if is_map:
                    cur[key] = new
                    vpos[key] = p
                elif cur is not None:
                    cur.append(new)
                    pos_of.append(p)
                else:
                    self.root = new
                stack.append((cur, pos_of, vpos, is_map))
                cur = new
                if kind is MappingStartEvent:
                    pos_of, vpos, key, is_map = new._kpos, new._vpos, None, True
                else:
                    pos_of, vpos, key, is_map = new._ipos, None, None, False
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                cur, pos_of, vpos, is_map = stack.pop()
                key = None
            elif kind is AliasEvent:
                m = ev.start_mark
                if is_map and key is None:
                    self.problem(m, _ALIAS_MESSAGE.format(ev.anchor), stop=True)
                self.problem(m, _ALIAS_MESSAGE.format(ev.anchor))
                if is_map:
                    cur[key] = None
                    vpos[key] = m.line << _SHIFT | m.column
                    key = None
                elif cur is not None:
                    cur.append(None)
                    pos_of.append(m.line << _SHIFT | m.column)
                else:
                    self.root = None
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.problem(
                        ev.start_mark,
                        "a second YAML document starts here (---); a file holds one document: "
                        "split it into two files",
                        stop=True,
                    )
                if ev.version is not None and tuple(ev.version) != (1, 2):
                    version = ".".join(str(v) for v in ev.version)
                    self.problem(
                        ev.start_mark,
                        f"%YAML {version} is not supported: pisync reads YAML 1.2; "
                        "remove the directive",
                    )
            elif kind is StreamEndEvent:
                return


class _Nothing:
    """The value of a stream with no document at all."""


_NOTHING: Any = _Nothing()


def _show_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _top_level(file: str, text: str, root: Any, *, allow_empty: bool) -> ParsedFile:
    if isinstance(root, PosDict):
        return ParsedFile(file=file, data=root)
    if root is _NOTHING or root is None:
        if allow_empty:
            return ParsedFile(file=file, data=new_posdict(file))
        what = "is empty" if not text.strip() else "has no content, only comments"
        return _failed(
            file, 1, 1, f'the file {what}; a desired-state file holds "users:" and/or "roles:"'
        )
    found = "a list" if isinstance(root, PosList) else f"the single value {_brief(root)}"
    pos = root.pos if isinstance(root, PosList) else SourcePos(file=file, line=1, col=1)
    message = (
        'the top level must be a mapping of keys such as "users:" and "roles:", '
        f"but the file holds {found}"
    )
    return ParsedFile(file=file, data=None, issues=(error(pos, message),))


def _brief(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


# --- syntax errors -----------------------------------------------------------------------

# Hints for libyaml's most common complaints, keyed by a fragment of its problem text.
_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': '"),
    ("found unexpected ':'", "quote a value that contains ':'"),
    ("did not find expected key", "check this line's indentation"),
    ("did not find expected '-' indicator", "check this line's indentation"),
    ("could not find expected ':'", "a key needs ': ' after it, or quote the text"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("found undefined alias", "aliases are not supported: write the value out in full"),
)


def _syntax_issue(exc: MarkedYAMLError, file: str, text: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    col = mark.column + 1 if mark is not None else 1
    tab_col = _indent_tab(text, line)
    if tab_col is not None:
        return error(
            SourcePos(file=file, line=line, col=tab_col),
            "a tab is used for indentation; YAML indents with spaces only: replace it with spaces",
        )
    problem = str(exc.problem or exc.context or "unreadable YAML").strip()
    message = f"invalid YAML: {problem}"
    for fragment, hint in _HINTS:
        if fragment in problem:
            message += f" ({hint})"
            break
    ctx = exc.context_mark
    if exc.context and ctx is not None and (ctx.line, ctx.column) != (line - 1, col - 1):
        message += f"; {exc.context} that starts at line {ctx.line + 1}, column {ctx.column + 1}"
    return error(SourcePos(file=file, line=line, col=col), message)


def _indent_tab(text: str, line: int) -> int | None:
    """The 1-based column of a tab in the leading whitespace of ``line``, if there is one."""
    lines = text.split("\n", line)
    if len(lines) < line:
        return None
    row = lines[line - 1]
    indent = row[: len(row) - len(row.lstrip(" \t"))]
    at = indent.find("\t")
    return None if at < 0 else at + 1


# --- plain scalars (YAML 1.2 core schema, as ruamel.yaml's safe loader resolves them) ---

# Characters a plain scalar must start with to be anything but text: a fast first test.
_PLAIN_FIRST = frozenset("-+.0123456789tTfFnN~")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = frozenset({"~", "null", "Null", "NULL"})
# The regular expressions of ruamel.yaml 0.19's resolver for YAML 1.2.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)


def _resolve_plain(text: str) -> Any:
    """A plain scalar that starts with one of ``_PLAIN_FIRST``: bool, null, int, float or text."""
    c = text[0]
    if c in "tTfF":
        return _BOOL.get(text, text)
    if c in "nN~":
        return None if text in _NULL else text
    if _FLOAT.match(text):
        return _to_float(text)
    if _INT.match(text):
        return _to_int(text)
    return text


def _to_float(text: str) -> Any:
    s = text.replace("_", "").lower()
    sign = -1.0 if s[0] == "-" else 1.0
    body = s[1:] if s[0] in "+-" else s
    if body == ".inf":
        return sign * float("inf")
    if body == ".nan":
        return float("nan")
    try:
        return sign * float(body)
    except ValueError:  # e.g. "1._": ruamel would raise; text is the safe reading
        return text


def _to_int(text: str) -> Any:
    s = text.replace("_", "")
    sign = -1 if s[:1] == "-" else 1
    body = s[1:] if s[:1] in ("+", "-") else s
    try:
        if body[:2] == "0b":
            return sign * int(body[2:], 2)
        if body[:2] == "0x":
            return sign * int(body[2:], 16)
        if body[:2] == "0o":
            return sign * int(body[2:], 8)
        return sign * int(body)
    except ValueError:  # "-_", or more digits than Python converts: keep the text
        return text
