"""``pisync plan``: load the desired state, read the live state, diff, render.

The reading and diffing is :func:`reconciler.shell.planning.read_and_diff`, apply's first step
too, so a plan and the apply that follows it are computed by the same code, guards included:
a plan that apply would refuse exits 4 here already (unless ``--force``), so a pull-request
check goes red before the merge.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace

from reconciler.core.governance.policies import as_issue
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue
from reconciler.core.plans.fleet import ServerPlan
from reconciler.core.plans.plan import Plan
from reconciler.core.render import fleet_markdown, plan_markdown, summary
from reconciler.core.render.issues import github_annotation
from reconciler.errors import InvalidStateError
from reconciler.shell import output
from reconciler.shell.bundle import write_bundle
from reconciler.shell.console import ProgressReporter, make_console
from reconciler.shell.fleet import ServerChoice, fleet_plan
from reconciler.shell.loop import run
from reconciler.shell.plan_output import write_fleet, write_plan
from reconciler.shell.planfile import write_plan_file
from reconciler.shell.planning import PlanOptions, policy_refusal, read_and_diff
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.repo.desired_state import load_changed
from reconciler.shell.repo.fleet_files import fleet_config
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
    servers: ServerChoice | None = None,
) -> int:
    choice = servers or ServerChoice()
    config = fleet_config(settings)
    if config is not None or choice.given:
        config = config or load_config(find_config(settings.config))
        return _plan_fleet(settings, config, options, choice, fmt, out, detailed_exitcode, brief)
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


def _plan_fleet(
    settings: Settings,
    config: Config,
    options: PlanOptions,
    choice: ServerChoice,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    brief: bool,
) -> int:
    """The plans of several servers: one table, a section per server, one bundle (``--out``);
    the exit code is the most severe of the servers'."""
    fleet = fleet_plan(settings, config, options, choice, detailed_exitcode=detailed_exitcode)
    write_fleet(settings, fleet, "text" if fmt == "github" else fmt, brief=brief)
    if fmt == "github":
        for server in fleet.servers:
            for issue in _annotated(server):
                output.command(github_annotation(issue))
        _github_summary(fleet_markdown.render_markdown(fleet, brief=brief), settings.env)
    if out:
        write_bundle(fleet, out)
    for server in fleet.servers:
        why = _trouble(server)
        if why is not None:
            sys.stderr.write(f"Error: server {server.name}: {why}\n")
    return fleet.exit_code


def _trouble(server: ServerPlan) -> str | None:
    """What is wrong with a server's plan, in one line (None: nothing)."""
    plan = server.plan
    if plan is None:
        return server.error
    if plan.policy_errors:
        return policy_refusal(plan)
    if plan.blocked:
        return (
            "pisync apply would refuse its plan: it trips the safety guard(s) listed above;"
            " re-run with --force if this is intended"
        )
    return None


def _annotated(server: ServerPlan) -> list[Issue]:
    """A server's problems and policy findings as annotations, each naming the server."""
    found = list(server.issues)
    if server.plan is not None:
        found += [as_issue(f) for f in server.plan.findings]
    return [replace(i, message=f"server {server.name}: {i.message}") for i in found]
