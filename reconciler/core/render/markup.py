"""Every escape of user data, in one place: terminal text, names, Markdown, HTML, CSV and
GitHub workflow commands. Pure.

Whatever a user wrote (a name, a reason, a role) can reach a terminal, a job log, a PR comment,
a CSV file or an HTML page; the plan's and the review's renderers write it only through the
function here for that context, so no format escapes in its own way:

- terminal text (:func:`printable`): every non-printing character (controls, bidi overrides,
  line separators) as ``\\uXXXX`` (a surrogate pair beyond U+FFFF, as JSON writes it), so user
  data can neither break a line nor disguise itself;
- names (:func:`quote`, :func:`bare`): JSON literals, bare when unambiguous inside a list;
- Markdown: :func:`md_code` (a code span that holds anything literally; in a table cell a
  pipe is escaped too), :func:`md_text` (free text, every ASCII mark that can mean something
  mid-line escaped), :func:`md_fence` (a fence longer than any backtick run);
- HTML: :func:`html_text` (element content) and :func:`html_escape` (content or a quoted
  attribute value);
- CSV: :func:`csv_row` (a record: formulas neutralised by :func:`csv_cell`, CR and LF
  quoted) and :func:`csv_value` (a cell read back);
- GitHub workflow commands (:func:`escape_data`, :func:`escape_property`), as actions/toolkit
  escapes them; and free text that must never run as one (:func:`neutralise_commands`: a line
  that starts with ``::`` or holds ``##[`` anywhere is what the runner reads as a command).

Markdown from user data never carries a live ``@mention`` (GitHub finds ``@user`` and
``@org/team`` in the rendered text, a backslash does not stop it): :func:`md_text` breaks every
``@`` with a zero-width joiner; code spans hold it inert.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

from reconciler.core.model.text import printable

__all__ = [
    "bare",
    "csv_cell",
    "escape_data",
    "escape_property",
    "html_escape",
    "html_text",
    "md_code",
    "md_fence",
    "md_text",
    "neutralise_commands",
    "printable",
    "quote",
]

# --- terminal text ---------------------------------------------------------------------------


# --- names -----------------------------------------------------------------------------------

#: A character that makes a name ambiguous inside a list (or a leading or trailing space).
_AMBIGUOUS: Final = re.compile(r'[,\[\]{}"]|^\s|\s$')
#: ``json.dumps(text, ensure_ascii=False)`` for a string, without the call's set-up (a plan
#: of 50,000 creates quotes a million names)
_json_string: Final = json.encoder.encode_basestring


def quote(text: str) -> str:
    """A JSON string literal that is also safe to show on a terminal."""
    return printable(_json_string(text))


@lru_cache(maxsize=8192)  # the same few names (roles, privileges, categories) again and again
def bare(text: str) -> str:
    """``text`` unquoted when that is unambiguous inside a list, else JSON-quoted."""
    if text and text.isprintable() and _AMBIGUOUS.search(text) is None:
        return text
    return quote(text)


# --- markdown --------------------------------------------------------------------------------

_BACKTICKS: Final = re.compile(r"`+")
#: ASCII punctuation that can mean something in GitHub Markdown mid-line (``$`` is math).
_MD_SPECIAL: Final = frozenset("\\`*_[]<>|~#!&$:{}+=^")


def md_code(text: str, *, in_table: bool = False) -> str:
    """A code span that holds ``text`` literally, whatever backticks it contains; ``in_table``:
    a pipe is escaped too (inside a table cell GitHub reads it as a column break even in code;
    elsewhere the backslash would show)."""
    text = printable(text)
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str) -> str:
    """Free text (a warning, a table cell) with every meaningful punctuation mark
    backslash-escaped: pipes, HTML, comments and line breaks cannot break a line or a table;
    an ``@`` is followed by a zero-width joiner, so that no ``@user`` or ``@org/team`` becomes
    a mention."""
    return "".join(
        "\\" + c if c in _MD_SPECIAL else c + _ZWJ if c == "@" else c for c in printable(text)
    )


_ZWJ: Final = "\u200d"


def md_fence(text: str) -> str:
    """A fence for a Markdown block holding ``text``: longer than any backtick run in it."""
    return "`" * max(3, _longest_backticks(text) + 1)


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0)


# --- HTML ------------------------------------------------------------------------------------


def html_text(text: str) -> str:
    """``text`` as HTML element content (``&``, ``<``, ``>`` escaped)."""
    return html.escape(text, quote=False)


def html_escape(value: object) -> str:
    """``value`` as text that is safe both as element content and as a quoted attribute
    value (quotes escaped too)."""
    return html.escape(str(value), quote=True)


# --- CSV -------------------------------------------------------------------------------------

#: A cell a spreadsheet would run as a formula starts with one of these (OWASP CSV injection:
#: ``=``, ``+``, ``-``, ``@``, TAB, CR; LF too, which some spreadsheets also strip first).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
#: What :func:`csv_cell` prefixes: also before a text that starts with it, so that
#: :func:`csv_value` can take exactly one away.
_CSV_GUARD: Final = "'"
_CSV_QUOTE_IF: Final = frozenset(',"\r\n')

#: What one CSV cell holds before it is written.
CsvValue = str | bool | int | None


def csv_cell(value: CsvValue) -> str:
    """One CSV cell's text: empty for None, ``true``/``false`` for a bool; a text a
    spreadsheet would take for a formula is prefixed with ``'`` so that opening the file never
    runs one (and so is a text that starts with ``'``, so :func:`csv_value` reverses it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return _CSV_GUARD + text if text.startswith((*_FORMULA_START, _CSV_GUARD)) else text


def csv_value(cell: str) -> str:
    """What a cell written by :func:`csv_cell` held: one guarding ``'`` taken away."""
    if cell.startswith(_CSV_GUARD) and cell[1:].startswith((*_FORMULA_START, _CSV_GUARD)):
        return cell[1:]
    return cell


def csv_row(values: Iterable[CsvValue]) -> str:
    """One CSV record ending in ``\\n``: each cell through :func:`csv_cell`, and quoted (RFC
    4180) when it holds a comma, a quote, a CR or an LF, so that no value can split a row.
    (Python's ``csv`` module with ``lineterminator="\\n"`` leaves a bare CR unquoted.)"""
    return ",".join(_csv_field(csv_cell(v)) for v in values) + "\n"


def _csv_field(text: str) -> str:
    if _CSV_QUOTE_IF.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


# --- GitHub workflow commands ----------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape a workflow-command message (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


_WORD_JOINER: Final = "\u2060"


def neutralise_commands(text: str) -> str:
    """``text`` with no line the Actions runner would read as a workflow command: a word
    joiner (invisible) before a leading ``::`` (the runner ignores leading white space) and
    inside every ``##[``."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("::"):
            line = line[: len(line) - len(stripped)] + _WORD_JOINER + stripped
        lines[i] = line.replace("##[", "#" + _WORD_JOINER + "#[")
    return "\n".join(lines)


def escape_property(text: str) -> str:
    """Escape a workflow-command property value (actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
