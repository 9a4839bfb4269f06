"""A plan on stdout, in the format asked for: shared by ``pisync plan`` and ``pisync show``."""

from __future__ import annotations

import sys

from reconciler.core.plans.fleet import FleetPlan
from reconciler.core.plans.plan import Plan
from reconciler.core.render import (
    fleet_json,
    fleet_markdown,
    fleet_text,
    plan_json,
    plan_markdown,
    plan_text,
    summary,
)
from reconciler.shell.console import make_console, print_segments
from reconciler.shell.settings import Settings


def write_plan(settings: Settings, plan: Plan, fmt: str, *, brief: bool) -> None:
    """The plan on stdout in ``fmt`` (text, markdown, json), whole or in brief (``brief``);
    as text with ``-q``, only its summary line (JSON and Markdown are the output asked for)."""
    if settings.quiet and fmt == "text":
        sys.stdout.write(plan_text.quiet_line(plan) + "\n")
    elif brief:
        text = {"json": summary.render_json, "markdown": summary.render_markdown}.get(
            fmt, summary.render_text
        )(plan)
        sys.stdout.write(text)
    elif fmt == "json":
        sys.stdout.writelines(plan_json.json_chunks(plan))  # a change at a time
    elif fmt == "markdown":
        sys.stdout.write(plan_markdown.render_markdown(plan))
    else:
        console = make_console(no_color=settings.no_color)
        print_segments(console, plan_text.iter_text_lines(plan))


def write_fleet(settings: Settings, fleet: FleetPlan, fmt: str, *, brief: bool) -> None:
    """A fleet's plan on stdout in ``fmt`` (text, markdown, json), as :func:`write_plan`."""
    if settings.quiet and fmt == "text":
        sys.stdout.write(fleet_text.quiet_line(fleet) + "\n")
    elif fmt == "json":
        render = fleet_json.render_summary_json if brief else fleet_json.render_json
        sys.stdout.write(render(fleet))
    elif fmt == "markdown":
        sys.stdout.write(fleet_markdown.render_markdown(fleet, brief=brief))
    else:
        lines = fleet_text.fleet_lines(fleet, brief=brief)
        print_segments(make_console(no_color=settings.no_color), lines)
