"""Finding a user's entry in a desired-state file's text, and reading it alone. Pure.

Provenance reads older versions of a file from git to learn whether a grant already had its
value before a commit; parsing a whole old version for one user would cost as much as the
whole file. So an entry is found by its ``- usercode: X`` line (:func:`entry_index`), its
lines run until the next line as little indented as its dash (:func:`entry_end`), and only
those lines are parsed (:func:`parse_entry`). Anything this cannot find for certain (an entry
whose first key is not ``usercode``) makes the caller parse the whole file instead
(:func:`document_entries`): nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from reconciler.core.review.grants import entry_usercode
from reconciler.core.yamlfile.positions import PosDict, PosList
from reconciler.core.yamlfile.read import parse_yaml

# "  - usercode: ann", "- {usercode: 'Ann', …", with an optional comment
_ENTRY: Final = re.compile(
    r"^(?P<indent> *)- +(?:\{ *)?usercode *: *(?P<q>['\"]?)(?P<code>[A-Za-z0-9._@-]+)(?P=q)"
    r" *(?:[,}#]|$)"
)
_PREFIX: Final = "x:\n"


def entry_index(lines: Sequence[str]) -> dict[str, int]:
    """Upper-case usercode -> the 1-based line of its entry's dash, for every entry whose
    first key is ``usercode`` (a usercode written twice keeps its first line)."""
    out: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        if "usercode" in text:
            match = _ENTRY.match(text)
            if match is not None:
                out.setdefault(match.group("code").upper(), number)
    return out


def entry_end(lines: Sequence[str], first: int) -> int:
    """The last line of the entry whose dash is on line ``first``: the line before the next
    line (not blank, not a comment) indented no more than that dash, less trailing blank and
    comment lines."""
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip(" "))
    last = first
    for number in range(first + 1, len(lines) + 1):
        text = lines[number - 1]
        stripped = text.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        if len(text) - len(stripped) <= indent:
            break
        last = number
    return last


def parse_entry(lines: Sequence[str], first: int, last: int, file: str) -> PosDict | None:
    """Lines ``first``..``last`` (one sequence item) parsed alone; None when they do not
    read as one mapping. A value's 0-based line in the result plus ``first - 1`` is its
    1-based line in the file (see :func:`entry_shift`)."""
    text = _PREFIX + "\n".join(lines[first - 1 : last]) + "\n"
    parsed = parse_yaml(text.encode("utf-8"), file)
    if parsed.data is None:
        return None
    items = parsed.data.get("x")
    if not isinstance(items, PosList) or len(items) != 1 or not isinstance(items[0], PosDict):
        return None
    return items[0]


def entry_shift(first: int) -> int:
    """What turns a 0-based line of :func:`parse_entry`'s result into the file's 1-based
    line (the prefix line the slice is parsed under is line 0)."""
    return first - 1


def document_entries(text: str, file: str) -> dict[str, PosDict] | None:
    """Every user entry of a whole document, by upper-case usercode (the first of a
    usercode written twice); None when the text does not parse."""
    parsed = parse_yaml(text.encode("utf-8"), file)
    if parsed.data is None:
        return None
    users = parsed.data.get("users")
    out: dict[str, PosDict] = {}
    if isinstance(users, PosList):
        for entry in users:
            if isinstance(entry, PosDict):
                code = entry_usercode(entry)
                if code is not None:
                    out.setdefault(code, entry)
    return out
