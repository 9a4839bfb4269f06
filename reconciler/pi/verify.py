"""Apply's proof that a write landed as sent: what the server stored, compared with what
pisync sent, the way a plan compares.

A user's stored payload (the sync answer when it carries it [G U6], else a read) and the
element pisync sent are both reduced to records by the reader a plan uses
(:func:`~reconciler.pi.wire.record_of_element`): lists become sets, role and category names
are compared ignoring case, secure values by digest, read-only fields are not in a record.
Only the fields the sent element carried are compared (a create leaves the others to the
server's defaults). A role is compared on the fields the plan manages.

A difference names the field, both values (never a secure one) and the guess about the API
that governs the field, so that a wrong guess is reported where it bites, on the first user
it touches. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.model.values import ROLE_FIELDS, SET_FIELDS, USER_FIELDS, LiveRole, Variable
from reconciler.core.plans.compare import comparable, same
from reconciler.core.plans.values import json_value
from reconciler.pi import wire
from reconciler.pi.endpoints import GUESSES

#: The guess (an id of :data:`~reconciler.pi.endpoints.GUESSES`) a stored field rests on.
FIELD_GUESSES: Mapping[str, str] = {
    "roles": "U3",
    "categories": "U4",
    "variables": "U1",
    "restrictions": "U2",
    "expires": "U10",
    "parent": "§3.3",
    "privileges": "U24",
}
#: The guesses a role write rests on.
ROLE_GUESS = "U13"


@dataclass(frozen=True, slots=True)
class Difference:
    """One field the server stored otherwise than sent (values as a plan shows them)."""

    field: str
    sent: str
    stored: str
    guess: str | None


def user_differences(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> list[Difference]:
    """Every field of the sent element that the stored element holds otherwise."""
    carried = wire.carried_fields(sent)
    want, have = wire.record_of_element(sent), wire.record_of_element(stored)
    out = []
    for key in USER_FIELDS:
        if key not in carried or same(key, want.get(key), have.get(key)):
            continue
        if key == "variables":
            out += _variable_differences(want.get(key) or (), have.get(key) or ())
        else:
            sent_value, stored_value = _shown(key, want.get(key)), _shown(key, have.get(key))
            out.append(Difference(key, sent_value, stored_value, _guess(key, want, have)))
    return out


def _guess(key: str, sent: Mapping[str, Any], stored: Mapping[str, Any]) -> str | None:
    """The guess a stored field rests on: a list that kept more than was sent is the sync's
    non-additivity [§3.1]; otherwise the field's own element shape."""
    if key in SET_FIELDS:
        want, have = comparable(key, sent.get(key)), comparable(key, stored.get(key))
        if have > want:
            return "§3.1"
    return FIELD_GUESSES.get(key)


def role_differences(desired: Mapping[str, Any], stored: LiveRole) -> list[Difference]:
    """Every managed field of a role write (plan JSON form) that the stored role holds
    otherwise."""
    return [
        Difference(k, _shown(k, desired[k]), _shown(k, stored.fields.get(k)), ROLE_GUESS)
        for k in ROLE_FIELDS
        if k in desired and not same(k, desired[k], stored.fields.get(k))
    ]


def stored_message(label: str, differences: Sequence[Difference]) -> str:
    """What the apply report says of a write stored otherwise: one clause per field."""
    parts = []
    for d in differences:
        text = f"the server stored `{d.field}` as {d.stored} after pisync sent {d.sent}"
        if d.guess is not None:
            text += f" (guess {d.guess}: {GUESSES[d.guess]})"
        parts.append(text)
    return f"{label} was written but " + "; and ".join(parts)


def _variable_differences(sent: Sequence[Variable], stored: Sequence[Variable]) -> list[Difference]:
    """One difference per variable name (a secure value is never shown: only that it
    differs, and how its ``secure`` flag was stored)."""
    old, new = {v.name: v for v in sent}, {v.name: v for v in stored}
    out = []
    for name in sorted(old.keys() | new.keys(), key=lambda n: (n.casefold(), n)):
        a, b = old.get(name), new.get(name)
        if a is not None and b is not None and a.comparable() == b.comparable():
            continue
        hidden = any(v is not None and v.sensitive for v in (a, b))
        sent_value, stored_value = _variable(a, hidden), _variable(b, hidden)
        guess = "§3.1" if a is None else "U1"  # kept although left out: not additive
        out.append(Difference(f"variables.{name}", sent_value, stored_value, guess))
    return out


def _variable(v: Variable | None, hidden: bool) -> str:
    if v is None:
        return "nothing"
    value = "a secret value" if hidden else _quoted(v.value or "")
    return f"{value} ({'secure' if v.secure else 'not secure'})"


def _shown(field: str, value: Any) -> str:
    """A value as the plan shows it, in one line."""
    shown = json_value(field, value)
    if shown is None:
        return "nothing"
    if field == "restrictions":
        items = [f"{r['connection']}/{r['column']}: {', '.join(r['values'])}" for r in shown]
        return "[" + "; ".join(items) + "]"
    if isinstance(shown, list):
        return "[" + ", ".join(str(v) for v in shown) + "]"
    if isinstance(shown, bool):
        return "true" if shown else "false"
    return _quoted(str(shown))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
