"""The planning step shared by ``pisync plan`` and ``pisync apply``: read the live state and
compute the plan, with the planning options both commands take; and, for ``pisync apply
PLANFILE``, prove a saved plan against the repository and the server.

A plan and the apply that follows it are computed by this same code, guards included: a plan
that apply would refuse exits 4 at plan time already (unless ``--force``), so a pull-request
check goes red before the merge. What to read, what to keep and when to read more is decided
by :mod:`reconciler.core.diff.planning`; this module does the reading.

A saved plan (:func:`prove_saved_plan`) is applied only when the objects it touches are
unchanged on the server since it was made, every change it holds is what the repository at the
checked-out commit produces (:mod:`reconciler.core.diff.proof`), and the plan-time checks, the
policies and the guards pass again as for a fresh plan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.core.desired.login_claim import login_claim_issues
from reconciler.core.desired.references import plan_time_issues, target_issues
from reconciler.core.diff import planning
from reconciler.core.diff.changes import UserDiffer, diff, user_differ
from reconciler.core.diff.proof import unproven
from reconciler.core.diff.prune import managed_live_count
from reconciler.core.diff.scope import Scope
from reconciler.core.governance.guards import check, needs_administrators
from reconciler.core.governance.policies import plan_findings
from reconciler.core.governance.server_rules import account_to_read
from reconciler.core.model.digest import live_fingerprint, role_fingerprint
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import (
    Category,
    DesiredState,
    LiveRole,
    LiveState,
    LiveUser,
    UserSpec,
)
from reconciler.core.plans.plan import Action, Change, Kind, Plan
from reconciler.errors import InvalidStateError, StalePlanError
from reconciler.pi import wire
from reconciler.shell.repo.desired_state import Loaded
from reconciler.shell.server.connect import Server
from reconciler.shell.server.live import (
    Progress,
    read_live,
    read_some,
    with_administrators,
    with_users,
)
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
    known: dict[str, Change | None] = {}  # each user's change, made as it is read
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
            on_declared=_collect(
                user_differ(loaded.desired, config, defaults=loaded.defaults, secrets=secrets),
                known,
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
    plan = _diff(loaded, live, secrets, scope, settings, options, server.url, known)
    me = account(settings).usercode
    again = False
    if planning.needs_account(plan, live, me):  # the lockout guard reads its effective access
        live = await with_users(server, live, {me} if me else set())
        again = True
    if planning.needs_every_administrator(plan, live, config):
        live = await with_administrators(server, live)
        again = True
    if again:
        plan = _diff(loaded, live, secrets, scope, settings, options, server.url)
    return plan, live


def _collect(
    differ: UserDiffer, known: dict[str, Change | None]
) -> Callable[[Mapping[str, Category]], Callable[[str, LiveUser | None], None]]:
    """Keep in ``known`` each declared user's change as the reader reports its live state."""

    def with_categories(
        categories: Mapping[str, Category],
    ) -> Callable[[str, LiveUser | None], None]:
        change_of = differ(categories)

        def observe(code: str, user: LiveUser | None) -> None:
            known[code] = change_of(code, user)

        return observe

    return with_categories


def _diff(
    loaded: Loaded,
    live: LiveState,
    secrets: Mapping[str, str],
    scope: Scope,
    settings: Settings,
    options: PlanOptions,
    url: str,
    known: Mapping[str, Change | None] | None = None,
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
        known=known,
    )
    return planning.with_loading_notes(plan, loaded.notes, loaded.warnings)


def policy_refusal(plan: Plan) -> str:
    """Why a plan with policy errors is not applied (the findings are listed in the plan)."""
    n = len(plan.policy_errors)
    return (
        f"the plan breaks {n} polic{'ies' if n != 1 else 'y'} of pisync.yaml (listed above);"
        " fix the desired state (or the policies): --force does not override a policy"
    )


# --- a saved plan ------------------------------------------------------------------------------


def touched_users(desired: DesiredState, plan: Plan) -> tuple[UserSpec, ...]:
    """The declared users a saved plan writes (what its proof and its policies look at)."""
    keys = {c.key for c in plan.changes if c.kind is Kind.USER}
    return tuple(u for u in desired.users if u.usercode in keys)


async def prove_saved_plan(
    plan: Plan,
    loaded: Loaded,
    server: Server,
    secrets: Mapping[str, str],
    settings: Settings,
    *,
    concurrency: int,
    force: bool,
) -> tuple[Plan, LiveState]:
    """The saved ``plan`` with its policies and guards evaluated again, and the live objects
    it touches; raises :class:`StalePlanError` (exit 5) when an object changed on the server
    since, or the repository (``loaded``, the checked-out commit) does not produce one of its
    changes with the same values, and :class:`InvalidStateError` (exit 3) for a plan-time
    problem. Nothing is written; only the objects the plan names are read (never the list)."""
    touched = touched_users(loaded.desired, plan)
    parents = {p.upper() for u in touched if isinstance(p := u.fields.get("parent"), str)}
    live = await refresh(server, plan, concurrency, also=parents)  # parents: plan-time checks
    me = account(settings).usercode
    # the lockout guard reads the account's effective access, the create rule whether it is
    # the super administrator
    read = me is not None and me.upper() in live.users
    if planning.needs_account(plan, live, me) or (account_to_read(plan, me) and not read):
        live = await with_users(server, live, {me.upper()} if me else set())
    config = loaded.config
    issues = plan_time_issues(
        replace(loaded.desired, users=touched),
        live,
        defaults=loaded.defaults,
        server_defaults=wire.NEW_USER_DEFAULTS,
        undeclared_roles=[r for r in loaded.undeclared_roles if r.usercode in plan_keys(plan)],
    )
    if issues:
        raise InvalidStateError("the saved plan cannot be applied to this server", issues)
    differs = unproven(
        plan, loaded.desired, live, config, defaults=loaded.defaults, secrets=secrets
    )
    if differs:
        raise StalePlanError(
            "the saved plan is not what the repository at this commit produces; nothing was"
            " applied:\n  "
            + "\n  ".join(differs)
            + "\nPlan again from this commit (pisync plan --out FILE) and review the new plan."
        )
    if needs_administrators(plan, live) or (
        config.policies.administrators is not None and not live.all_administrators
    ):
        live = await with_administrators(server, live)
    on = today(settings.env)
    managed = min(plan.managed_live_users, managed_live_count(live, config))
    checked = replace(
        plan,
        managed_live_users=managed,
        policies=config.policies.names,
        findings=plan_findings(
            [u for u in touched if not u.ignore and not config.is_ignored(u.usercode)],
            plan.changes,
            live,
            config.policies,
            today=on,
        ),
    )
    guards = check(
        checked,
        live,
        config,
        desired_objects=len(loaded.desired.users) + len(loaded.desired.roles),
        account=account(settings),
        today=on,
    )
    return replace(checked, guards=tuple(guards), forced=force and bool(guards)), live


def plan_keys(plan: Plan) -> frozenset[str]:
    """The usercodes a plan writes."""
    return frozenset(c.key for c in plan.changes if c.kind is Kind.USER)


async def refresh(
    server: Server, plan: Plan, concurrency: int, *, also: Collection[str] = ()
) -> LiveState:
    """Re-read the objects a saved plan touches, by usercode (never the whole list), with the
    ids of the users it deletes (the proof compares them: a delete goes to the id the server
    has), and the users ``also`` names; refuse (stale) if a touched one changed since, or if
    a user it creates exists now."""
    deleted = {c.key for c in plan.changes if c.kind is Kind.USER and c.action is Action.DELETE}
    codes = plan_keys(plan) | set(also)
    live = await read_some(server, codes, ids_for=deleted, concurrency=concurrency)
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
