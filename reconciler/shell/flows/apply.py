"""``pisync apply``: plan (or read a saved plan), check guards and staleness, confirm, execute,
report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reconciler.core import render
from reconciler.core.digest import live_fingerprint, role_fingerprint
from reconciler.core.guards import check
from reconciler.core.model import LiveRole, LiveState, LiveUser
from reconciler.core.plan import Action, Kind, Plan
from reconciler.errors import ApplyFailed, GuardError, StalePlanError, UsageError
from reconciler.shell.apply import ApplyResult, Outcome, execute
from reconciler.shell.client import PiClient
from reconciler.shell.connect import make_client
from reconciler.shell.console import ProgressReporter, make_console, print_plain, print_segments
from reconciler.shell.files import write_atomic
from reconciler.shell.flows.desired import load_desired
from reconciler.shell.flows.plan import read_and_diff
from reconciler.shell.live import read_live
from reconciler.shell.load import find_config, load_config
from reconciler.shell.planfile import read_plan_file
from reconciler.shell.secrets import desired_needs, plan_needs, read_secrets
from reconciler.shell.settings import Settings, server_url
from reconciler.shell.signals import install_stop_handlers, is_interactive

if TYPE_CHECKING:
    from rich.console import Console


async def apply_flow(
    settings: Settings,
    *,
    planfile: str | None,
    paths: Sequence[str],
    auto_approve: bool,
    force: bool,
    parallelism: int | None,
    report: str | None,
) -> int:
    out = make_console(no_color=settings.no_color)
    err = make_console(stderr=True, no_color=settings.no_color)
    if planfile is not None:
        plan = read_plan_file(planfile)
        loaded = None
        config = load_config(find_config(settings.config))
        url = server_url(settings, config)
        if plan.server.rstrip("/") != url:
            raise StalePlanError(
                f"the plan was made against {plan.server}, not {url}; plan again for this server"
            )
        secrets = read_secrets(plan_needs(plan), settings.env)
    else:
        loaded = load_desired(paths, settings)
        config = loaded.config
        url = server_url(settings, config)
        secrets = read_secrets(desired_needs(loaded.desired), settings.env)
    concurrency = parallelism or config.server.concurrency
    progress = ProgressReporter(err, quiet=settings.quiet)
    async with make_client(settings, config, url, concurrency) as client:
        if loaded is not None:
            with progress.task("Reading users"):
                plan, live = await read_and_diff(
                    loaded,
                    client,
                    secrets,
                    targets=(),
                    progress=progress.update,
                    env=settings.env,
                )
            print_segments(out, render.text_lines(plan))
        else:
            live = await refresh(client, plan, concurrency)
        if plan.empty:
            if planfile is not None:
                print_plain(out, "No changes. Panintelligence matches the desired state.")
            return 0
        violations = check(
            plan,
            live,
            config,
            desired_objects=plan.desired_objects,
            signed_in_as=settings.env.get("PISYNC_USERNAME"),
        )
        if violations and not force:
            raise GuardError(
                "apply blocked by safety guard(s):\n  " + "\n  ".join(str(v) for v in violations)
            )
        if planfile is None and not auto_approve and not _confirm(out):
            return 1 if is_interactive() else 64
        stop = asyncio.Event()
        signals = install_stop_handlers(asyncio.get_running_loop(), stop)
        with progress.task("Applying"):
            result = await execute(
                plan,
                client,
                live,
                secrets=secrets,
                concurrency=concurrency,
                report=lambda o, done, total: progress.update(done, total),
                stop=stop,
            )
    _print_result(out, result)
    if report:
        write_report(report, plan, result, interrupted=stop.is_set())
    if stop.is_set():
        print_plain(
            out, "Interrupted: in-flight changes finished; run pisync apply again to converge."
        )
        return 128 + (signals[0] if signals else 2)  # 130 for SIGINT, 143 for SIGTERM
    raise_for_failures(result)
    return 0


def _confirm(out: Console) -> bool:
    if not is_interactive():
        raise UsageError(
            "apply needs confirmation but there is no terminal; pass --auto-approve, or apply"
            " a saved plan (pisync plan --out plan.json; pisync apply plan.json)"
        )
    import typer

    return bool(typer.confirm("Apply these changes?", default=False))


async def refresh(client: PiClient, plan: Plan, concurrency: int) -> LiveState:
    """Re-read the objects a saved plan touches; refuse (stale) if any changed since."""
    touched = {c.key for c in plan.changes if c.kind is Kind.USER}
    live = await read_live(
        client, payload_for=lambda code: code in touched, concurrency=concurrency
    )
    stale = []
    for c in plan.changes:
        current: LiveUser | LiveRole | None = (
            live.users.get(c.key) if c.kind is Kind.USER else live.roles.get(c.key.casefold())
        )
        if c.action is Action.CREATE:
            if current is not None:
                stale.append(f"{c.label} was created on the server since the plan was made")
            continue
        if current is None:
            stale.append(f"{c.label} no longer exists on the server")
            continue
        now = (
            live_fingerprint(current)
            if isinstance(current, LiveUser)
            else role_fingerprint(current)
        )
        if now != c.fingerprint:
            stale.append(f"{c.label} changed on the server since the plan was made")
    if stale:
        raise StalePlanError(
            "the saved plan is stale; nothing was applied:\n  "
            + "\n  ".join(stale)
            + "\nRun pisync plan again and review the new plan."
        )
    return live


def _print_result(out: Console, result: ApplyResult) -> None:
    for o in result.failed:
        print_plain(out, f"  ! {o.change.label} ({o.change.action.value}) failed: {o.message}")
    print_plain(out, apply_summary(result))


def apply_summary(result: ApplyResult) -> str:
    return (
        f"Apply complete: {result.count(Action.CREATE)} created, {result.count(Action.UPDATE)}"
        f" updated, {result.count(Action.DISABLE)} disabled, {result.count(Action.DELETE)}"
        f" deleted, {len(result.failed)} failed."
    )


def raise_for_failures(result: ApplyResult) -> None:
    if result.failed or result.not_started:
        raise ApplyFailed(
            f"{len(result.failed)} change(s) failed"
            + (f", {len(result.not_started)} not started" if result.not_started else "")
            + "; the rest were applied. Fix the causes above (the server's messages) and run"
            " pisync apply again: it changes only what still differs"
        )


def write_report(path: str, plan: Plan, result: ApplyResult, *, interrupted: bool) -> None:
    """The JSON report: every change with its outcome (no secrets: plans hold none)."""
    done = {(o.change.kind, o.change.key, o.change.action) for o in result.outcomes}
    rows = [o.to_dict() for o in result.outcomes] + [
        Outcome(change=c, ok=False, message="not started", attempts=0).to_dict()
        | {"outcome": "not_started"}
        for c in plan.changes
        if (c.kind, c.key, c.action) not in done
    ]
    body = {
        "format_version": 1,
        "server": plan.server,
        "interrupted": interrupted,
        "summary": {
            "created": result.count(Action.CREATE),
            "updated": result.count(Action.UPDATE),
            "disabled": result.count(Action.DISABLE),
            "deleted": result.count(Action.DELETE),
            "failed": len(result.failed),
        },
        "changes": rows,
    }
    write_atomic(path, json.dumps(body, indent=2) + "\n", what="the report")
