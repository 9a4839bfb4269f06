"""``pisync plan``: load the desired state, read the live state, diff, render.

The reading and diffing is :func:`reconciler.shell.planning.read_and_diff`, apply's first step
too, so a plan and the apply that follows it are computed by the same code, guards included:
a plan that apply would refuse exits 4 here already (unless ``--force``), so a pull-request
check goes red before the merge.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from reconciler.core.governance.policies import as_issue
from reconciler.core.plans.plan import Plan
from reconciler.core.render import plan_markdown, summary
from reconciler.core.render.issues import github_annotation
from reconciler.errors import InvalidStateError
from reconciler.shell import output
from reconciler.shell.console import ProgressReporter, make_console
from reconciler.shell.loop import run
from reconciler.shell.plan_output import write_plan
from reconciler.shell.planfile import write_plan_file
from reconciler.shell.planning import PlanOptions, policy_refusal, read_and_diff
from reconciler.shell.repo.desired_state import load_changed
from reconciler.shell.secrets import desired_needs, gather_secrets
from reconciler.shell.server.connect import open_server
from reconciler.shell.settings import Settings, server_url

EXIT_CHANGES = 2
EXIT_INVALID = InvalidStateError.exit_code
EXIT_BLOCKED = 4


def plan_command(
    settings: Settings,
    options: PlanOptions,
    *,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    brief: bool = False,
) -> int:
    plan = run(_plan(settings, options))
    show_plan(settings, plan, fmt, brief=brief)
    if plan.policy_errors:
        sys.stderr.write(f"Error: {policy_refusal(plan)}; no plan file was written\n")
        return EXIT_INVALID
    if out:
        write_plan_file(plan, out)
    if plan.blocked:
        listed = (
            ": " + "; ".join(str(g) for g in plan.guards)
            if settings.quiet and fmt in ("text", "github")
            else " listed above"
        )
        sys.stderr.write(
            f"Error: pisync apply would refuse this plan: it trips the safety guard(s){listed};"
            " re-run with --force if this is intended\n"
        )
        return EXIT_BLOCKED
    return EXIT_CHANGES if detailed_exitcode and not plan.empty else 0


async def _plan(settings: Settings, options: PlanOptions) -> Plan:
    loaded = load_changed(options.paths, options.changed_since, settings)
    url = server_url(settings, loaded.config)
    secrets, unset = gather_secrets(desired_needs(loaded.desired), settings.env)
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with open_server(settings, loaded.config, url) as server:
        with progress.task("Reading users"):
            plan, _ = await read_and_diff(
                loaded,
                server,
                secrets,
                options,
                settings,
                progress=progress.update,
                unresolved=unset,
            )
    return plan


def show_plan(settings: Settings, plan: Plan, fmt: str, *, brief: bool = False) -> None:
    """Print the plan in ``fmt`` (text, markdown, json, github) on stdout; ``brief``: the
    summary form (``--summary``). ``github`` is text, the policy findings as annotations on
    the users' lines (as validate's issues; with ``-q`` the errors only), and Markdown in the
    job summary."""
    write_plan(settings, plan, "text" if fmt == "github" else fmt, brief=brief)
    if fmt == "github":
        for finding in plan.findings:
            if finding.severity == "error" or not settings.quiet:
                output.command(github_annotation(as_issue(finding)))
        markdown = summary.render_markdown(plan) if brief else plan_markdown.render_markdown(plan)
        _github_summary(markdown, settings.env)


def _github_summary(markdown: str, env: Mapping[str, str]) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(output.redact(markdown))
