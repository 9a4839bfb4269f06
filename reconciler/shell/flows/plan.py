"""``pisync plan``: load the desired state, read the live state, diff, render.

:func:`read_and_diff` is also apply's first step, so a plan and the apply that follows it are
computed by the same code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence

from reconciler.core import render
from reconciler.core.config import UserPrune
from reconciler.core.diff import diff
from reconciler.core.model import LiveState
from reconciler.core.plan import Plan
from reconciler.core.references import reference_issues, unknown_role_issues
from reconciler.errors import InvalidStateError
from reconciler.shell.client import PiClient
from reconciler.shell.connect import make_client
from reconciler.shell.console import ProgressReporter, make_console, print_plain, print_segments
from reconciler.shell.flows.desired import Loaded, load_desired
from reconciler.shell.live import Progress, read_live
from reconciler.shell.planfile import write_plan_file
from reconciler.shell.secrets import desired_needs, read_secrets
from reconciler.shell.settings import Settings, server_url, today


def plan_command(
    settings: Settings,
    *,
    paths: Sequence[str],
    targets: Sequence[str],
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
) -> int:
    plan = asyncio.run(_plan(settings, paths, targets))
    show_plan(settings, plan, fmt)
    if out:
        write_plan_file(plan, out)
    return 2 if detailed_exitcode and not plan.empty else 0


async def _plan(settings: Settings, paths: Sequence[str], targets: Sequence[str]) -> Plan:
    loaded = load_desired(paths, settings)
    url = server_url(settings, loaded.config)
    secrets = read_secrets(desired_needs(loaded.desired), settings.env)
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with make_client(settings, loaded.config, url) as client:
        with progress.task("Reading users"):
            plan, _ = await read_and_diff(
                loaded,
                client,
                secrets,
                targets=targets,
                progress=progress.update,
                env=settings.env,
            )
    return plan


async def read_and_diff(
    loaded: Loaded,
    client: PiClient,
    secrets: Mapping[str, str],
    *,
    targets: Sequence[str],
    progress: Progress | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Plan, LiveState]:
    """Read the live state and compute the plan (plan-time reference errors raise)."""
    config = loaded.config
    declared = {u.usercode for u in loaded.desired.users if not u.ignore}
    pruning = config.users_prune is not UserPrune.OFF

    def payload_for(code: str) -> bool:
        return code in declared or (pruning and not config.is_ignored(code))

    live = await read_live(
        client, payload_for=payload_for, concurrency=config.server.concurrency, progress=progress
    )
    issues = unknown_role_issues(
        loaded.undeclared_roles, (r.name for r in live.roles.values())
    ) + reference_issues(loaded.desired, live, loaded.defaults)
    if issues:
        raise InvalidStateError("the desired state references unknown objects", issues)
    plan = diff(
        loaded.desired,
        live,
        config,
        server=client.url,
        defaults=loaded.defaults,
        secrets=secrets,
        targets=targets,
        today=today(env if env is not None else os.environ),
    )
    return plan, live


def show_plan(settings: Settings, plan: Plan, fmt: str) -> None:
    """Print the plan in ``fmt`` (text, markdown, json, github) on stdout."""
    console = make_console(no_color=settings.no_color)
    if fmt == "json":
        print_plain(console, render.render_json(plan))
    elif fmt == "markdown":
        print_plain(console, render.render_markdown(plan))
    else:
        print_segments(console, render.text_lines(plan))
        if fmt == "github":
            _github_summary(render.render_markdown(plan), settings.env)


def _github_summary(markdown: str, env: Mapping[str, str]) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown)
