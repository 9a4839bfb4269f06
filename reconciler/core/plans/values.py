"""Canonical field values as the plan holds them: JSON values (tuples become sorted lists,
restrictions become objects), field-level changes (one per variable), and the managed values a
saved plan carries for apply (secrets as ``{"env": NAME}`` references, never values).

A change's values for apply are derived from its field-level changes (:func:`desired_of`), so
what a plan shows is what apply sends: a field's ``after`` is the value written, a variable's
the value, or for a secret the reference it is read from (``{"env": NAME, "secure": bool}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.model.values import SET_FIELDS, Variable
from reconciler.core.plans.compare import variable_key
from reconciler.core.plans.plan import SENSITIVE, FieldChange


def all_changes(triples: Iterable[tuple[str, Any, Any]]) -> tuple[FieldChange, ...]:
    return tuple(
        fc for field, before, after in triples for fc in field_changes(field, before, after)
    )


def field_changes(field: str, before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Field-level changes; variables become one change per variable name."""
    if field != "variables":
        return (
            FieldChange(
                path=field, before=json_value(field, before), after=json_value(field, after)
            ),
        )
    old = {v.name: v for v in before or ()}
    new = {v.name: v for v in after or ()}
    out = []
    for name in sorted(old.keys() | new.keys(), key=lambda n: (n.casefold(), n)):
        a, b = old.get(name), new.get(name)
        if a is not None and b is not None and variable_key(a) == variable_key(b):
            continue
        sensitive = (a is not None and a.sensitive) or (b is not None and b.sensitive)
        out.append(
            FieldChange(
                path=f"variables.{name}",
                before=None if a is None else SENSITIVE if sensitive else a.value,
                after=None if b is None else _variable_ref(b),
                sensitive=sensitive,
            )
        )
    return tuple(out)


def json_value(field: str, value: Any) -> Any:
    """A canonical field value as JSON (tuples become lists, records become dicts)."""
    if value is None:
        return None
    if field == "restrictions":
        return [
            {"connection": r.connection, "column": r.column, "values": list(r.values)}
            for r in sorted(value)
        ]
    if field in SET_FIELDS:
        return sorted((str(v) for v in value), key=lambda s: (s.casefold(), s))
    return value


def desired_of(fields: Iterable[FieldChange]) -> dict[str, Any]:
    """The values apply writes, from a change's field-level changes: each field's ``after``;
    ``variables`` only those that change (``None``: removed), each the value or the secret's
    reference."""
    out: dict[str, Any] = {}
    for fc in fields:
        if fc.path.startswith(VARIABLE_PREFIX):
            out.setdefault("variables", {})[fc.path[len(VARIABLE_PREFIX) :]] = fc.after
        else:
            out[fc.path] = fc.after
    return out


VARIABLE_PREFIX = "variables."


def desired_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Every managed value of ``fields``, as a plan writes them: secrets as references, never
    values (``pisync claims``: the whole payload, not a plan's changes)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "variables":
            out[key] = {v.name: _variable_ref(v) for v in value}
        else:
            out[key] = json_value(key, value)
    return out


def _variable_ref(v: Variable) -> Any:
    """A variable as a plan holds it: its value, or a secret's reference (never a value)."""
    if v.env is not None:
        return {"env": v.env, "secure": v.secure}
    if v.secure:
        return {"value": SENSITIVE, "secure": True}
    return v.value
