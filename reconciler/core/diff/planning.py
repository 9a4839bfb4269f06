"""The decisions a plan makes before and around the diff: its scope, which live users it
reads and how, whose server copy it keeps, when it must read every administrator, and what
the loading adds to it. Pure: the shell's planning step (``reconciler.shell.planning``) reads
and diffs as these say.

A whole plan reads the user list, then the payload of every user it may write: the declared
ones, and (when it prunes) every undeclared one it does not ignore. A partial plan reads only
the users it covers, by usercode, never the whole list (:class:`PartialReads`): the declared
ones, the removed ones, the targets and the parents they name. When the plan would disable,
delete or demote an administrator, or ``policies.administrators`` counts them, a partial read
is completed with every administrator (:func:`needs_every_administrator`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core.diff.changes import KeepPayload, Secrets, written_users
from reconciler.core.diff.scope import Scope
from reconciler.core.governance.guards import needs_administrators
from reconciler.core.model.config import Config, UserPrune
from reconciler.core.model.issues import Issue, format_issue
from reconciler.core.model.values import Category, DesiredState, LiveState, LiveUser, UserSpec
from reconciler.core.plans.plan import Kind, Plan


def plan_scope(
    *,
    files: int | None,
    targets: Iterable[str],
    changed_since: str | None = None,
    removed: frozenset[str] = frozenset(),
) -> Scope:
    """The scope of a plan over ``files`` desired-state files (None: all of them) and the
    ``--target`` usercodes (any case)."""
    return Scope(
        files=files,
        targets=frozenset(t.upper() for t in targets),
        changed_since=changed_since,
        removed=removed,
    )


def users_in_scope(desired: DesiredState, scope: Scope) -> tuple[UserSpec, ...]:
    """The declared users the plan covers: not ignored, and among the targets when there are
    any."""
    targets = scope.targets
    return tuple(
        u for u in desired.users if not u.ignore and (not targets or u.usercode in targets)
    )


def checked_state(
    desired: DesiredState, in_scope: Sequence[UserSpec], scope: Scope
) -> DesiredState:
    """The desired state the plan-time checks look at: with targets, only the targeted users."""
    return replace(desired, users=tuple(in_scope)) if scope.targets else desired


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialReads:
    """What a partial plan reads, by usercode: ``users`` (each one's payload) and, of those,
    ``ids_for`` (their ids: a delete needs one)."""

    users: frozenset[str]
    ids_for: frozenset[str]


def partial_reads(in_scope: Sequence[UserSpec], scope: Scope, config: Config) -> PartialReads:
    """The declared users in scope, the removed ones, the targets no file declares, and the
    parents they name; the ids of the ones the plan may prune when ``users.prune`` deletes."""
    declared = {u.usercode for u in in_scope}
    parents = {p for u in in_scope if isinstance(p := u.fields.get("parent"), str)}
    prunable = set(scope.removed) | (set(scope.targets) - declared)
    delete = config.users_prune is UserPrune.DELETE
    return PartialReads(
        users=frozenset(declared | prunable | parents),
        ids_for=frozenset(prunable) if delete else frozenset(),
    )


def payload_for(declared: Iterable[str], config: Config) -> Callable[[str], bool]:
    """Which listed users a whole plan reads the payload of: the declared ones, and when it
    prunes every one it does not ignore (a prune candidate)."""
    codes = frozenset(declared)
    pruning = config.users_prune is not UserPrune.OFF
    return lambda code: code in codes or (pruning and not config.is_ignored(code))


def copies_to_keep(
    desired: DesiredState,
    config: Config,
    *,
    defaults: Mapping[str, Any],
    secrets: Secrets,
    for_apply: bool,
) -> KeepPayload:
    """Whose server copy the read keeps: for an apply, the users the plan writes (a write is
    merged onto it, :func:`~reconciler.core.diff.changes.written_users`); a plan alone keeps
    none, only their records and fingerprints."""
    if for_apply:
        return written_users(desired, config, defaults=defaults, secrets=secrets)
    return _keep_none


def _keep_none(categories: Mapping[str, Category]) -> Callable[[LiveUser], bool]:
    return lambda user: False


def needs_every_administrator(plan: Plan, live: LiveState, config: Config) -> bool:
    """Whether a plan made from ``live`` must be made again with every administrator read:
    a partial read that ``policies.administrators`` counts over, or a plan that would disable,
    delete or demote an administrator (the last-administrator guard)."""
    counting = config.policies.administrators is not None and not live.complete
    return (counting or needs_administrators(plan, live)) and not live.all_administrators


def needs_account(plan: Plan, live: LiveState, me: str | None) -> bool:
    """Whether a plan made from ``live`` must be made again with the whole record of the
    account pisync signs in with (``me``), for the lockout guard: when the plan changes a
    role (the account may hold it) and only the account's list entry, or nothing, was read."""
    if me is None or not any(c.kind is Kind.ROLE for c in plan.changes):
        return False
    user = live.users.get(me)
    return user is None or user.fingerprint is None


def with_loading_notes(plan: Plan, notes: Sequence[str], warnings: Sequence[Issue]) -> Plan:
    """The plan with what loading the desired state said: its notes first, and the validation
    warnings (a duplicate email…) among the plan's warnings, as ``file:line:col: message``."""
    shown = tuple(format_issue(w).replace(": warning: ", ": ", 1) for w in warnings)
    return replace(plan, notes=(*notes, *plan.notes), warnings=shown + plan.warnings)


#: At most this many files and users named in the note about deleted files.
_NAMED = 5


def deleted_files_note(
    ref: str, deleted: Sequence[str], removed: Iterable[str], prune: UserPrune
) -> str:
    """What ``--changed-since`` says about the desired-state files deleted since ``ref``: how
    many and which, and what happens to the users only they declared (``removed``)."""
    n = len(deleted)
    head = (
        f"{n} desired-state file{' was' if n == 1 else 's were'} deleted since {ref}:"
        f" {_named(deleted)}"
    )
    users = sorted(removed)
    if not users:
        return f"{head}; every user declared there is declared in another file now"
    one = len(users) == 1
    who = f"the {'user' if one else f'{len(users)} users'} declared only there ({_named(users)})"
    if prune is UserPrune.OFF:
        stays = "stays on the server as it is" if one else "stay on the server as they are"
        return f"{head}; {who} {stays}, because users.prune is off"
    return f"{head}; {who} get{'s' if one else ''} the prune action of users.prune ({prune})"


def _named(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
