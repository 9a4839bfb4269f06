"""diff(desired, live) -> Plan: the semantics of SPEC §2.1, as a pure function.

Rules, each with its reason:

- A key written in YAML is managed; an omitted key keeps its live value. Desired users carry
  only their written fields, so only those are compared.
- ``privileges``, ``roles``, ``categories``, ``variables``, ``restrictions`` are authoritative
  sets when written (``[]`` means none); order in YAML never matters.
- Role names and categories compare case-insensitively (the server matches them so);
  usercodes are upper case on both sides already.
- A user's listed category's ancestors are added before comparing: the server requires them,
  so without this every such user would show a change on every plan. A role's categories
  are compared as written.
- Secrets are compared by sha256 digest; a change shows ``(sensitive)`` on both sides.
- A user in ``users.login_via_idp`` arrives with the login flags the server forces at each
  sign-in through the identity provider already in its fields
  (:func:`~reconciler.core.desired.build.with_idp_login`, applied once when the desired state is
  loaded, so that the plan-time checks and the guards see them too): no flapping login change.
- Live users in ``users.ignore``, with ``pisync: {ignore: true}``, protected (unless declared),
  the super admin, and (when not pruning) every undeclared user never appear as changes.

Records are compared with plain ``==`` on normalised values first, so the per-field work
runs only for users that actually differ (the common case at 100,000 users is "equal").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.core.diff.expiry import expiring
from reconciler.core.diff.prune import in_prune_scope, managed_live_count, prune_roles, prune_users
from reconciler.core.diff.scope import FULL, Scope
from reconciler.core.governance.access import effective_access_changes
from reconciler.core.governance.guards import Account, check
from reconciler.core.governance.policies import plan_findings
from reconciler.core.model.categories import ancestors_index, with_ancestors
from reconciler.core.model.config import Config, UserPrune
from reconciler.core.model.digest import live_fingerprint, role_fingerprint, sha256
from reconciler.core.model.values import (
    ROLE_FIELDS,
    USER_FIELDS,
    Category,
    DesiredState,
    LiveState,
    LiveUser,
    RoleSpec,
    UserSpec,
    Variable,
)
from reconciler.core.plans.compare import same
from reconciler.core.plans.order import change_order
from reconciler.core.plans.plan import Action, Change, Kind, Plan
from reconciler.core.plans.values import all_changes, desired_of

Secrets = Mapping[str, str]


def diff(
    desired: DesiredState,
    live: LiveState,
    config: Config,
    *,
    server: str,
    defaults: Mapping[str, Any] | None = None,
    secrets: Secrets | None = None,
    scope: Scope = FULL,
    today: dt.date | None = None,
    account: Account | None = None,
    force: bool = False,
    known: Mapping[str, Change | None] | None = None,
) -> Plan:
    """Compute the plan that makes ``live`` match ``desired``, with the guards it trips.

    The config's ``policies:`` are checked on the declared users in scope as they will be after
    the plan (``Plan.findings``; the rules about dates only when ``today`` is given).
    ``defaults`` are canonical user fields for keys a NEW user omits (``pisync.yaml``
    ``defaults:``); ``secrets`` maps environment variable names to values (only digests
    leave this function); ``scope`` says which part of the desired state this is (a partial
    plan prunes nothing outside it); ``account`` is who pisync signs in as (the lockout guard;
    None: not checked); ``force`` marks the guards as overridden.
    """
    secrets = secrets or {}
    ancestors = ancestors_index(live.categories)
    users = [u for u in desired.users if not u.ignore and not config.is_ignored(u.usercode)]
    warnings = [
        f"user {u.usercode} is declared but matches users.ignore; it is left alone"
        for u in desired.users
        if not u.ignore and config.is_ignored(u.usercode)
    ]
    if live.unlisted:
        warnings.append(_unlisted_warning(live.unlisted))
    memo: dict[tuple[str, ...], tuple[str, ...]] = {}
    resolved = {u.usercode: resolve_user(u, ancestors, secrets, memo) for u in users}
    known = known or {}
    user_changes = [
        c
        for u in users
        if (
            c := known[u.usercode]
            if u.usercode in known
            else user_change(u, resolved[u.usercode], live.users.get(u.usercode), defaults or {})
        )
        is not None
    ]
    declared = frozenset(u.usercode for u in desired.users)
    if scope.narrowed:
        user_changes += prune_users(live, declared, config, only=scope.removed)
    else:
        user_changes += prune_users(live, declared, config)
    for_roles = role_changes(desired.roles, live)
    if not scope.partial:
        pruned_roles, kept_roles = prune_roles(desired, live, config, resolved, user_changes)
        for_roles += pruned_roles
        warnings += [
            f'role "{name}" is not declared but is still held by users, so roles.prune keeps'
            " it; declare it, or remove it from those users first"
            for name in kept_roles
        ]
    wanted = scope.targets
    if wanted:
        user_changes = [c for c in user_changes if c.key in wanted]
        for_roles = _roles_for_targets(for_roles, (resolved[c] for c in wanted & resolved.keys()))
    changes = change_order(for_roles + user_changes)
    notes = [] if scope.partial else _left_alone_notes(live, declared, config)
    plan = Plan(
        server=server,
        changes=changes,
        targets=tuple(sorted(wanted)),
        partial_files=scope.files,
        changed_since=scope.changed_since,
        access=effective_access_changes(
            changes, desired.roles, live, {u.usercode: u.meta for u in users if u.meta}
        ),
        expiring=expiring(
            resolved,
            live,
            config,
            today,
            skip={u.usercode for u in desired.users if u.ignore}
            | {c.key for c in user_changes if c.action in (Action.DISABLE, Action.DELETE)},
            only=wanted or (frozenset(resolved) if scope.partial else frozenset()),
        ),
        warnings=tuple(warnings),
        managed_live_users=managed_live_count(live, config),
        # a plan over some files cannot tell an empty desired state: it prunes only removed users
        desired_objects=None if scope.narrowed else len(desired.users) + len(desired.roles),
    )
    in_scope = [u for u in users if not wanted or u.usercode in wanted]
    findings = plan_findings(in_scope, changes, live, config.policies, today=today)
    plan = replace(plan, policies=config.policies.names, findings=findings)
    guards = check(
        plan, live, config, desired_objects=plan.desired_objects, account=account, today=today
    )
    if account is not None and (note := account.unknown_note()) is not None and changes:
        notes.append(note)
    return replace(plan, guards=tuple(guards), forced=force and bool(guards), notes=tuple(notes))


KeepPayload = Callable[[Mapping[str, Category]], Callable[[LiveUser], bool]]


def written_users(
    desired: DesiredState, config: Config, *, defaults: Mapping[str, Any], secrets: Secrets
) -> KeepPayload:
    """Which live users a plan will write to, told as each one is read: given the live
    categories (a user's listed categories get their ancestors), a test that is true for a
    declared user whose record differs, and for a prune candidate ``users.prune: disable``
    would disable. The reader keeps the payload of those only (a write is merged onto it)."""
    specs = {u.usercode: u for u in desired.users if not u.ignore}
    differ = user_differ(desired, config, defaults=defaults, secrets=secrets)

    def with_categories(categories: Mapping[str, Category]) -> Callable[[LiveUser], bool]:
        change_of = differ(categories)

        def written(user: LiveUser) -> bool:
            if user.usercode not in specs:
                return (
                    config.users_prune is UserPrune.DISABLE
                    and in_prune_scope(user, config)
                    and user.record.get("enabled") is not False
                )
            return change_of(user.usercode, user) is not None  # None for an ignored one

        return written

    return with_categories


#: Given the live categories: a declared user's change, from its live state (None: absent).
UserDiffer = Callable[[Mapping[str, Category]], Callable[[str, LiveUser | None], Change | None]]


def user_differ(
    desired: DesiredState, config: Config, *, defaults: Mapping[str, Any], secrets: Secrets
) -> UserDiffer:
    """Each declared user's change, made as soon as its live state is known (its payload
    read, or the server's "no such user"), as :func:`diff` makes it: a plan of 100,000 users
    diffs them while the others are still being read, and passes them to :func:`diff` as
    ``known``. Given the live categories (a user's listed categories get their ancestors),
    a function of (usercode, live user or None) that gives the change (None: none); a
    usercode :func:`diff` does not diff (not declared, ignored) gives None."""
    specs = {
        u.usercode: u for u in desired.users if not u.ignore and not config.is_ignored(u.usercode)
    }

    def with_categories(
        categories: Mapping[str, Category],
    ) -> Callable[[str, LiveUser | None], Change | None]:
        ancestors = ancestors_index(categories)
        memo: dict[tuple[str, ...], tuple[str, ...]] = {}

        def change_of(code: str, current: LiveUser | None) -> Change | None:
            spec = specs.get(code)
            if spec is None:
                return None
            fields = resolve_user(spec, ancestors, secrets, memo)
            return user_change(spec, fields, current, defaults)

        return change_of

    return with_categories


def _unlisted_warning(codes: tuple[str, ...]) -> str:
    shown = ", ".join(codes[:10]) + (f" and {len(codes) - 10} more" if len(codes) > 10 else "")
    n = len(codes)
    return (
        f"the server's user list left out {n} declared user{'s' if n != 1 else ''} that"
        f" {'do' if n != 1 else 'does'} exist ({shown}); {'they are' if n != 1 else 'it is'}"
        " planned from the server's own record of each, never created over it (is the list"
        " filtered, e.g. by organisation?)"
    )


_LEFT_ALONE_SHOWN = 5


def _left_alone_notes(live: LiveState, declared: frozenset[str], config: Config) -> list[str]:
    """With ``users.prune: off``: how many live users no file declares (they are not changed)."""
    if config.users_prune is not UserPrune.OFF:
        return []
    alone = sorted(
        c for c, u in live.users.items() if c not in declared and in_prune_scope(u, config)
    )
    if not alone:
        return []
    shown = ", ".join(alone[:_LEFT_ALONE_SHOWN])
    if len(alone) > _LEFT_ALONE_SHOWN:
        shown += f" and {len(alone) - _LEFT_ALONE_SHOWN} more"
    n = len(alone)
    return [
        f"{n} live user{'s are' if n != 1 else ' is'} not declared and left alone because"
        f" users.prune is off ({shown})"
    ]


def resolve_user(
    spec: UserSpec,
    ancestors: Mapping[str, tuple[str, ...]],
    secrets: Secrets,
    memo: dict[tuple[str, ...], tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """The desired fields as compared: ancestors added, secret digests filled. ``memo`` keeps
    each distinct category list's result (users share a few lists: computed once each)."""
    fields = dict(spec.fields)
    if "categories" in fields:
        names = tuple(fields["categories"])
        found = None if memo is None else memo.get(names)
        if found is None:
            found = with_ancestors(names, ancestors)
            if memo is not None:
                memo[names] = found
        fields["categories"] = found
    if "variables" in fields:
        fields["variables"] = tuple(with_digest(v, secrets) for v in fields["variables"])
    return fields


def user_change(
    spec: UserSpec,
    fields: Mapping[str, Any],
    current: LiveUser | None,
    defaults: Mapping[str, Any],
) -> Change | None:
    """The change that makes the live user ``current`` (None: the server has none) match
    ``spec`` (its ``fields`` resolved by :func:`resolve_user`), or None when they agree: a
    create (``defaults`` under what it omits) or an update of the written fields that differ."""
    if current is None:
        after = {**{k: v for k, v in defaults.items() if k not in fields}, **fields}
        created = all_changes((k, None, after[k]) for k in USER_FIELDS if k in after)
        return Change(
            kind=Kind.USER,
            key=spec.usercode,
            action=Action.CREATE,
            fields=created,
            desired=desired_of(created),
            source=spec.source,
        )
    record = current.record
    changed = [
        k
        for k in USER_FIELDS
        if k in fields
        and (want := fields[k]) != (have := record.get(k))  # equal values are the same: fast
        and not same(k, want, have)
    ]
    if not changed:
        return None
    updated = all_changes((k, current.record.get(k), fields[k]) for k in changed)
    return Change(
        kind=Kind.USER,
        key=spec.usercode,
        action=Action.UPDATE,
        fields=updated,
        desired=desired_of(updated),
        fingerprint=live_fingerprint(current),
        live_id=current.id,
        source=spec.source,
    )


def with_digest(v: Variable, secrets: Secrets) -> Variable:
    if v.env is None:
        return v
    value = secrets.get(v.env)
    return Variable(
        name=v.name,
        env=v.env,
        secure=v.secure,
        digest=None if value is None else sha256(value),
    )


def role_changes(roles: Iterable[RoleSpec], live: LiveState) -> list[Change]:
    """The creates and updates that make the live roles match ``roles``."""
    out = []
    # A role's categories are compared as written: the parent rule (S2) is about a user's
    # userCategories, and adding parents to a role would widen what every holder sees.
    for spec in roles:
        fields = dict(spec.fields)
        current = live.roles.get(spec.name.casefold())
        if current is None:
            created = all_changes((k, None, fields[k]) for k in ROLE_FIELDS if k in fields)
            out.append(
                Change(
                    kind=Kind.ROLE,
                    key=spec.name,
                    action=Action.CREATE,
                    fields=created,
                    desired=desired_of(created),
                    source=spec.source,
                )
            )
            continue
        changed = [
            k for k in ROLE_FIELDS if k in fields and not same(k, fields[k], current.fields.get(k))
        ]
        if changed:
            updated = all_changes((k, current.fields.get(k), fields[k]) for k in changed)
            out.append(
                Change(
                    kind=Kind.ROLE,
                    key=current.name,
                    action=Action.UPDATE,
                    fields=updated,
                    desired=desired_of(updated),
                    fingerprint=role_fingerprint(current),
                    live_id=current.id,
                    source=spec.source,
                )
            )
    return out


def _roles_for_targets(roles: list[Change], users: Iterable[Mapping[str, Any]]) -> list[Change]:
    """The role changes the targeted users' declared roles need (created or updated first)."""
    needed = {str(r).casefold() for fields in users for r in fields.get("roles") or ()}
    return [r for r in roles if r.action is not Action.DELETE and r.key.casefold() in needed]
