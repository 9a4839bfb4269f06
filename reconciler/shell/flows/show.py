"""``pisync show PLANFILE``: a saved plan, rendered without a server (the apply job prints what
it is about to apply). The file is checked as apply checks it: against the plan schema and
its own digest."""

from __future__ import annotations

import sys

from reconciler.core.plans.plan import Plan
from reconciler.core.render import plan_json, plan_markdown, plan_text, summary
from reconciler.shell.console import make_console, print_segments
from reconciler.shell.planfile import read_plan_file
from reconciler.shell.settings import Settings


def show_command(settings: Settings, *, planfile: str, fmt: str, brief: bool) -> int:
    plan = read_plan_file(planfile, applying=False)
    write_plan(settings, plan, fmt, brief=brief)
    return 0


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
        sys.stdout.write(plan_json.render_json(plan))
    elif fmt == "markdown":
        sys.stdout.write(plan_markdown.render_markdown(plan))
    else:
        print_segments(make_console(no_color=settings.no_color), plan_text.text_lines(plan))
