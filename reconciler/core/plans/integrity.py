"""Whether the parts of a saved plan agree, so that what ``pisync show`` prints is what
``pisync apply`` sends. Pure.

A change's values for apply (``desired``) are derived from its field-level changes
(:func:`~reconciler.core.plans.values.desired_of`), which every renderer shows; a file in which
they differ, or in which a change does not have the shape of its action (a create with a
``before``, a delete with values, a disable that writes more than ``enabled``), was not written
by pisync and is refused before anything is read or sent. So is a plan whose ``--target``
changes name another user, and a file that does not read back to itself (a summary that does
not count its changes).

This is what the file says about itself. Whether the repository still produces each change is
proved at apply (:mod:`reconciler.core.diff.proof`): the digest only catches accidental edits,
anyone can recompute it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.core.model.values import ROLE_FIELDS, USER_FIELDS
from reconciler.core.plans.plan import SENSITIVE, Action, Change, FieldChange, Kind, Plan
from reconciler.core.plans.values import VARIABLE_PREFIX, desired_of

#: The longest value a message quotes from a plan file (a file can hold anything).
SHOWN_CHARS = 60


def disagreements(plan: Plan, document: Mapping[str, Any] | None = None) -> list[str]:
    """One line per way the plan's parts disagree (empty: they agree). ``document``: the file
    the plan was read from, which must read back to itself."""
    out = [f"{c.label}: {problem}" for c in plan.changes for problem in change_problems(c)]
    if plan.targets:
        wanted = set(plan.targets)
        out += [
            f"{c.label}: the plan is for --target {', '.join(plan.targets)} only"
            for c in plan.changes
            if c.kind is Kind.USER and c.key not in wanted
        ]
    if not out and document is not None:
        again = plan.to_document()
        out += [
            f"its {key!r} does not agree with the rest of the plan"
            for key in sorted(again.keys() | document.keys())
            if key != "digest" and again.get(key) != document.get(key)
        ]
    return out


def change_problems(change: Change) -> list[str]:
    """How one change disagrees with itself (see the module docstring)."""
    problems = _shape_problems(change)
    derived = desired_of(change.fields)
    if dict(change.desired) != derived:
        problems += _value_problems(change.desired, derived)
    return problems


def _shape_problems(change: Change) -> list[str]:
    paths = [f.path for f in change.fields]
    allowed = USER_FIELDS if change.kind is Kind.USER else ROLE_FIELDS
    out = [
        f"it changes {p!r}, which is not a field of a {change.kind.value}"
        for p in dict.fromkeys(paths)
        if p not in allowed and not (change.kind is Kind.USER and p.startswith(VARIABLE_PREFIX))
    ]
    out += [f"it lists {p!r} twice" for p in dict.fromkeys(paths) if paths.count(p) > 1]
    out += [
        f"{f.path} is marked sensitive but is not a variable"
        for f in change.fields
        if f.sensitive and not f.path.startswith(VARIABLE_PREFIX)
    ]
    out += [
        f"{f.path} is sensitive: its value before is never kept, and {SENSITIVE!r} is not a"
        " value to write"
        for f in change.fields
        if f.sensitive and (f.before not in (None, SENSITIVE) or f.after == SENSITIVE)
    ]
    out += [
        f"{f.path} holds a secret's reference but is not marked sensitive"
        for f in change.fields
        if not f.sensitive and (isinstance(f.after, Mapping) or isinstance(f.before, Mapping))
    ]
    action = change.action
    if action is Action.CREATE:
        if any(f.before is not None for f in change.fields):
            out.append("a create has nothing before it, yet a field has a value before")
        if change.fingerprint is not None or change.live_id is not None:
            out.append("a create names a live object")
    else:
        if change.fingerprint is None:
            out.append(f"an {action.value} names no live object it was planned against")
        if action is Action.UPDATE and not change.fields:
            out.append("an update that changes no field")
        if action is Action.DISABLE and (
            change.kind is not Kind.USER
            or change.fields != (FieldChange(path="enabled", before=True, after=False),)
        ):
            out.append("a disable changes enabled from true to false and nothing else")
        if action is Action.DELETE and change.fields:
            out.append("a delete changes no field")
    return out


def _value_problems(desired: Mapping[str, Any], derived: Mapping[str, Any]) -> list[str]:
    """What apply would write that the plan does not show, or the other way round."""
    out = []
    for key in sorted(desired.keys() | derived.keys()):
        if key == "variables" and isinstance(desired.get(key), Mapping):
            written, shown = desired[key], derived.get(key) or {}
            out += [
                _differs(f"variables.{name}", written, shown, name)
                for name in sorted(written.keys() | shown.keys())
                if written.get(name, _MISSING) != shown.get(name, _MISSING)
            ]
        elif desired.get(key, _MISSING) != derived.get(key, _MISSING):
            out.append(_differs(key, desired, derived, key))
    return out


_MISSING: Any = object()


def _differs(path: str, written: Mapping[str, Any], shown: Mapping[str, Any], key: str) -> str:
    if key not in shown:
        return f"it would write {path} = {shown_value(written[key])}, which the plan does not show"
    if key not in written:
        return f"it shows {path} = {shown_value(shown[key])} but would not write it"
    return (
        f"it shows {path} = {shown_value(shown[key])} but would write {shown_value(written[key])}"
    )


def shown_value(value: Any) -> str:
    """A value from a plan file as a message quotes it: JSON, every control character
    escaped, a long one cut (with how long it was)."""
    if isinstance(value, Mapping) and set(value) == {"env", "secure"}:
        return f"the secret in environment variable {shown_value(value['env'])}"
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str)
    if len(text) > SHOWN_CHARS:
        return f"{text[: SHOWN_CHARS - 10]}… ({len(text)} characters)"
    return text
