"""Every escape of user data, in one place: terminal text, JSON-quoted names, Markdown, and
GitHub workflow commands. Pure.

Whatever a user wrote (a name, a reason, a role) can reach a terminal, a job log, a PR comment,
a CSV file or an HTML page; each format's renderer writes it only through the function here
for that context, so no format escapes in its own way:

- terminal text (:func:`printable`): every non-printing character (controls, bidi overrides,
  line separators) as ``\\uXXXX``, so user data can neither break a line nor disguise itself;
- names (:func:`quote`, :func:`bare`): JSON literals, bare when unambiguous inside a list;
- Markdown: :func:`md_code` (a code span that holds anything literally), :func:`md_text`
  (free text, punctuation escaped), :func:`md_fence` (a fence longer than any backtick run);
- GitHub workflow commands (:func:`escape_data`, :func:`escape_property`), as actions/toolkit
  escapes them.
"""

from __future__ import annotations

import json
import re
from typing import Final

# --- terminal text ---------------------------------------------------------------------------


def printable(text: str) -> str:
    """``text`` with every non-printing character escaped (controls, bidi, separators)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def _escape_char(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # as JSON does: a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


# --- names -----------------------------------------------------------------------------------

_DELIMITERS: Final = frozenset(',[]{}"')


def quote(text: str) -> str:
    """A JSON string literal that is also safe to show on a terminal."""
    return printable(json.dumps(text, ensure_ascii=False))


def bare(text: str) -> str:
    """``text`` unquoted when that is unambiguous inside a list, else JSON-quoted."""
    if text and text == text.strip() and text.isprintable() and not _DELIMITERS & set(text):
        return text
    return quote(text)


# --- markdown --------------------------------------------------------------------------------

_BACKTICKS: Final = re.compile(r"`+")
#: ASCII punctuation that can mean something in GitHub Markdown mid-line (``$`` is math).
_MD_SPECIAL: Final = frozenset("\\`*_[]<>|~#!&$:{}+=^")


def md_code(text: str) -> str:
    """A code span that holds ``text`` literally, whatever backticks it contains."""
    text = printable(text)
    fence = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str) -> str:
    """Free text (a warning) with every meaningful punctuation mark backslash-escaped."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in printable(text))


def md_fence(text: str) -> str:
    """A fence for a Markdown block holding ``text``: longer than any backtick run in it."""
    return "`" * max(3, _longest_backticks(text) + 1)


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0)


# --- GitHub workflow commands ----------------------------------------------------------------


def escape_data(text: str) -> str:
    """Escape a workflow-command message (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value (actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
