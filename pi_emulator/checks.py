"""Validation of option values, shared by the fault options and the server-shape options.

A check takes a JSON value and returns ``(converted, None)`` or ``(None, "must be ...")``;
``apply_changes`` runs the checks for a set of changes and reports every bad option at once,
so the CLI and the ``/_emulator`` control endpoints validate alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar, cast

from pi_emulator.errors import bad_request
from pi_emulator.wire import describe

Checked = tuple[Any, str | None]
Check = Callable[[object], Checked]
T = TypeVar("T")


def apply_changes(
    current: T, changes: Mapping[str, Any], checks: Mapping[str, Check], kind: str
) -> T:
    """A copy of the dataclass ``current`` with ``changes`` applied, or 400 naming every bad one."""
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, value in changes.items():
        check = checks.get(key)
        if check is None:
            errors.append(f'unknown {kind} "{key}"; known: {", ".join(checks)}')
            continue
        converted, problem = check(value)
        if problem is None:
            values[key] = converted
        else:
            errors.append(f"{key} {problem}, got {describe(value)}")
    if errors:
        raise bad_request("; ".join(errors))
    return cast(T, replace(cast(Any, current), **values))


def rate(value: object) -> Checked:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    return (float(cast(float, value)), None) if ok else (None, "must be a number from 0 to 1")


def non_negative(value: object) -> Checked:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    return (float(cast(float, value)), None) if ok else (None, "must be a number >= 0")


def whole(value: object) -> Checked:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return (value, None) if ok else (None, "must be an integer >= 0")


def optional_whole(value: object) -> Checked:
    if value is None:
        return None, None
    converted, problem = whole(value)
    return (converted, None) if problem is None else (None, "must be an integer >= 0 or null")


def choice(*options: str) -> Check:
    def check(value: object) -> Checked:
        ok = isinstance(value, str) and value in options
        return (value, None) if ok else (None, f"must be one of {', '.join(options)}")

    return check


def flag(value: object) -> Checked:
    return (value, None) if isinstance(value, bool) else (None, "must be true or false")
