"""User data in a message: printable, quoted, bounded. Pure.

Every message that quotes what a file says (a key, a value, a name) quotes it through
:func:`quote_value`: JSON-quoted with every non-printing character escaped (so a value can
neither break a line, start a line of its own, nor disguise itself), and a long value not at
all, only its length (a long value may be a pasted secret or token: no part of it is shown).
The shell hides known secrets at its output edge besides (``reconciler.shell.output``).
:func:`printable` is the terminal escape :mod:`reconciler.core.render.markup` exposes.
"""

from __future__ import annotations

import json
from typing import Final

#: The longest user value a message quotes whole.
QUOTED_CHARS: Final = 60


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


def quote_value(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text`` as a message quotes it: ``"JSON-quoted"`` and printable when at most ``limit``
    characters, else ``(a text of N characters, not shown)``."""
    if len(text) > limit:
        return f"(a text of {len(text)} characters, not shown)"
    return printable(json.dumps(text, ensure_ascii=False))
