"""``pisync plan``: load the desired state, read the live state, diff, render.

:func:`read_and_diff` is also apply's first step, so a plan and the apply that follows it are
computed by the same code, guards included: a plan that apply would refuse exits 4 here
already (unless ``--force``), so a pull-request check goes red before the merge.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.core.desired.references import plan_time_issues, target_issues
from reconciler.core.diff.changes import diff, written_users
from reconciler.core.diff.scope import Scope
from reconciler.core.governance.guards import needs_administrators
from reconciler.core.governance.policies import as_issue
from reconciler.core.model.config import UserPrune
from reconciler.core.model.issues import format_issue
from reconciler.core.model.values import Category, LiveState, LiveUser
from reconciler.core.plans.plan import Plan
from reconciler.core.render import plan_markdown, summary
from reconciler.core.render.issues import github_annotation
from reconciler.errors import InvalidStateError
from reconciler.pi import wire
from reconciler.shell.console import ProgressReporter, make_console
from reconciler.shell.flows.desired import Loaded, load_desired
from reconciler.shell.flows.show import write_plan
from reconciler.shell.gitchanges import changes_since
from reconciler.shell.load import find_config, load_config
from reconciler.shell.loop import run
from reconciler.shell.planfile import write_plan_file
from reconciler.shell.secrets import desired_needs, read_secrets
from reconciler.shell.server.connect import Server, open_server
from reconciler.shell.server.live import Progress, read_live, read_some, with_administrators
from reconciler.shell.settings import Settings, account, server_url, today

EXIT_CHANGES = 2
EXIT_INVALID = InvalidStateError.exit_code
EXIT_BLOCKED = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    paths: Sequence[str] = ()
    targets: Sequence[str] = ()
    changed_since: str | None = None
    force: bool = False


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
    loaded = load_for(options, settings)
    url = server_url(settings, loaded.config)
    secrets = read_secrets(desired_needs(loaded.desired), settings.env)
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with open_server(settings, loaded.config, url) as server:
        with progress.task("Reading users"):
            plan, _ = await read_and_diff(
                loaded, server, secrets, options, settings, progress=progress.update
            )
    return plan


def load_for(options: PlanOptions, settings: Settings) -> Loaded:
    """The desired state a plan covers: PATHs (or the sources), or with ``--changed-since``
    only the files changed since the ref (and the users removed since, in ``removed``)."""
    if options.changed_since is None:
        return load_desired(options.paths, settings)
    config_path = find_config(settings.config)
    config = load_config(config_path)
    base = config_path.parent if config_path is not None else Path()
    changes = changes_since(
        options.changed_since, base=base, sources=config.sources, config_path=config_path
    )
    if changes.config_changed:  # everything may be planned differently: plan everything
        loaded = load_desired((), settings)
        note = (
            f"pisync.yaml changed since {options.changed_since}, so this plan covers the whole"
            " desired state, not only the changed files"
        )
        return replace(loaded, notes=(*loaded.notes, note))
    loaded = load_desired((), settings, exactly=changes.changed)
    # only what the change changed: entries exactly as they were at REF are left out
    desired = replace(
        loaded.desired,
        users=tuple(u for u in loaded.desired.users if u.usercode not in changes.unchanged_users),
        roles=tuple(
            r for r in loaded.desired.roles if r.name.casefold() not in changes.unchanged_roles
        ),
    )
    refs = tuple(r for r in loaded.undeclared_roles if r.usercode not in changes.unchanged_users)
    return replace(
        loaded,
        desired=desired,
        undeclared_roles=refs,
        changed_since=changes.ref,
        removed=changes.removed,
    )


def scope_of(loaded: Loaded, options: PlanOptions) -> Scope:
    return Scope(
        files=len(loaded.files) if loaded.partial else None,
        targets=frozenset(t.upper() for t in options.targets),
        changed_since=loaded.changed_since,
        removed=loaded.removed,
    )


async def read_and_diff(
    loaded: Loaded,
    server: Server,
    secrets: Mapping[str, str],
    options: PlanOptions,
    settings: Settings,
    *,
    progress: Progress | None = None,
    for_apply: bool = False,
) -> tuple[Plan, LiveState]:
    """Read the live state and compute the plan; plan-time problems raise (exit 3).

    ``for_apply``: keep the payloads of the users the plan writes (a write is merged onto
    them); a plan alone keeps none, only their records and fingerprints.

    A partial plan reads only the users it covers (by usercode, never the whole list): the
    declared ones, the removed ones, the targets and the parents they name; and, when the plan
    would disable, delete or demote an administrator or ``policies.administrators`` counts
    them, every administrator (the last-administrator guard and the count need them).
    """
    config = loaded.config
    scope = scope_of(loaded, options)
    targets = scope.targets
    in_scope = [
        u for u in loaded.desired.users if not u.ignore and (not targets or u.usercode in targets)
    ]
    declared = {u.usercode for u in in_scope}
    if scope.partial:
        parents = {p for u in in_scope if isinstance(p := u.fields.get("parent"), str)}
        prunable = set(scope.removed) | (set(targets) - declared)
        delete = config.users_prune is UserPrune.DELETE
        live = await read_some(
            server,
            declared | prunable | parents,
            ids_for=prunable if delete else (),
            concurrency=config.server.concurrency,
            progress=progress,
        )
    else:
        pruning = config.users_prune is not UserPrune.OFF
        keep = (
            written_users(loaded.desired, config, defaults=loaded.defaults, secrets=secrets)
            if for_apply
            else _keep_none
        )
        live = await read_live(
            server,
            payload_for=lambda code: code in declared or (pruning and not config.is_ignored(code)),
            declared=declared,
            concurrency=config.server.concurrency,
            progress=progress,
            keep_payload=keep,
        )
    checked = replace(loaded.desired, users=tuple(in_scope)) if targets else loaded.desired
    issues = plan_time_issues(
        checked,
        live,
        defaults=loaded.defaults,
        server_defaults=wire.NEW_USER_DEFAULTS,
        undeclared_roles=loaded.undeclared_roles,
    ) + target_issues(options.targets, loaded.desired, live)
    if issues:
        raise InvalidStateError("the desired state cannot be applied to this server", issues)
    plan = _diff(loaded, live, secrets, scope, settings, options, server.url)
    counting = config.policies.administrators is not None and not live.complete
    if (counting or needs_administrators(plan, live)) and not live.all_administrators:
        live = await with_administrators(server, live)
        plan = _diff(loaded, live, secrets, scope, settings, options, server.url)
    return plan, live


def _keep_none(categories: Mapping[str, Category]) -> Callable[[LiveUser], bool]:
    return lambda user: False


def _diff(
    loaded: Loaded,
    live: LiveState,
    secrets: Mapping[str, str],
    scope: Scope,
    settings: Settings,
    options: PlanOptions,
    url: str,
) -> Plan:
    plan = diff(
        loaded.desired,
        live,
        loaded.config,
        server=url,
        defaults=loaded.defaults,
        secrets=secrets,
        scope=scope,
        today=today(settings.env),
        account=account(settings),
        force=options.force,
    )
    notes = loaded.notes + plan.notes
    # validation warnings (a duplicate email…) belong in the plan too
    shown = tuple(format_issue(w).replace(": warning: ", ": ", 1) for w in loaded.warnings)
    return replace(plan, notes=notes, warnings=shown + plan.warnings)


def policy_refusal(plan: Plan) -> str:
    """Why a plan with policy errors is not applied (the findings are listed in the plan)."""
    n = len(plan.policy_errors)
    return (
        f"the plan breaks {n} polic{'ies' if n != 1 else 'y'} of pisync.yaml (listed above);"
        " fix the desired state (or the policies): --force does not override a policy"
    )


def show_plan(settings: Settings, plan: Plan, fmt: str, *, brief: bool = False) -> None:
    """Print the plan in ``fmt`` (text, markdown, json, github) on stdout; ``brief``: the
    summary form (``--summary``). ``github`` is text, the policy findings as annotations on
    the users' lines (as validate's issues; with ``-q`` the errors only), and Markdown in the
    job summary."""
    write_plan(settings, plan, "text" if fmt == "github" else fmt, brief=brief)
    if fmt == "github":
        for finding in plan.findings:
            if finding.severity == "error" or not settings.quiet:
                sys.stdout.write(github_annotation(as_issue(finding)) + "\n")
        markdown = summary.render_markdown(plan) if brief else plan_markdown.render_markdown(plan)
        _github_summary(markdown, settings.env)


def _github_summary(markdown: str, env: Mapping[str, str]) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown)
