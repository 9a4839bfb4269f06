"""One change of a plan as field rows: ``symbol name: value`` as styled segments, shared by
the text plan and the Markdown plan's ``diff`` blocks. Pure.

Values: a value that stands alone is written as JSON; inside brackets or braces names are
written bare unless that would be ambiguous (:func:`~reconciler.core.render.markup.bare`).
A sensitive field never shows a value; a secret apply will write shows where it is read from
(``(sensitive: env DB_PW, secure)``), so that every value apply sends is on the page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.core.plans.plan import Action, Change, FieldChange, Kind
from reconciler.core.render.markup import bare, printable, quote

#: ``(text, style)``; style is one of :data:`STYLES` or None (plain).
Segment = tuple[str, str | None]
#: One output line; the empty tuple is a blank line.
Line = tuple[Segment, ...]

STYLES: Final[frozenset[str]] = frozenset(
    {"create", "update", "delete", "sensitive", "warning", "heading"}
)

_SYMBOL_STYLE: Final = {"+": "create", "~": "update", "-": "delete"}
_SENSITIVE_ADDED: Final = "(sensitive)"
_SENSITIVE_CHANGED: Final = "(sensitive value changed)"
#: Set-like paths whose elements compare case-insensitively (as in the diff).
_CASE_INSENSITIVE: Final = frozenset({"roles", "categories"})


def _nested(value: Any) -> str:
    """A value inside brackets or braces: names bare."""
    if isinstance(value, str):
        return bare(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{bare(str(k))}: {_nested(v)}" for k, v in value.items()) + "}"
    if value is None or value is True or value is False:
        return _JSON_CONSTANTS[value]
    return printable(json.dumps(value, ensure_ascii=False, default=str))


#: json.dumps of the three constants, without the call (a create lists several per user)
_JSON_CONSTANTS: Final = {None: "null", True: "true", False: "false"}


def _standalone(value: Any) -> str:
    """A value on its own: strings JSON-quoted, containers as :func:`_nested`."""
    return quote(value) if isinstance(value, str) else _nested(value)


# --- one object's rows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One field line: ``symbol`` is None on a create (the object's ``+`` covers it)."""

    symbol: str | None
    name: str
    value: tuple[Segment, ...]


def heading(change: Change) -> str:
    """``role "Finance Viewer"`` / ``user JSMITH``, plus the verb when it is not implied."""
    label = f"role {quote(change.key)}" if change.kind is Kind.ROLE else f"user {bare(change.key)}"
    if change.action in (Action.DISABLE, Action.DELETE):
        return f"{label}  ({change.action.value})"
    return label


def field_rows(change: Change) -> list[FieldRow]:
    if change.action is Action.CREATE:
        return [_create_row(fc) for fc in change.fields]
    if change.action is Action.UPDATE:
        return [row for fc in change.fields for row in _update_rows(fc)]
    return []  # disable / delete: the heading says it all


def _create_row(fc: FieldChange) -> FieldRow:
    if fc.sensitive:
        return FieldRow(None, fc.path, _written_secret(fc.after, _SENSITIVE_ADDED))
    return FieldRow(None, fc.path, ((_standalone(fc.after), None),))


def _update_rows(fc: FieldChange) -> list[FieldRow]:
    if fc.sensitive:
        return [_sensitive_row(fc)]
    if _is_var(fc) and fc.before is None:
        return [FieldRow("+", fc.path, ((_standalone(fc.after), None),))]
    if _is_var(fc) and fc.after is None:
        return [FieldRow("-", fc.path, ((_standalone(fc.before), None),))]
    if _is_set(fc.before) and _is_set(fc.after) and (fc.before, fc.after) != (None, None):
        removed, added = _set_delta(fc.path, fc.before or [], fc.after or [])
        rows = [FieldRow("-", fc.path, ((_standalone(v), None),)) for v in removed]
        rows += [FieldRow("+", fc.path, ((_standalone(v), None),)) for v in added]
        if rows:
            return rows
    return [_scalar_row(fc)]


def _is_var(fc: FieldChange) -> bool:
    return fc.path.startswith("variables.")


def _is_set(value: Any) -> bool:
    return value is None or isinstance(value, list)


def _scalar_row(fc: FieldChange) -> FieldRow:
    return FieldRow(
        "~",
        fc.path,
        ((_standalone(fc.before), None), (" -> ", None), (_standalone(fc.after), None)),
    )


def _sensitive_row(fc: FieldChange) -> FieldRow:
    if fc.before is None:
        return FieldRow("+", fc.path, _written_secret(fc.after, _SENSITIVE_ADDED))
    if fc.after is None:
        return FieldRow("-", fc.path, ((_SENSITIVE_ADDED, "sensitive"),))
    return FieldRow("~", fc.path, _written_secret(fc.after, _SENSITIVE_CHANGED))


def _written_secret(after: Any, word: str) -> tuple[Segment, ...]:
    """What apply writes where a secret is or was: the environment variable a secret is read
    from (``(sensitive: env DB_PW, secure)``), or a clear value replacing a secret (the old
    value is never shown)."""
    if isinstance(after, dict) and "env" in after:
        secure = ", secure" if after.get("secure") else ""
        return ((f"{word[:-1]}: env {bare(str(after['env']))}{secure})", "sensitive"),)
    if isinstance(after, dict) or after == _SENSITIVE_ADDED:
        return ((word, "sensitive"),)
    return ((_SENSITIVE_ADDED, "sensitive"), (" -> ", None), (_standalone(after), None))


def _set_delta(path: str, before: list[Any], after: list[Any]) -> tuple[list[Any], list[Any]]:
    """(removed, added) elements, in their listed order; names fold case where the diff does."""
    fold = path in _CASE_INSENSITIVE

    def key(value: Any) -> str:
        if isinstance(value, str):
            return value.casefold() if fold else value
        return json.dumps(value, sort_keys=True, default=str)

    before_keys = {key(v) for v in before}
    after_keys = {key(v) for v in after}
    return (
        [v for v in before if key(v) not in after_keys],
        [v for v in after if key(v) not in before_keys],
    )


def row_segments(row: FieldRow, width: int, symbol: str | None) -> Line:
    """``symbol name:<pad> value``; ``symbol`` None leaves the column out (text creates)."""
    name = printable(row.name) + ":"
    head: tuple[Segment, ...] = ()
    if symbol is not None:
        head = ((symbol, _SYMBOL_STYLE[symbol]), (" ", None))
    return (*head, (name.ljust(width) + " ", None), *row.value)


def name_width(rows: Sequence[FieldRow]) -> int:
    return max((len(printable(r.name)) + 1 for r in rows), default=0)
