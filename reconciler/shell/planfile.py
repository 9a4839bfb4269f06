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
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the plan file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidStateError(
            f"{path} is not a pisync plan file: it is not JSON ({exc}){nothing}"
        ) from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        version = data.get("format_version") if isinstance(data, dict) else None
        raise InvalidStateError(
            f"{path} is not a pisync plan file of format_version {FORMAT_VERSION} (found"
            f" {version!r}); make it again with this pisync: pisync plan --out {path}"
        )
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
