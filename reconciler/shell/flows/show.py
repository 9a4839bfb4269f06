"""``pisync show PLANFILE``: a saved plan, rendered without a server (the apply job prints what
it is about to apply). The file is checked as apply checks it: against the plan schema and
its own digest."""

from __future__ import annotations

from reconciler.shell.plan_output import write_plan
from reconciler.shell.planfile import read_plan_file
from reconciler.shell.settings import Settings


def show_command(settings: Settings, *, planfile: str, fmt: str, brief: bool) -> int:
    plan = read_plan_file(planfile, applying=False)
    write_plan(settings, plan, fmt, brief=brief)
    return 0
