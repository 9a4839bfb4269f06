"""YAML bytes -> plain values that remember where they were written. Safe, bounded, pure.

:func:`parse_yaml` never raises and never recurses: every problem becomes an
:class:`~reconciler.core.model.issues.Issue` with a 1-based line and column.

How it reads, and why:

- libyaml's parser (PyYAML's ``CParser``, its C binding) produces the *events*; this module
  builds the values from them in one flat loop. Only the event layer is used: PyYAML's and
  ruamel's loaders (constructor and resolver, where a safe load spends ~85% of its time, and
  whose YAML 1.1 typing or silent duplicate keys pisync must not have) never run. Building from
  events is about 5x faster than ruamel's safe loader, and it lets the builder see anchors,
  aliases and tags as they are written, bound the nesting depth, and record positions at no
  extra cost. PyYAML's binding makes the same libyaml events as ruamel.yaml.clib's in about
  two thirds of the time (its event objects are built with one ``__init__`` each, not three):
  measured on 20,000 users, 1.17 s against 1.39 s for the whole parse.
- Values are the YAML 1.2 core schema's, as ``YAML(typ='safe')`` gives them (``yes``/``no``/
  ``on``/``off`` are text; ``0o17`` is 15; ``1_000`` is 1000), with three deliberate
  differences, all pinned by tests: timestamps stay text (an unquoted ``2027-01-31`` is the
  string ``"2027-01-31"``, so authors need not quote dates and the schema checks them); mapping
  keys are always their text (JSON Schema needs string keys); a plain ``=`` is text.
- Mappings load as :class:`~reconciler.core.yamlfile.positions.PosDict` and sequences as
  :class:`~reconciler.core.yamlfile.positions.PosList` (values that know where they were written);
  plain scalars are resolved by :mod:`reconciler.core.yamlfile.scalars`; syntax errors get their
  hints from :mod:`reconciler.core.yamlfile.hints`.

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
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.error import MarkedYAMLError, YAMLError

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.text import quote_value
from reconciler.core.model.values import SourcePos
from reconciler.core.yamlfile.hints import syntax_issue
from reconciler.core.yamlfile.positions import (
    SHIFT,
    FieldPositions,
    PosDict,
    PosList,
    PosMap,
    new_posdict,
    unpack,
)
from reconciler.core.yamlfile.scalars import PLAIN_FIRST, resolve_plain

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "FieldPositions",
    "ParsedFile",
    "PosDict",
    "PosList",
    "PosMap",
    "c_parser_in_use",
    "new_posdict",
    "parse_yaml",
]


def _find_binding() -> Any:
    """PyYAML's libyaml binding (``yaml._yaml``), or None when PyYAML was built without it."""
    try:
        module = importlib.import_module("yaml._yaml")
    except ImportError:  # pragma: no cover - only with a PyYAML built without libyaml
        return None
    return module if all(hasattr(module, n) for n in ("CParser", *_RECORDS)) else None


DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_MAX_DEPTH = 100
#: After this many problems in one file the rest of it is not read.
MAX_ISSUES_PER_FILE = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFile:
    """One file's document (``None`` when it had errors) and the problems found reading it."""

    file: str
    data: PosDict | None
    issues: tuple[Issue, ...] = ()


def c_parser_in_use() -> bool:
    """Whether the fast libyaml parser (PyYAML's ``CParser``) is installed and used.

    Without it parsing still works, about 6x slower (pure Python).
    """
    return _BINDING is not None and bool(getattr(yaml, "__with_libyaml__", False))


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
    builder = _build(data, file, text, max_depth, pure=False)
    if builder.nested_too_deep:
        # libyaml stops at its own bound (1,000 levels), before the builder sees its level
        # max_depth + 1: the pure parser (no bound of its own) finds where that is
        builder = _build(data, file, text, max_depth, pure=True)
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


class _Event(BaseException):
    """A parser event as a bare record: its fields are ``args``, in the order PyYAML's C
    binding passes them (``ScalarEvent(anchor, tag, implicit, value, start_mark, end_mark,
    style)``, ``MappingStartEvent(anchor, tag, implicit, start_mark, end_mark, flow_style)``,
    ``MappingEndEvent(start_mark, end_mark)``…).

    Why an exception class: its constructor is C code that keeps the positional arguments as
    they are (no ``__init__`` frame, no instance ``__dict__``), and the binding builds one
    event per scalar and per bracket, ~50 per user. While :func:`_c_events` reads a file, the
    binding builds these instead of PyYAML's own event classes: the whole parse of 20,000 users
    took 1.08 s of CPU against 1.17 s with PyYAML's classes. Never raised.
    """

    __slots__ = ()


class _Scalar(_Event):
    __slots__ = ()


class _CollectionStart(_Event):
    __slots__ = ()


class _MappingStart(_CollectionStart):
    __slots__ = ()


class _SequenceStart(_CollectionStart):
    __slots__ = ()


class _CollectionEnd(_Event):
    __slots__ = ()


class _Alias(_Event):
    __slots__ = ()


class _DocumentStart(_Event):
    __slots__ = ()


class _StreamEnd(_Event):
    __slots__ = ()


class _Other(_Event):
    """StreamStart and DocumentEnd: nothing the builder reads."""

    __slots__ = ()


#: PyYAML's event class name -> the record the builder reads
_RECORDS: dict[str, type[_Event]] = {
    "ScalarEvent": _Scalar,
    "MappingStartEvent": _MappingStart,
    "SequenceStartEvent": _SequenceStart,
    "MappingEndEvent": _CollectionEnd,
    "SequenceEndEvent": _CollectionEnd,
    "AliasEvent": _Alias,
    "DocumentStartEvent": _DocumentStart,
    "DocumentEndEvent": _Other,
    "StreamStartEvent": _Other,
    "StreamEndEvent": _StreamEnd,
}
#: Each PyYAML event's attributes in the order of the binding's positional arguments
_FIELDS: dict[str, tuple[str, ...]] = {
    "ScalarEvent": ("anchor", "tag", "implicit", "value", "start_mark", "end_mark", "style"),
    "MappingStartEvent": ("anchor", "tag", "implicit", "start_mark", "end_mark", "flow_style"),
    "SequenceStartEvent": ("anchor", "tag", "implicit", "start_mark", "end_mark", "flow_style"),
    "MappingEndEvent": ("start_mark", "end_mark"),
    "SequenceEndEvent": ("start_mark", "end_mark"),
    "AliasEvent": ("anchor", "start_mark", "end_mark"),
    "DocumentStartEvent": ("start_mark", "end_mark", "explicit", "version", "tags"),
    "DocumentEndEvent": ("start_mark", "end_mark", "explicit"),
    "StreamStartEvent": ("start_mark", "end_mark", "encoding"),
    "StreamEndEvent": ("start_mark", "end_mark"),
}


def _build(data: bytes, file: str, text: str, max_depth: int, *, pure: bool) -> _Builder:
    builder = _Builder(file, max_depth)
    try:
        if _BINDING is not None and not pure:
            with _RECORDS_LOCK, _records():
                builder.run(_BINDING.CParser(data).get_event)
        else:
            builder.run(_pure_events(data))
    except _Stop:
        pass
    except MarkedYAMLError as exc:
        if _LIBYAML_DEPTH in str(exc.problem):
            builder.nested_too_deep = True
        builder.issues.append(syntax_issue(exc, file, text))
    except YAMLError as exc:  # a reader error without a mark (not expected after the checks)
        builder.issues.append(error(SourcePos(file=file, line=1, col=1), f"invalid YAML: {exc}"))
    return builder


#: :func:`_records` swaps the binding's module-level classes: one parse at a time holds them,
#: or a thread that ends its parse would hand another thread's parse PyYAML's own classes
#: back in the middle of it (the review parses entries in several threads)
_RECORDS_LOCK = threading.Lock()


@contextmanager
def _records() -> Iterator[None]:
    """The C binding builds :class:`_Event` records (it looks its event classes up by name in
    its module each time); its own classes are back when the file is read. Only under
    :data:`_RECORDS_LOCK`."""
    assert _BINDING is not None
    saved = {name: getattr(_BINDING, name) for name in _RECORDS}
    for name, record in _RECORDS.items():
        setattr(_BINDING, name, record)
    try:
        yield
    finally:
        for name, cls in saved.items():
            setattr(_BINDING, name, cls)


def _pure_events(data: bytes) -> Callable[[], _Event]:
    """PyYAML's pure-Python parser's events as the records the builder reads."""
    events = yaml.parse(data, Loader=yaml.BaseLoader)

    def next_event() -> _Event:
        ev = next(events)
        name = type(ev).__name__
        return _RECORDS[name](*(getattr(ev, f) for f in _FIELDS[name]))

    return next_event


_BINDING: Any = _find_binding()

#: libyaml's complaint when a document nests deeper than its own bound
_LIBYAML_DEPTH = "exceeded maximum nesting depth"


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
        self.nested_too_deep = False  # libyaml refused the nesting (see parse_yaml)

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

    def node_props(self, anchor: str | None, tag: str | None, mark: Any) -> None:
        if anchor is not None:
            self.problem(mark, _ANCHOR_MESSAGE.format(anchor))
        if tag is not None:
            self.problem(
                mark,
                f"tags are not supported (found {_show_tag(str(tag))}): remove the tag, "
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
        first = PLAIN_FIRST
        resolve = resolve_plain
        scalar, mapping, sequence, end = _Scalar, _MappingStart, _SequenceStart, _CollectionEnd
        while True:
            ev = next_event()
            kind = type(ev)
            if kind is scalar:
                anchor, tag, implicit, value, m, _, _ = ev.args
                if anchor is not None or tag is not None:
                    self.node_props(anchor, tag, m)
                p = m.line << SHIFT | m.column
                if is_map and key is None:
                    if value in cur:
                        first_pos = unpack(file, pos_of[value])
                        self.problem(
                            m,
                            f"duplicate key {quote_value(value)} (first written at line"
                            f" {first_pos.line}, "
                            f"column {first_pos.col}); a key may appear once per mapping",
                        )
                    elif value == "<<" and implicit[0]:
                        self.problem(m, "merge keys (<<) are not supported: write the keys out")
                    key = value
                    pos_of[value] = p
                    continue
                if implicit[0]:
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
            elif kind is mapping or kind is sequence:
                anchor, tag, _, m, _, _ = ev.args
                if anchor is not None or tag is not None:
                    self.node_props(anchor, tag, m)
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
                p = m.line << SHIFT | m.column
                new: Any
                if kind is mapping:
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
                if kind is mapping:
                    pos_of, vpos, key, is_map = new._kpos, new._vpos, None, True
                else:
                    pos_of, vpos, key, is_map = new._ipos, None, None, False
            elif kind is end:
                cur, pos_of, vpos, is_map = stack.pop()
                key = None
            elif kind is _Alias:
                anchor, m, _ = ev.args
                if is_map and key is None:
                    self.problem(m, _ALIAS_MESSAGE.format(anchor), stop=True)
                self.problem(m, _ALIAS_MESSAGE.format(anchor))
                if is_map:
                    cur[key] = None
                    vpos[key] = m.line << SHIFT | m.column
                    key = None
                elif cur is not None:
                    cur.append(None)
                    pos_of.append(m.line << SHIFT | m.column)
                else:
                    self.root = None
            elif kind is _DocumentStart:
                m, _, _, version, _ = ev.args
                documents += 1
                if documents > 1:
                    self.problem(
                        m,
                        "a second YAML document starts here (---); a file holds one document: "
                        "split it into two files",
                        stop=True,
                    )
                if version is not None and tuple(version) != (1, 2):
                    shown = ".".join(str(v) for v in version)
                    self.problem(
                        m,
                        f"%YAML {shown} is not supported: pisync reads YAML 1.2; "
                        "remove the directive",
                    )
            elif kind is _StreamEnd:
                return
            elif kind is not _Other:  # never loop on what the parser did not send as a record
                raise AssertionError(f"unexpected YAML event {kind.__name__}")


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
    return quote_value(value if isinstance(value, str) else repr(value))
