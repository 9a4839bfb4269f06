"""Plan -> text, Markdown and JSON strings: pure functions, no colour codes, no terminal.

The plan is computed once (:func:`reconciler.core.diff.diff`) and rendered here three ways.
Colour is the shell's business: :func:`text_lines` returns lines of ``(text, style)``
segments, the shell turns each into a ``rich.text.Text`` (never markup, so user data cannot
inject any), and :func:`render_text` is the same lines joined without styles.

Text (SPEC §4.1)::

    pisync will perform these actions against https://pi.example.com:8224/pi/api/v2:

      + role "Finance Viewer"
          categories: [Budgets, Finance]

      ~ user JSMITH
          ~ email:      "j.smith@example.com" -> "john.smith@example.com"
          + roles:      "Finance Viewer"
          - categories: "Sales"

      - user OLDUSER  (disable)

    Effective access changes:
        JSMITH gains role "Finance Viewer" (categories Budgets, Finance); loses category Sales
        OLDUSER is disabled, losing all access; loses privilege pdf

    Plan: 1 to create, 1 to update, 1 to disable, 0 to delete.

Format decisions:

- **Values.** A value that stands alone (a scalar, one element added to or removed from a
  set) is written as JSON: ``"text"``, ``true``, ``null``. Inside brackets or braces
  (a whole list on a create line, a restriction) names are written bare — ``[Budgets,
  Finance]``, ``{connection: Sales DB, column: Region, values: [East, North]}`` — unless a
  name is empty, has surrounding or non-printing whitespace, or contains one of ``,[]{}"``;
  then it is JSON-quoted too, so a list can always be read back unambiguously. Role names
  are always quoted (``role "Finance Viewer"``), usercodes bare by the same rule.
  Non-printing characters (controls, bidi overrides, line separators) are always escaped
  as ``\\uXXXX``: user data can neither break a line nor disguise itself.
- **Creates** list every planned field ``name: value``, without a symbol; **updates** list
  ``~ name: before -> after`` for a scalar, and for a set one ``- name: element`` per removed
  element then one ``+ name: element`` per added one (roles and categories compared
  case-insensitively, as the diff does). A variable is its own field ``variables.NAME``.
  A sensitive field never shows a value: ``(sensitive)`` when added, removed or created,
  ``(sensitive value changed)`` when changed. Field names are padded to align within one
  object. Disables and deletes are one line: ``- user OLDUSER  (disable)``.
- **Sections** sit between the changes and the summary line, each only when non-empty, in
  this order: effective access (escalations first, marked ``!`` and
  ``(privilege escalation)``), expiring access (expired-but-enabled marked ``!``), then
  ``Warning:`` lines. The summary line ``Plan: …`` stays the last line, as in Terraform, so a
  reader or a script finds the totals in one place. A partial plan (``--target``) says so
  in a ``Note:`` line right under the header, before anything else can be misread as the
  whole picture.
- **Empty plan**: exactly ``No changes. Panintelligence matches the desired state.``; if
  there is a partial-plan note, an expiry or a warning, those come first and the message
  stays the last line.
- Every rendered string ends with a newline.

Markdown (:func:`render_markdown`) carries the same content for a PR comment or
``$GITHUB_STEP_SUMMARY``: heading, counts table, effective access, expiring access,
warnings, then one ``<details>`` block per object holding a ``diff`` fenced block (symbols in
column 0, so GitHub colours ``+`` and ``-``). It never exceeds ``limit`` characters (unless
``limit`` is smaller than the heading and table alone): whole objects are dropped from the
end with a note; the access, expiry and warning sections are capped at a share of the limit
with their own notes. User data appears only inside code spans, fenced blocks or escaped
HTML, so ``<``, ``|``, backticks or brackets in a name cannot break the layout.

JSON (:func:`render_json`) is ``Plan.to_document()`` (``to_dict()`` and its digest), documented
by ``schemas/plan.schema.json``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.core.plan import (
    AccessChange,
    Action,
    Change,
    Counts,
    Expiry,
    FieldChange,
    Kind,
    Plan,
)

#: ``(text, style)``; style is one of :data:`STYLES` or None (plain).
Segment = tuple[str, str | None]
#: One output line; the empty tuple is a blank line.
Line = tuple[Segment, ...]

STYLES: Final[frozenset[str]] = frozenset(
    {"create", "update", "delete", "sensitive", "warning", "heading"}
)
NO_CHANGES: Final = "No changes. Panintelligence matches the desired state."
MARKDOWN_LIMIT: Final = 60_000

_SYMBOL_STYLE: Final = {"+": "create", "~": "update", "-": "delete"}
_ACTION_SYMBOL_STYLE: Final = {
    Action.CREATE: "create",
    Action.UPDATE: "update",
    Action.DISABLE: "delete",
    Action.DELETE: "delete",
}
_SENSITIVE_ADDED: Final = "(sensitive)"
_SENSITIVE_CHANGED: Final = "(sensitive value changed)"
#: Set-like paths whose elements compare case-insensitively (as in the diff).
_CASE_INSENSITIVE: Final = frozenset({"roles", "categories"})
_DELIMITERS: Final = frozenset(',[]{}"')
_FIELD_INDENT: Final = "      "


# --- values --------------------------------------------------------------------------------


def _escape_char(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # as JSON does: a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _printable(text: str) -> str:
    """``text`` with every non-printing character escaped (controls, bidi, separators)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def _quote(text: str) -> str:
    """A JSON string literal that is also safe to show on a terminal."""
    return _printable(json.dumps(text, ensure_ascii=False))


def _bare(text: str) -> str:
    """``text`` unquoted when that is unambiguous inside a list, else JSON-quoted."""
    if text and text == text.strip() and text.isprintable() and not _DELIMITERS & set(text):
        return text
    return _quote(text)


def _nested(value: Any) -> str:
    """A value inside brackets or braces: names bare."""
    if isinstance(value, str):
        return _bare(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_bare(str(k))}: {_nested(v)}" for k, v in value.items()) + "}"
    return _printable(json.dumps(value, ensure_ascii=False, default=str))


def _standalone(value: Any) -> str:
    """A value on its own: strings JSON-quoted, containers as :func:`_nested`."""
    return _quote(value) if isinstance(value, str) else _nested(value)


# --- one object's rows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """One field line: ``symbol`` is None on a create (the object's ``+`` covers it)."""

    symbol: str | None
    name: str
    value: tuple[Segment, ...]


def _heading(change: Change) -> str:
    """``role "Finance Viewer"`` / ``user JSMITH``, plus the verb when it is not implied."""
    label = (
        f"role {_quote(change.key)}" if change.kind is Kind.ROLE else f"user {_bare(change.key)}"
    )
    if change.action in (Action.DISABLE, Action.DELETE):
        return f"{label}  ({change.action.value})"
    return label


def _rows(change: Change) -> list[_Row]:
    if change.action is Action.CREATE:
        return [_create_row(fc) for fc in change.fields]
    if change.action is Action.UPDATE:
        return [row for fc in change.fields for row in _update_rows(fc)]
    return []  # disable / delete: the heading says it all


def _create_row(fc: FieldChange) -> _Row:
    if fc.sensitive:
        return _Row(None, fc.path, ((_SENSITIVE_ADDED, "sensitive"),))
    return _Row(None, fc.path, ((_standalone(fc.after), None),))


def _update_rows(fc: FieldChange) -> list[_Row]:
    if fc.sensitive:
        return [_sensitive_row(fc)]
    if _is_var(fc) and fc.before is None:
        return [_Row("+", fc.path, ((_standalone(fc.after), None),))]
    if _is_var(fc) and fc.after is None:
        return [_Row("-", fc.path, ((_standalone(fc.before), None),))]
    if _is_set(fc.before) and _is_set(fc.after) and (fc.before, fc.after) != (None, None):
        removed, added = _set_delta(fc.path, fc.before or [], fc.after or [])
        rows = [_Row("-", fc.path, ((_standalone(v), None),)) for v in removed]
        rows += [_Row("+", fc.path, ((_standalone(v), None),)) for v in added]
        if rows:
            return rows
    return [_scalar_row(fc)]


def _is_var(fc: FieldChange) -> bool:
    return fc.path.startswith("variables.")


def _is_set(value: Any) -> bool:
    return value is None or isinstance(value, list)


def _scalar_row(fc: FieldChange) -> _Row:
    return _Row(
        "~",
        fc.path,
        ((_standalone(fc.before), None), (" -> ", None), (_standalone(fc.after), None)),
    )


def _sensitive_row(fc: FieldChange) -> _Row:
    if fc.before is None:
        return _Row("+", fc.path, ((_SENSITIVE_ADDED, "sensitive"),))
    if fc.after is None:
        return _Row("-", fc.path, ((_SENSITIVE_ADDED, "sensitive"),))
    return _Row("~", fc.path, ((_SENSITIVE_CHANGED, "sensitive"),))


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


def _row_segments(row: _Row, width: int, symbol: str | None) -> Line:
    """``symbol name:<pad> value``; ``symbol`` None leaves the column out (text creates)."""
    name = _printable(row.name) + ":"
    head: tuple[Segment, ...] = ()
    if symbol is not None:
        head = ((symbol, _SYMBOL_STYLE[symbol]), (" ", None))
    return (*head, (name.ljust(width) + " ", None), *row.value)


def _width(rows: Sequence[_Row]) -> int:
    return max((len(_printable(r.name)) + 1 for r in rows), default=0)


# --- effective access and expiry, in words -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Names:
    """How each kind of name is written: text quotes roles; Markdown uses code spans."""

    user: Callable[[str], str]
    role: Callable[[str], str]
    item: Callable[[str], str]


_PLURALS: Final = {"role": "roles", "category": "categories", "privilege": "privileges"}


def _listed(names: Iterable[str], fmt: Callable[[str], str]) -> str:
    return ", ".join(fmt(n) for n in names)


def _counted(noun: str, names: Sequence[str], fmt: Callable[[str], str]) -> str:
    """``category Sales`` / ``categories Budgets, Finance``."""
    return f"{noun if len(names) == 1 else _PLURALS[noun]} {_listed(names, fmt)}"


def _type_parts(change: AccessChange, action: Action | None, n: _Names) -> list[str]:
    if change.type_change is None:
        return []
    old, new = change.type_change
    if new is None:
        return [f"is {'deleted' if action is Action.DELETE else 'disabled'}, losing all access"]
    if old is None:
        verb = "is created" if action is Action.CREATE else "is enabled"
        return [f"{verb} as {n.item(new)}"]
    return [f"becomes {n.item(new)} (was {n.item(old)})"]


def _gained_roles(change: AccessChange, n: _Names) -> str:
    def one(role: str) -> str:
        cats = change.role_categories.get(role, ())
        return n.role(role) + (f" ({_counted('category', cats, n.item)})" if cats else "")

    return f"gains {_counted('role', change.gained_roles, one)}"


def _access_sentence(change: AccessChange, action: Action | None, n: _Names) -> str:
    """``JSMITH gains role "X" (categories A, B); loses category C; gains privilege p``."""
    parts = _type_parts(change, action, n)
    if change.gained_roles:
        parts.append(_gained_roles(change, n))
    if change.lost_roles:
        parts.append(f"loses {_counted('role', change.lost_roles, n.role)}")
    explained = {
        c.casefold() for r in change.gained_roles for c in change.role_categories.get(r, ())
    }
    gained_cats = [c for c in change.gained_categories if c.casefold() not in explained]
    for verb, noun, names in (
        ("gains", "category", gained_cats),
        ("loses", "category", change.lost_categories),
        ("gains", "privilege", change.gained_privileges),
        ("loses", "privilege", change.lost_privileges),
    ):
        if names:
            parts.append(f"{verb} {_counted(noun, names, n.item)}")
    return f"{n.user(change.usercode)} {'; '.join(parts) or 'has unchanged access'}"


def _access_order(plan: Plan) -> list[AccessChange]:
    """Escalations first (reviewers look there), otherwise the plan's order."""
    return sorted(plan.access, key=lambda a: not a.escalation)


def _actions(plan: Plan) -> dict[str, Action]:
    return {c.key: c.action for c in plan.changes if c.kind is Kind.USER}


def _expiry_sentence(expiry: Expiry, n: _Names) -> tuple[str, bool]:
    """The sentence, and whether it is a warning (expired but still enabled)."""
    who, date = n.user(expiry.usercode), _printable(expiry.expires)
    if expiry.days < 0:
        if expiry.enabled:
            return f"{who} expired on {date} but is still enabled", True
        return f"{who} expired on {date} (disabled)", False
    if expiry.days == 0:
        return f"{who} expires today ({date})", False
    unit = "day" if expiry.days == 1 else "days"
    return f"{who} expires in {expiry.days} {unit} ({date})", False


def _targets_note(plan: Plan, fmt: Callable[[str], str], cap: int | None = None) -> str:
    names = _listed(plan.targets[:cap], fmt)
    if cap is not None and len(plan.targets) > cap:
        names += f" and {len(plan.targets) - cap} more"
    return f"partial plan for --target {names}; changes to other objects are not shown."


def _files_note(plan: Plan, fmt: Callable[[str], str]) -> str:
    n = plan.partial_files
    files = f"{n} file{'s' if n != 1 else ''}"
    if plan.changed_since is not None:
        return (
            f"partial plan: {files} changed since {fmt(plan.changed_since)}; users and roles not"
            " declared in them are not considered, except users removed since then, which get"
            " the prune action."
        )
    return f"partial plan: {files}; users and roles not declared in them are not considered."


def _partial_notes(plan: Plan, fmt: Callable[[str], str], cap: int | None = None) -> list[str]:
    """One sentence per way the plan is partial (files, then targets)."""
    notes = [_files_note(plan, fmt)] if plan.partial_files is not None else []
    if plan.targets:
        notes.append(_targets_note(plan, fmt, cap))
    return notes


def heading(change: Change) -> str:
    """The change's name as the text plan shows it (terminal-safe): ``user JSMITH``."""
    return _heading(change)


def printable(text: str) -> str:
    """``text`` with every non-printing character escaped, as the text plan shows it."""
    return _printable(text)


def md_code(text: str) -> str:
    """A Markdown code span holding ``text`` literally."""
    return _md_code(text)


def md_fence(text: str) -> str:
    """A fence for a Markdown block holding ``text``: longer than any backtick run in it."""
    return "`" * max(3, max((len(m) for m in _BACKTICKS.findall(text)), default=0) + 1)


def md_guards(plan: Plan) -> str:
    """The guards as a Markdown alert block (empty without guards)."""
    return _md_guards(plan)


def quiet_line(plan: Plan) -> str:
    """The plan in one line (``-q``): the summary line, or that there is nothing to do."""
    if plan.empty:
        return NO_CHANGES
    line = text_summary_line(plan.counts)
    return f"{line} (partial plan)" if plan.partial else line


def partial_notes(plan: Plan) -> list[str]:
    """How the plan is partial, in plain words (empty for a whole plan)."""
    return _partial_notes(plan, _bare)


def text_summary_line(counts: Counts) -> str:
    """``Plan: 1 to create, 0 to update, 0 to disable, 0 to delete.``"""
    return "".join(text for text, _ in _text_summary(counts))


def _guards_heading(plan: Plan) -> str:
    if plan.forced:
        return "Safety guards overridden by --force:"
    return "Blocked by safety guards (pisync apply refuses this plan; --force overrides):"


# --- text ------------------------------------------------------------------------------------


_TEXT_NAMES: Final = _Names(user=_bare, role=_quote, item=_bare)


def text_lines(plan: Plan) -> list[Line]:
    """The text plan as styled lines (see the module docstring for the layout)."""
    lines: list[Line] = []
    if not plan.empty:
        lines += [_text_header(plan), ()]
    for note in _partial_notes(plan, _bare):
        lines += [(("Note: ", "warning"), (note, None)), ()]
    for change in plan.changes:
        lines += [*_text_object(change), ()]
    lines += _text_sections(plan)
    lines.append(_text_summary(plan.counts) if not plan.empty else ((NO_CHANGES, None),))
    return lines


def render_text(plan: Plan) -> str:
    """:func:`text_lines` as plain text, one ``\\n``-terminated line each."""
    return "".join("".join(text for text, _ in line) + "\n" for line in text_lines(plan))


def _text_header(plan: Plan) -> Line:
    if not plan.server:
        return (("pisync will perform these actions:", None),)
    return (
        ("pisync will perform these actions against ", None),
        (_printable(plan.server), "heading"),
        (":", None),
    )


def _text_object(change: Change) -> list[Line]:
    symbol = change.action.symbol
    head: Line = (
        ("  ", None),
        (symbol, _ACTION_SYMBOL_STYLE[change.action]),
        (" ", None),
        (_heading(change), "heading"),
    )
    rows = _rows(change)
    width = _width(rows)
    return [head] + [((_FIELD_INDENT, None), *_row_segments(r, width, r.symbol)) for r in rows]


def _text_sections(plan: Plan) -> list[Line]:
    lines: list[Line] = []
    if plan.access:
        actions = _actions(plan)
        lines.append((("Effective access changes:", "heading"),))
        for a in _access_order(plan):
            sentence = _access_sentence(a, actions.get(a.usercode), _TEXT_NAMES)
            if a.escalation:
                lines.append(_marked(sentence, ("  (privilege escalation)", "warning")))
            else:
                lines.append((("    ", None), (sentence, None)))
        lines.append(())
    if plan.expiring:
        lines.append((("Expiring access:", "heading"),))
        for e in plan.expiring:
            sentence, warn = _expiry_sentence(e, _TEXT_NAMES)
            lines.append(_marked(sentence) if warn else (("    ", None), (sentence, None)))
        lines.append(())
    if plan.notes:
        lines += [(("Note: ", None), (_printable(n), None)) for n in plan.notes]
        lines.append(())
    if plan.warnings:
        lines += [(("Warning: ", "warning"), (_printable(w), None)) for w in plan.warnings]
        lines.append(())
    if plan.guards:
        lines.append(((_guards_heading(plan), "warning" if plan.forced else "delete"),))
        lines += [_marked(_printable(str(g))) for g in plan.guards]
        lines.append(())
    return lines


def _marked(sentence: str, *tail: Segment) -> Line:
    return (("  ", None), ("!", "warning"), (" ", None), (sentence, None), *tail)


def _text_summary(counts: Counts) -> Line:
    return (
        ("Plan: ", "heading"),
        (f"{counts.create} to create", "create"),
        (", ", None),
        (f"{counts.update} to update", "update"),
        (", ", None),
        (f"{counts.disable} to disable", "delete"),
        (", ", None),
        (f"{counts.delete} to delete", "delete"),
        (".", None),
    )


# --- markdown --------------------------------------------------------------------------------

_BACKTICKS: Final = re.compile(r"`+")
#: ASCII punctuation that can mean something in GitHub Markdown mid-line (``$`` is math).
_MD_SPECIAL: Final = frozenset("\\`*_[]<>|~#!&$:{}+=^")


def _md_code(text: str) -> str:
    """A code span that holds ``text`` literally, whatever backticks it contains."""
    text = _printable(text)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_name(text: str) -> str:
    return _md_code(_bare(text))


def _md_text(text: str) -> str:
    """Free text (a warning) with every meaningful punctuation mark backslash-escaped."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in _printable(text))


_MD_NAMES: Final = _Names(user=_md_name, role=_md_name, item=_md_name)
#: At most this many ``--target`` names in the Markdown note (the heading is never truncated).
_MD_TARGETS: Final = 20


def render_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT) -> str:
    """The plan as GitHub Markdown of at most ``limit`` characters (see module docstring)."""
    out = _md_head(plan)
    out += _md_sections(plan, limit)
    if plan.empty:
        return out + NO_CHANGES + "\n"
    heading = "### Changes\n\n"
    blocks = [_md_details(c) for c in plan.changes]
    budget = limit - len(out) - len(heading)
    if sum(map(len, blocks)) <= budget:
        return (out + heading + "".join(blocks)).rstrip("\n") + "\n"
    budget -= len(_md_more_changes(len(blocks)))
    shown = _fit(blocks, budget)
    return out + heading + "".join(blocks[:shown]) + _md_more_changes(len(blocks) - shown)


def _md_head(plan: Plan) -> str:
    out = "## pisync plan\n\n"
    if plan.server:
        out += f"Server: {_md_code(plan.server)}\n\n"
    for note in _partial_notes(plan, _md_name, _MD_TARGETS):
        out += f"> **Note:** {note}\n\n"
    if plan.empty:
        return out
    c = plan.counts
    return (
        out
        + "| Create | Update | Disable | Delete |\n"
        + "|-------:|-------:|--------:|-------:|\n"
        + f"| {c.create} | {c.update} | {c.disable} | {c.delete} |\n\n"
        + _md_guards(plan)
    )


def _md_guards(plan: Plan) -> str:
    """The guards, first after the counts: what a reviewer must see before anything else."""
    if not plan.guards:
        return ""
    if plan.forced:
        kind, heading = "WARNING", "**Safety guards overridden by `--force`:**"
    else:
        kind = "CAUTION"
        heading = "**Blocked by safety guards:** `pisync apply` refuses this plan unless `--force`."
    lines = [f"> [!{kind}]", f"> {heading}", ">"]
    lines += [f"> - {_md_code(g.name)}: {_md_text(g.message)}" for g in plan.guards]
    return "\n".join(lines) + "\n\n"


def _md_sections(plan: Plan, limit: int) -> str:
    out = ""
    if plan.access:
        actions = _actions(plan)
        items = [_md_access_item(a, actions.get(a.usercode)) for a in _access_order(plan)]
        out += "### Effective access\n\n" + _capped(items, limit // 2, "users' access changes")
    if plan.expiring:
        items = [_md_expiry_item(e) for e in plan.expiring]
        out += "### Expiring access\n\n" + _capped(items, limit // 10, "expiring users")
    if plan.notes:
        items = [f"- {_md_text(n)}\n" for n in plan.notes]
        out += "### Notes\n\n" + _capped(items, limit // 10, "notes")
    if plan.warnings:
        items = [f"- ⚠️ {_md_text(w)}\n" for w in plan.warnings]
        out += "### Warnings\n\n" + _capped(items, limit // 10, "warnings")
    return out


def _md_access_item(change: AccessChange, action: Action | None) -> str:
    sentence = _access_sentence(change, action, _MD_NAMES)
    if change.escalation:
        return f"- ⚠️ **Privilege escalation:** {sentence}\n"
    return f"- {sentence}\n"


def _md_expiry_item(expiry: Expiry) -> str:
    sentence, warn = _expiry_sentence(expiry, _MD_NAMES)
    return f"- ⚠️ **{sentence}**\n" if warn else f"- {sentence}\n"


def _capped(items: Sequence[str], budget: int, what: str) -> str:
    """A list section of at most ``budget`` characters, with a note for what was left out."""
    if sum(map(len, items)) <= budget:
        return "".join(items) + "\n"
    shown = _fit(items, budget - len(_md_more(len(items), what)))
    return "".join(items[:shown]) + _md_more(len(items) - shown, what) + "\n"


def _md_more(count: int, what: str) -> str:
    return f"- … {count} more {what} not shown; see the JSON plan\n"


def _md_more_changes(count: int) -> str:
    noun = "change" if count == 1 else "changes"
    return f"… {count} more {noun} not shown; run pisync plan locally or see the JSON plan\n"


def _fit(items: Sequence[str], budget: int) -> int:
    """How many leading items fit in ``budget`` characters."""
    used = 0
    for i, item in enumerate(items):
        used += len(item)
        if used > budget:
            return i
    return len(items)


def _md_details(change: Change) -> str:
    rows = _rows(change)
    width = _width(rows)
    symbol = change.action.symbol
    if rows:
        body = ["".join(t for t, _ in _row_segments(r, width, r.symbol or "+")) for r in rows]
    else:
        body = [f"{symbol} {_heading(change)}"]
    text = "\n".join(body)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    summary = html.escape(f"{symbol} {_heading(change)}", quote=False)
    return (
        f"<details><summary><code>{summary}</code></summary>\n\n"
        f"{fence}diff\n{text}\n{fence}\n\n</details>\n\n"
    )


# --- json ------------------------------------------------------------------------------------


def render_json(plan: Plan) -> str:
    """The saved-plan form (``plan --out``), documented by ``schemas/plan.schema.json``."""
    return json.dumps(plan.to_document(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
