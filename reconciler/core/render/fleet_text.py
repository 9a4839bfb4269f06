"""A fleet's plan as text (and its ``--summary``): pure, no colour codes, no terminal.

One table first — a row per planned server: what it creates, updates, disables and deletes,
its safety guards, its policy findings and its result — then why each server was planned
(``--changed-since``) and which were not, then one section per server that has something to
show (its plan, exactly as ``pisync plan`` prints a single server's, or why it has none),
each server without changes in one line, and last the fleet's summary line::

    pisync plan for 3 servers:

      server   create  update  disable  delete  guards  policy  result
      acme          1       1        0       0       -  -       changes
      globex        0       0        0       0       -  -       no changes
      staging       -       -        -       -       -  -       failed

    === acme: https://acme.example.com/pi/api/v2

    pisync will perform these actions against https://acme.example.com/pi/api/v2:
    …

    === globex: no changes.

    === staging: failed: the server could not be reached …

    Fleet: 1 to create, 1 to update, 0 to disable, 0 to delete on 3 servers; 1 failed.

Server names are plain (pisync.yaml allows ``a-z 0-9 _ -``); everything else a server or a
file said goes through :mod:`reconciler.core.render.markup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from reconciler.core.model.issues import format_issue
from reconciler.core.plans.fleet import FleetPlan, ServerPlan
from reconciler.core.plans.plan import Counts
from reconciler.core.render import plan_text, summary
from reconciler.core.render.markup import printable
from reconciler.core.render.rows import Line
from reconciler.core.render.sentences import plural

_COLUMNS: Final = ("server", "create", "update", "disable", "delete", "guards", "policy", "result")
_RESULT_STYLE: Final = {
    "changes": "update",
    "no changes": None,
    "blocked": "delete",
    "invalid": "delete",
    "failed": "delete",
}


def fleet_lines(fleet: FleetPlan, *, brief: bool = False) -> list[Line]:
    """The fleet's plan as styled lines (the module docstring); ``brief``: each server's
    plan in its ``--summary`` form."""
    n = len(fleet.servers)
    lines: list[Line] = [((f"pisync plan for {plural(n, 'server')}:", "heading"),), ()]
    lines += [(("  " + row, None),) for row in table_rows(fleet)]
    lines.append(())
    lines += [((text, None),) for text in why_lines(fleet)]
    for server in fleet.servers:
        lines += _section(server, brief=brief)
    lines.append(fleet_summary_line(fleet))
    return lines


def render_text(fleet: FleetPlan, *, brief: bool = False) -> str:
    """:func:`fleet_lines` as plain text."""
    return "".join("".join(t for t, _ in line) + "\n" for line in fleet_lines(fleet, brief=brief))


def quiet_line(fleet: FleetPlan) -> str:
    """``-q``: the fleet's summary line alone."""
    return "".join(t for t, _ in fleet_summary_line(fleet))


def no_changes_line(count: int) -> str:
    """What a fleet's plan without a change says, last."""
    if count == 1:
        return "No changes. The server matches the desired state."
    return f"No changes. Every server ({count}) matches its desired state."


def table_rows(fleet: FleetPlan) -> list[str]:
    """The table's header and a row per server, columns aligned."""
    rows = [list(_COLUMNS)] + [_cells(s) for s in fleet.servers]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    numeric = range(1, 6)
    return [
        "  ".join(
            (cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]))
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def _cells(server: ServerPlan) -> list[str]:
    plan = server.plan
    if plan is None:
        return [server.name, "-", "-", "-", "-", "-", "-", server.status]
    c = plan.counts
    return [
        server.name,
        str(c.create),
        str(c.update),
        str(c.disable),
        str(c.delete),
        str(len(plan.guards)) if plan.guards else "-",
        policy_cell(server) or "-",
        server.status,
    ]


def policy_cell(server: ServerPlan) -> str:
    """``2 errors, 1 warning`` (empty: none)."""
    plan = server.plan
    if plan is None or not plan.findings:
        return ""
    errors = len(plan.policy_errors)
    warnings = len(plan.findings) - errors
    parts = [plural(errors, "error")] if errors else []
    parts += [plural(warnings, "warning")] if warnings else []
    return ", ".join(parts)


def reasons_by_text(fleet: FleetPlan) -> list[tuple[str, list[str]]]:
    """Each distinct reason a server was planned for, with the servers it planned."""
    grouped: dict[str, list[str]] = {}
    for server in fleet.servers:
        for reason in server.reasons:
            grouped.setdefault(reason, []).append(server.name)
    return list(grouped.items())


def why_lines(fleet: FleetPlan) -> list[str]:
    """Why each server was planned, and which were not (``--changed-since``)."""
    lines: list[str] = []
    reasons = reasons_by_text(fleet)
    if reasons:
        since = f" (changed since {printable(fleet.changed_since)})" if fleet.changed_since else ""
        lines.append(f"Planned because{since}:")
        lines += [f"  {printable(r)}: {', '.join(names)}" for r, names in reasons]
    if fleet.skipped:
        names = ", ".join(n for n, _ in fleet.skipped)
        why = {r for _, r in fleet.skipped}
        lines.append(
            f"Not planned ({printable(next(iter(why)))}): {names}"
            if len(why) == 1
            else f"Not planned: {names}"
        )
    lines += [f"Note: {printable(n)}" for n in fleet.notes]
    return [*lines, ""] if lines else []


def _section(server: ServerPlan, *, brief: bool) -> list[Line]:
    name = server.name
    plan = server.plan
    if plan is None:
        lines: list[Line] = [
            ((f"=== {name}: ", "heading"), (server.status, "delete"), (": ", None)),
        ]
        lines[0] = (*lines[0], (printable(server.error or ""), None))
        lines += [(("    ", None), (printable(format_issue(i)), None)) for i in server.issues]
        return [*lines, ()]
    if plan.empty and not plan.findings and not plan.notes and not plan.warnings:
        return [((f"=== {name}: ", "heading"), ("no changes.", None)), ()]
    head: Line = (
        (f"=== {name}: ", "heading"),
        (printable(server.url), None),
        (f"  ({server.status})", _RESULT_STYLE.get(server.status)),
    )
    if brief:
        body: list[Line] = [((text, None),) for text in summary.render_text(plan).splitlines()]
    else:
        body = plan_text.text_lines(plan)
    return [head, (), *body, ()]


def fleet_summary_line(fleet: FleetPlan) -> Line:
    """``Fleet: 1 to create, … on 3 servers; 1 blocked, 1 failed.``, or that no server has a
    change (:func:`no_changes_line`)."""
    if fleet.empty and fleet.servers:
        return ((no_changes_line(len(fleet.servers)), None),)
    c: Counts = fleet.counts
    line: Line = (
        ("Fleet: ", "heading"),
        (f"{c.create} to create", "create"),
        (", ", None),
        (f"{c.update} to update", "update"),
        (", ", None),
        (f"{c.disable} to disable", "delete"),
        (", ", None),
        (f"{c.delete} to delete", "delete"),
        (f" on {plural(len(fleet.servers), 'server')}", None),
    )
    troubles = _troubles(fleet.servers)
    if troubles:
        return (*line, ("; ", None), (troubles, "delete"), (".", None))
    return (*line, (".", None))


def _troubles(servers: Sequence[ServerPlan]) -> str:
    counted = {
        status: sum(1 for s in servers if s.status == status)
        for status in ("blocked", "invalid", "failed")
    }
    return ", ".join(f"{n} {status}" for status, n in counted.items() if n)
