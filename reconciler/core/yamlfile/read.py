"""YAML bytes -> plain values that remember where they were written. Safe, bounded, pure.

:func:`parse_yaml` never raises and never recurses: every problem becomes an
:class:`~reconciler.core.model.issues.Issue` with a 1-based line and column.

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
from collections.abc import Callable, Iterator
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
        builder.issues.append(syntax_issue(exc, file, text))
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
        first = PLAIN_FIRST
        resolve = resolve_plain
        while True:
            ev = next_event()
            kind = type(ev)
            if kind is ScalarEvent:
                if ev.anchor is not None or ev.ctag is not None:
                    self.node_props(ev)
                m = ev.start_mark
                p = m.line << SHIFT | m.column
                value = ev.value
                if is_map and key is None:
                    if value in cur:
                        first_pos = unpack(file, pos_of[value])
                        self.problem(
                            m,
                            f"duplicate key {quote_value(value)} (first written at line"
                            f" {first_pos.line}, "
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
                p = m.line << SHIFT | m.column
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
                    vpos[key] = m.line << SHIFT | m.column
                    key = None
                elif cur is not None:
                    cur.append(None)
                    pos_of.append(m.line << SHIFT | m.column)
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
    return quote_value(value if isinstance(value, str) else repr(value))
