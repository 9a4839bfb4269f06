"""A fleet's plan as GitHub Markdown, for one pull-request comment. Pure.

The table of every planned server comes first and is never truncated; then why each server
was planned (``--changed-since``) and which were not; then a collapsible ``<details>``
section per server with something to show, holding its plan exactly as
:func:`reconciler.core.render.plan_markdown.render_markdown` writes a single server's (its
headings one level down); a server without changes is one line. The whole stays under
``limit`` characters: each section gets its share of what the table left, and the servers
whose details no longer fit are named with a note (the bundle holds them all). User data is
escaped only by :mod:`reconciler.core.render.markup`.
"""

from __future__ import annotations

from typing import Final

from reconciler.core.model.issues import format_issue
from reconciler.core.plans.fleet import FleetPlan, ServerPlan
from reconciler.core.render import plan_markdown, summary
from reconciler.core.render.fleet_text import policy_cell, reasons_by_text
from reconciler.core.render.markup import html_text, md_code, md_text
from reconciler.core.render.plan_markdown import MARKDOWN_LIMIT
from reconciler.core.render.plan_markdown import _fit as fit_items
from reconciler.core.render.sentences import plural

#: A section is not started with less room than this (its summary and first lines).
_MIN_SECTION: Final = 1_500
_RESULT_MARK: Final = {"blocked": "⛔ ", "invalid": "⛔ ", "failed": "⛔ "}


def render_markdown(fleet: FleetPlan, *, limit: int = MARKDOWN_LIMIT, brief: bool = False) -> str:
    """The fleet's plan as Markdown of at most ``limit`` characters (module docstring);
    ``brief``: each server's plan in its ``--summary`` form."""
    out = f"## pisync plan: {plural(len(fleet.servers), 'server')}\n\n"
    out += _table(fleet) + _why(fleet, limit // 5)
    quiet = [s for s in fleet.servers if _quiet(s)]
    loud = [s for s in fleet.servers if not _quiet(s)]
    if quiet:
        out += "No changes: " + ", ".join(md_code(s.name) for s in quiet) + ".\n\n"
    left = len(loud)
    for i, server in enumerate(loud):
        room = limit - len(out) - len(_more(left))
        if room < _MIN_SECTION:
            return out + _more(len(loud) - i)
        out += _section(server, room // max(1, left), brief=brief)
        left -= 1
    return out.rstrip("\n") + "\n"


def _quiet(server: ServerPlan) -> bool:
    plan = server.plan
    return (
        plan is not None
        and plan.empty
        and not plan.findings
        and not plan.notes
        and not plan.warnings
    )


def _table(fleet: FleetPlan) -> str:
    rows = [
        "| Server | Create | Update | Disable | Delete | Guards | Policy | Result |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in fleet.servers:
        plan = s.plan
        mark = _RESULT_MARK.get(s.status, "")
        if plan is None:
            cells = ["—"] * 6
        else:
            c = plan.counts
            cells = [
                str(c.create),
                str(c.update),
                str(c.disable),
                str(c.delete),
                str(len(plan.guards)) if plan.guards else "—",
                md_text(policy_cell(s)) or "—",
            ]
        rows.append(
            f"| {md_code(s.name, in_table=True)} | {' | '.join(cells)} | {mark}{s.status} |"
        )
    c = fleet.counts
    rows.append(
        f"\n**Fleet:** {c.create} to create, {c.update} to update, {c.disable} to disable,"
        f" {c.delete} to delete."
    )
    return "\n".join(rows) + "\n\n"


def _why(fleet: FleetPlan, budget: int) -> str:
    out = ""
    reasons = reasons_by_text(fleet)
    if reasons:
        since = f" since {md_code(fleet.changed_since)}" if fleet.changed_since else ""
        items = [
            f"- {md_text(r)}: {', '.join(md_code(n) for n in names)}\n" for r, names in reasons
        ]
        shown = fit_items(items, budget)
        out += f"**Planned because** (changed{since}):\n\n" + "".join(items[:shown])
        if shown < len(items):
            out += f"- … {len(items) - shown} more reasons not shown\n"
        out += "\n"
    if fleet.skipped:
        names = ", ".join(md_code(n) for n, _ in fleet.skipped)
        why = sorted({r for _, r in fleet.skipped})
        reason = f" ({md_text(why[0])})" if len(why) == 1 else ""
        out += f"**Not planned**{reason}: {names}.\n\n"
    out += "".join(f"> **Note:** {md_text(n)}\n\n" for n in fleet.notes)
    return out


def _section(server: ServerPlan, budget: int, *, brief: bool) -> str:
    head = f"{server.name}: {server.status}"
    plan = server.plan
    if plan is not None and not plan.empty:
        head += f" ({plan.counts.create} to create, {plan.counts.update} to update,"
        head += f" {plan.counts.disable} to disable, {plan.counts.delete} to delete)"
    opened = " open" if server.status in ("blocked", "invalid", "failed") else ""
    top = f"<details{opened}><summary><code>{html_text(head)}</code></summary>\n\n"
    end = "\n</details>\n\n"
    room = max(0, budget - len(top) - len(end))
    if plan is None:
        body = f"**{md_text(server.status)}:** {md_text(server.error or '')}\n\n"
        items = [f"- {md_code(format_issue(i))}\n" for i in server.issues]
        shown = fit_items(items, room - len(body))
        body += "".join(items[:shown])
        if shown < len(items):
            body += f"- … {len(items) - shown} more problems not shown\n"
    elif brief:
        body = _demoted(summary.render_markdown(plan, limit=room))
    else:
        body = _demoted(plan_markdown.render_markdown(plan, limit=room))
    return top + body.rstrip("\n") + "\n" + end


def _demoted(markdown: str) -> str:
    """A single server's Markdown inside a section: its headings one level down. Only its
    own headings start a line with ``#``: user data sits in code spans, fences and escapes."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.split("\n"))


def _more(count: int) -> str:
    if not count:
        return ""
    return (
        f"… the details of {plural(count, 'more server')} do not fit in this comment; the"
        " bundle holds them all (pisync show BUNDLE)\n"
    )
