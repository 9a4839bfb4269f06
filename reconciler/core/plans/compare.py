"""Equality of field values under each field's semantics: sets for the list fields, role and
category names ignoring case, secrets by digest."""

from __future__ import annotations

from typing import Any

from reconciler.core.model.digest import sha256
from reconciler.core.model.values import SET_FIELDS, Variable


def same(field: str, desired: Any, live: Any) -> bool:
    """Equality under the field's semantics (sets, case-insensitive names, secrets)."""
    return bool(comparable(field, desired) == comparable(field, live))


def comparable(field: str, value: Any) -> Any:
    if field not in SET_FIELDS:
        return value
    items = value or ()
    if field in ("roles", "categories"):
        return frozenset(str(v).casefold() for v in items)
    if field == "variables":
        return frozenset(variable_key(v) for v in items)
    return frozenset(items)


def variable_key(v: Variable) -> tuple[str, str | None, bool]:
    digest = v.digest if v.value is None else sha256(v.value)
    return (v.name, digest, v.secure)
