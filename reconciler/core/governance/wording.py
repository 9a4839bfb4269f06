"""How the policies word what they find: articles, lists, roles quoted, escalating access
described. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence


def a_noun(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


#: At most this many privileges are named in a message (the rest are counted).
_NAMED = 4


def describe(words: Sequence[str]) -> str:
    """Escalating access in words for a message: the type, the privileges held directly (the
    first few, the rest counted), the roles: ``type administrator; privileges editRoles,
    editUsers; role "Payroll" with editUsers``."""
    privileges = [w.removeprefix("privilege ") for w in words if w.startswith("privilege ")]
    out = [w for w in words if w.startswith("type ")]
    if privileges:
        named = ", ".join(privileges[:_NAMED])
        if len(privileges) > _NAMED:
            named += f" and {len(privileges) - _NAMED} more"
        out.append(f"privilege{'s' if len(privileges) > 1 else ''} {named}")
    out += [w for w in words if w.startswith("role ")]
    return "; ".join(out)


def quoted(name: str) -> str:
    return f'"{name}"'


def held_through(privilege: str, through: tuple[str, ...]) -> str:
    if not through:
        return privilege
    names = and_list([quoted(r) for r in through])
    return f"{privilege} (through role{'s' if len(through) > 1 else ''} {names})"


def and_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
