"""Saved plans (``plan --out FILE``, ``show FILE``, ``apply FILE``): written atomically, read
back whole and checked before anything is shown or sent — against ``schemas/plan.schema.json``
(exit 3), against the plan's own digest (exit 5: the file was changed after pisync wrote it),
and for parts that disagree (exit 5: a change whose values for apply are not what its field
changes show, :mod:`reconciler.core.plans.integrity`).

The digest is a check against accidental edits, not a signature: anyone can recompute it.
What makes a forged plan harmless is that apply proves every change against the repository
(:func:`reconciler.shell.planning.prove_saved_plan`), and that what ``show`` prints is exactly
what apply would send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.core.desired.schema import document_problems
from reconciler.core.model.issues import error
from reconciler.core.plans.integrity import disagreements
from reconciler.core.plans.plan import FORMAT_VERSION, Plan, document_digest
from reconciler.core.render.plan_json import json_chunks
from reconciler.errors import InvalidStateError, StalePlanError, UsageError
from reconciler.schemas import load_schema
from reconciler.shell.files import write_atomic


def write_plan_file(plan: Plan, path: str) -> None:
    """Write the JSON plan atomically (no partial file on failure), a change at a time."""
    write_atomic(path, json_chunks(plan), what="the plan")


def read_plan_file(path: str, *, applying: bool = True) -> Plan:
    """The saved plan at ``path``, or an error that says why it cannot be used (``applying``:
    for apply, whose errors add that nothing was applied)."""
    nothing = "; nothing was applied" if applying else ""
    data = read_json(path, "plan file", nothing)
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        version = data.get("format_version") if isinstance(data, dict) else None
        raise InvalidStateError(
            f"{path} is not a pisync plan file of format_version {FORMAT_VERSION} (found"
            f" {version!r}); make it again with this pisync: pisync plan --out {path}"
        )
    return plan_from_document(data, path, applying=applying)


def read_json(path: str, what: str, nothing: str) -> Any:
    """The JSON document in the file at ``path`` (a ``what``: "plan file", "plan bundle"),
    or a usage error (no such file, unreadable) or an invalid-state error (not JSON)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidStateError(
            f"{path} is not a pisync {what}: it is not JSON ({exc}){nothing}"
        ) from None


def plan_from_document(data: Any, path: str, *, applying: bool = True) -> Plan:
    """A saved plan's document (a file's, or one server's in a bundle), checked against
    the plan schema and its own digest; ``path`` names it in the errors."""
    nothing = "; nothing was applied" if applying else ""
    problems = document_problems(load_schema("plan"), data)
    if problems:
        raise InvalidStateError(
            f"{path} does not match plan.schema.json{nothing}",
            [error(None, f"{path}: {p}") for p in problems],
        )
    if data.get("digest") != document_digest(data):
        raise StalePlanError(
            f"{path} was changed after pisync wrote it (its content does not match its"
            f" digest){nothing}. Make the plan again and review it: pisync plan --out {path}"
        )
    plan = Plan.from_dict(data)
    problems = disagreements(plan, data)
    if problems:
        raise StalePlanError(
            f"{path} is not a plan pisync wrote: its parts disagree{nothing}:\n  "
            + "\n  ".join(problems)
            + f"\nMake the plan again and review it: pisync plan --out {path}"
        )
    return plan
