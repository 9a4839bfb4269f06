"""Plain YAML scalars resolved as the YAML 1.2 core schema does (as ruamel.yaml's safe loader
resolves them): ``true``/``false``, ``null``/``~``, integers (``0o17``, ``0x1F``, ``1_000``),
floats (``1e3``, ``.inf``); everything else is text (``yes``, ``no``, ``on``, ``off``, dates).

:data:`PLAIN_FIRST` is a fast first test: a plain scalar that starts with none of these
characters is text, and :func:`resolve_plain` is never called for it.
"""

from __future__ import annotations

import re
from typing import Any

# Characters a plain scalar must start with to be anything but text: a fast first test.
PLAIN_FIRST = frozenset("-+.0123456789tTfFnN~")
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


def resolve_plain(text: str) -> Any:
    """A plain scalar that starts with one of ``PLAIN_FIRST``: bool, null, int, float or text."""
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
