"""The plan in brief (``plan --summary``, ``show --summary``): for plans with thousands of
changes. Pure.

The counts, the guards, the policy findings, the plan's notes and warnings (the brief form
leaves out details, never what the plan says about itself), the privilege escalations, then
one line per change naming what it changes (the fields of an update, not their values). Lists
wrap at :data:`WIDTH` columns at item boundaries — a name is never cut, not even a role name
with spaces. Text, Markdown (under the same 60,000-character cap as the full plan, the lines
cut with a note, never the head) and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from reconciler.core.plans.plan import Action, Change, Plan
from reconciler.core.render.markup import md_code, md_fence, printable
from reconciler.core.render.plan_markdown import (
    MARKDOWN_LIMIT,
    md_guards,
    md_notes,
    md_partial,
    md_policy,
)
from reconciler.core.render.plan_text import finding_line, policy_heading, text_summary_line
from reconciler.core.render.rows import heading
from reconciler.core.render.sentences import NO_CHANGES, checked_note, partial_notes

WIDTH: Final = 100
FORMAT_VERSION: Final = 1


def wrap(head: str, items: Sequence[str], *, width: int = WIDTH, indent: str = "") -> list[str]:
    """``head`` then the items joined by ", ", in lines of at most ``width`` columns where
    items allow it, broken only between items (an item longer than a line gets its own)."""
    lines: list[str] = []
    line, fresh = head, True  # fresh: nothing written after the head or indent yet
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if not fresh and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = indent + piece
        else:
            line += ("" if fresh else " ") + piece
        fresh = False
    lines.append(line)
    return lines


def change_line(change: Change) -> tuple[str, list[str]]:
    """``~ user JSMITH`` and the fields it changes (``[]`` for a create/disable/delete)."""
    head = f"{change.action.symbol} {heading(change)}"
    if change.action is not Action.UPDATE:
        return head, []
    return head, sorted({printable(f.path) for f in change.fields}, key=str.casefold)


def escalations(plan: Plan) -> list[str]:
    """``SFISCHER (editUserAccess, administrator)`` for each user the plan escalates."""
    out = []
    for a in plan.access:
        if not a.escalation:
            continue
        gained = list(a.gained_privileges)
        if a.type_change is not None and a.type_change[1] == "administrator":
            gained.append("administrator")
        name = printable(a.usercode)
        out.append(f"{name} ({', '.join(gained)})" if gained else name)
    return out


def render_text(plan: Plan) -> str:
    lines = [f"pisync plan summary: {plan.server}" if plan.server else "pisync plan summary", ""]
    lines += [f"Note: {n}" for n in partial_notes(plan)]
    lines += [f"Note: {printable(n)}" for n in plan.notes]
    lines += [f"Warning: {printable(w)}" for w in plan.warnings]
    lines.append(NO_CHANGES if plan.empty else text_summary_line(plan.counts))
    if plan.guards:
        state = "overridden by --force" if plan.forced else "apply refuses this plan"
        lines.append(f"Safety guards ({state}):")
        lines += [f"  ! {printable(str(g))}" for g in plan.guards]
    lines += _text_policy(plan)
    if escalated := escalations(plan):
        lines += wrap("Privilege escalations: ", escalated, indent="  ")
    if plan.changes:
        lines.append("Changes:")
        for change in plan.changes:
            head, fields = change_line(change)
            if fields:
                lines += wrap(f"  {head}: ", fields, indent="      ")
            else:
                lines.append(f"  {head}")
    return "\n".join(lines) + "\n"


def _text_policy(plan: Plan) -> list[str]:
    """The policy findings as ``plan`` prints them: errors marked ``!``, then warnings."""
    if not plan.findings:
        return [checked_note(plan)] if plan.policies else []
    lines = [policy_heading(plan)]
    lines += [f"  ! {finding_line(f)}" for f in plan.policy_errors]
    lines += [f"    {finding_line(f)}" for f in plan.findings if f.severity != "error"]
    return lines


def render_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT) -> str:
    c = plan.counts
    out = "## pisync plan summary\n\n"
    if plan.server:
        out += f"Server: {md_code(plan.server)}\n\n"
    out += md_partial(plan)
    if plan.empty:
        return out + md_policy(plan, limit) + md_notes(plan, limit) + NO_CHANGES + "\n"
    out += (
        "| Create | Update | Disable | Delete |\n"
        "|-------:|-------:|--------:|-------:|\n"
        f"| {c.create} | {c.update} | {c.disable} | {c.delete} |\n\n"
    )
    out += md_guards(plan) + md_policy(plan, limit) + md_notes(plan, limit)
    if escalated := escalations(plan):
        out += "**Privilege escalations:** " + ", ".join(md_code(e) for e in escalated) + "\n\n"
    body = []
    for change in plan.changes:
        line, fields = change_line(change)
        body.extend(wrap(f"{line}: ", fields) if fields else [line])
    fence = md_fence("\n".join(body))
    budget = limit - len(out) - 2 * len(fence) - 200
    shown, used = [], 0
    for line in body:
        used += len(line) + 1
        if used > budget:
            break
        shown.append(line)
    out += f"{fence}\n" + "\n".join(shown) + f"\n{fence}\n"
    if len(shown) < len(body):
        out += f"\n… {len(body) - len(shown)} more lines not shown; see the JSON plan\n"
    return out


def render_json(plan: Plan) -> str:
    whole = plan.to_dict()
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "server": plan.server,
        "partial": plan.partial,
        "summary": whole["summary"],
        "guards": [g.to_dict() for g in plan.guards],
        "forced": plan.forced,
        "policy": whole["policy"],
        "escalations": [a.usercode for a in plan.access if a.escalation],
        "notes": list(plan.notes),
        "warnings": list(plan.warnings),
        "changes": [_json_change(c) for c in plan.changes],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _json_change(change: Change) -> dict[str, Any]:
    _, fields = change_line(change)
    return {
        "kind": change.kind.value,
        "key": change.key,
        "action": change.action.value,
        "fields": fields,
    }
