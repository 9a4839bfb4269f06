"""The planning step shared by ``pisync plan`` and ``pisync apply``: read the live state and
compute the plan, with the planning options both commands take.

A plan and the apply that follows it are computed by this same code, guards included: a plan
that apply would refuse exits 4 at plan time already (unless ``--force``), so a pull-request
check goes red before the merge. What to read, what to keep and when to read more is decided
by :mod:`reconciler.core.diff.planning`; this module does the reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.desired.login_claim import login_claim_issues
from reconciler.core.desired.references import plan_time_issues, target_issues
from reconciler.core.diff import planning
from reconciler.core.diff.changes import diff
from reconciler.core.diff.scope import Scope
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import LiveState
from reconciler.core.plans.plan import Plan
from reconciler.errors import InvalidStateError
from reconciler.pi import wire
from reconciler.shell.repo.desired_state import Loaded
from reconciler.shell.server.connect import Server
from reconciler.shell.server.live import Progress, read_live, read_some, with_administrators
from reconciler.shell.settings import Settings, account, today


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    paths: Sequence[str] = ()
    targets: Sequence[str] = ()
    changed_since: str | None = None
    force: bool = False


async def read_and_diff(
    loaded: Loaded,
    server: Server,
    secrets: Mapping[str, str],
    options: PlanOptions,
    settings: Settings,
    *,
    progress: Progress | None = None,
    for_apply: bool = False,
    unresolved: Sequence[Issue] = (),
) -> tuple[Plan, LiveState]:
    """Read the live state and compute the plan; plan-time problems raise (exit 3), with
    ``unresolved`` (the caller's, e.g. unset ``{env: …}`` variables): every problem at once.

    ``for_apply``: keep the server copies of the users the plan writes (a write is merged onto
    them); a plan alone keeps none. A partial plan reads only the users it covers, and every
    administrator when it needs them (:mod:`reconciler.core.diff.planning`).
    """
    config = loaded.config
    scope = planning.plan_scope(
        files=len(loaded.files) + len(loaded.deleted) if loaded.partial else None,
        targets=options.targets,
        changed_since=loaded.changed_since,
        removed=loaded.removed,
    )
    in_scope = planning.users_in_scope(loaded.desired, scope)
    declared = {u.usercode for u in in_scope}
    if scope.partial:
        reads = planning.partial_reads(in_scope, scope, config)
        live = await read_some(
            server,
            reads.users,
            ids_for=reads.ids_for,
            concurrency=config.server.concurrency,
            progress=progress,
        )
    else:
        live = await read_live(
            server,
            payload_for=planning.payload_for(declared, config),
            declared=declared,
            concurrency=config.server.concurrency,
            progress=progress,
            keep_payload=planning.copies_to_keep(
                loaded.desired,
                config,
                defaults=loaded.defaults,
                secrets=secrets,
                for_apply=for_apply,
            ),
        )
    issues = plan_time_issues(
        planning.checked_state(loaded.desired, in_scope, scope),
        live,
        defaults=loaded.defaults,
        server_defaults=wire.NEW_USER_DEFAULTS,
        undeclared_roles=loaded.undeclared_roles,
    ) + target_issues(options.targets, loaded.desired, live)
    issues += unresolved
    issues += login_claim_issues(in_scope, live, config.login_claim)
    if issues:
        raise InvalidStateError("the desired state cannot be applied to this server", issues)
    plan = _diff(loaded, live, secrets, scope, settings, options, server.url)
    if planning.needs_every_administrator(plan, live, config):
        live = await with_administrators(server, live)
        plan = _diff(loaded, live, secrets, scope, settings, options, server.url)
    return plan, live


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
    return planning.with_loading_notes(plan, loaded.notes, loaded.warnings)


def policy_refusal(plan: Plan) -> str:
    """Why a plan with policy errors is not applied (the findings are listed in the plan)."""
    n = len(plan.policy_errors)
    return (
        f"the plan breaks {n} polic{'ies' if n != 1 else 'y'} of pisync.yaml (listed above);"
        " fix the desired state (or the policies): --force does not override a policy"
    )
