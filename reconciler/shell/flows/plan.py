"""``pisync plan``: load the desired state, read the live state, diff, render.

:func:`read_and_diff` is also apply's first step, so a plan and the apply that follows it are
computed by the same code, guards included: a plan that apply would refuse exits 4 here
already (unless ``--force``), so a pull-request check goes red before the merge.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.core import render
from reconciler.core.config import UserPrune
from reconciler.core.diff import diff
from reconciler.core.issues import format_issue
from reconciler.core.model import LiveState
from reconciler.core.plan import Plan
from reconciler.core.references import plan_time_issues, target_issues
from reconciler.core.scope import Scope
from reconciler.errors import InvalidStateError
from reconciler.pi import wire
from reconciler.shell.api import PiApi
from reconciler.shell.connect import make_client
from reconciler.shell.console import ProgressReporter, make_console, print_plain, print_segments
from reconciler.shell.flows.desired import Loaded, load_desired
from reconciler.shell.live import Progress, read_live
from reconciler.shell.planfile import write_plan_file
from reconciler.shell.secrets import desired_needs, read_secrets
from reconciler.shell.settings import Settings, account, server_url, today

EXIT_CHANGES = 2
EXIT_BLOCKED = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    paths: Sequence[str] = ()
    targets: Sequence[str] = ()
    force: bool = False


def plan_command(
    settings: Settings,
    options: PlanOptions,
    *,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
) -> int:
    plan = asyncio.run(_plan(settings, options))
    show_plan(settings, plan, fmt)
    if out:
        write_plan_file(plan, out)
    if plan.blocked:
        sys.stderr.write(
            "Error: pisync apply would refuse this plan: it trips the safety guard(s) listed"
            " above; re-run with --force if this is intended\n"
        )
        return EXIT_BLOCKED
    return EXIT_CHANGES if detailed_exitcode and not plan.empty else 0


async def _plan(settings: Settings, options: PlanOptions) -> Plan:
    loaded = load_desired(options.paths, settings)
    url = server_url(settings, loaded.config)
    secrets = read_secrets(desired_needs(loaded.desired), settings.env)
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with make_client(settings, loaded.config, url) as api:
        with progress.task("Reading users"):
            plan, _ = await read_and_diff(
                loaded, api, secrets, options, settings, progress=progress.update
            )
    return plan


def scope_of(loaded: Loaded, options: PlanOptions) -> Scope:
    return Scope(
        files=len(loaded.files) if loaded.partial else None,
        targets=frozenset(t.upper() for t in options.targets),
    )


async def read_and_diff(
    loaded: Loaded,
    api: PiApi,
    secrets: Mapping[str, str],
    options: PlanOptions,
    settings: Settings,
    *,
    progress: Progress | None = None,
) -> tuple[Plan, LiveState]:
    """Read the live state and compute the plan; plan-time problems raise (exit 3)."""
    config = loaded.config
    scope = scope_of(loaded, options)
    targets = scope.targets
    declared = {
        u.usercode
        for u in loaded.desired.users
        if not u.ignore and (not targets or u.usercode in targets)
    }
    pruning = config.users_prune is not UserPrune.OFF

    def payload_for(code: str) -> bool:
        """Whose full record the plan needs: declared users (the targeted ones) and prune
        candidates (only those known removed, when only some files were read)."""
        if targets and code not in targets:
            return False
        if code in declared:
            return True
        if not pruning or config.is_ignored(code):
            return False
        return not scope.narrowed or code in scope.removed

    live = await read_live(
        api,
        payload_for=payload_for,
        declared=declared,
        concurrency=config.server.concurrency,
        progress=progress,
    )
    checked = (
        replace(
            loaded.desired, users=tuple(u for u in loaded.desired.users if u.usercode in targets)
        )
        if targets
        else loaded.desired
    )
    issues = plan_time_issues(
        checked,
        live,
        defaults=loaded.defaults,
        server_defaults=wire.NEW_USER_DEFAULTS,
        undeclared_roles=loaded.undeclared_roles,
    ) + target_issues(options.targets, loaded.desired, live)
    if issues:
        raise InvalidStateError("the desired state cannot be applied to this server", issues)
    plan = diff(
        loaded.desired,
        live,
        config,
        server=api.url,
        defaults=loaded.defaults,
        secrets=secrets,
        scope=scope,
        today=today(settings.env),
        account=account(settings),
        force=options.force,
    )
    if loaded.warnings:  # validation warnings (a duplicate email…) belong in the plan too
        shown = tuple(format_issue(w).replace(": warning: ", ": ", 1) for w in loaded.warnings)
        plan = replace(plan, warnings=shown + plan.warnings)
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
