"""Pruning: what happens to live users and roles that the desired state does not declare
(``users.prune``, ``roles.prune``), and which live users are in scope at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.model.config import Config, RolePrune, UserPrune
from reconciler.core.model.digest import live_fingerprint, role_fingerprint
from reconciler.core.model.values import DesiredState, LiveState, LiveUser
from reconciler.core.plans.plan import Action, Change, FieldChange, Kind


def prune_users(
    live: LiveState,
    declared: frozenset[str],
    config: Config,
    *,
    only: frozenset[str] | None = None,
) -> list[Change]:
    """The prune action (``users.prune``) for each live user in scope that no file declares;
    ``only``: just these usercodes (a partial plan prunes only what it knows was removed)."""
    if config.users_prune is UserPrune.OFF:
        return []
    out = []
    for code in sorted(live.users if only is None else only & live.users.keys()):
        user = live.users[code]
        if code in declared or not in_prune_scope(user, config):
            continue
        if config.users_prune is UserPrune.DISABLE:
            if user.record.get("enabled") is False:
                continue
            out.append(
                Change(
                    kind=Kind.USER,
                    key=code,
                    action=Action.DISABLE,
                    fields=(FieldChange(path="enabled", before=True, after=False),),
                    desired={"enabled": False},
                    fingerprint=live_fingerprint(user),
                    live_id=user.id,
                )
            )
        else:
            out.append(
                Change(
                    kind=Kind.USER,
                    key=code,
                    action=Action.DELETE,
                    fingerprint=live_fingerprint(user),
                    live_id=user.id,
                )
            )
    return out


def in_prune_scope(user: LiveUser, config: Config) -> bool:
    """Whether a live user is managed: not ignored, not protected, not the super admin."""
    return not (
        user.super_admin or config.is_ignored(user.usercode) or config.is_protected(user.usercode)
    )


def managed_live_count(live: LiveState, config: Config) -> int:
    """Live users in scope: the base of the prune percentage. After a partial read, the
    server's count less the super admin (the users out of scope cannot be told apart)."""
    if not live.complete:
        return max(0, (live.total_users or 0) - 1)
    return sum(1 for u in live.users.values() if in_prune_scope(u, config))


def prune_roles(
    desired: DesiredState,
    live: LiveState,
    config: Config,
    resolved: Mapping[str, Mapping[str, Any]],
    user_changes: Iterable[Change],
) -> tuple[list[Change], list[str]]:
    """Deletes for undeclared live roles, and the names of those kept because users hold them."""
    if config.roles_prune is RolePrune.OFF:
        return [], []
    declared = {r.name.casefold() for r in desired.roles}
    referenced = _roles_held_after(live, resolved, user_changes)
    undeclared = [(k, r) for k, r in sorted(live.roles.items()) if k not in declared]
    deletes = [
        Change(
            kind=Kind.ROLE,
            key=role.name,
            action=Action.DELETE,
            fingerprint=role_fingerprint(role),
            live_id=role.id,
        )
        for key, role in undeclared
        if key not in referenced
    ]
    return deletes, [role.name for key, role in undeclared if key in referenced]


def _roles_held_after(
    live: LiveState, resolved: Mapping[str, Mapping[str, Any]], user_changes: Iterable[Change]
) -> set[str]:
    """Casefolded names of every role some user still holds after the plan: the server
    refuses to delete a held role, and deleting it would silently change their access."""
    deleted = {c.key for c in user_changes if c.action is Action.DELETE}
    held = {
        str(name).casefold()
        for code, user in live.users.items()
        if code not in deleted and "roles" not in resolved.get(code, {})
        for name in user.record.get("roles") or ()
    }
    held.update(n.casefold() for fields in resolved.values() for n in fields.get("roles", ()))
    return held
