"""Proving a saved plan against the repository: every change it holds must be the change the
repository at the checked-out commit produces, with the same values. Pure.

``pisync apply PLANFILE`` reads the objects the plan touches again (never the whole user
list), loads the desired state of the checked-out commit, and re-derives each change of the
plan with the code a fresh plan uses (:func:`~reconciler.core.diff.changes.user_change`,
:func:`~reconciler.core.diff.changes.role_changes`, :func:`~reconciler.core.diff.prune.prune_users`,
:func:`~reconciler.core.diff.prune.prune_roles`). A change is proved when the re-derived one is
equal in kind, key, action, field changes, values, fingerprint and server id; a prune when the
object is still undeclared and prunable under the current ``pisync.yaml``. So a forged or
hand-edited plan file, or the plan of a pull request whose files changed after it was
reviewed, can never write anything the repository does not say: its digest is only a check
against accidental edits (anyone can recompute it).

A plan may hold fewer changes than the repository would make now (a partial plan, a
``--target`` plan, or one made before another change was merged): apply makes only the
reviewed ones, and the next plan shows the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.core.diff.changes import Secrets, resolve_user, role_changes, user_change
from reconciler.core.diff.prune import prune_roles, prune_users
from reconciler.core.model.categories import ancestors_index
from reconciler.core.model.config import Config
from reconciler.core.model.values import DesiredState, LiveState, UserSpec
from reconciler.core.plans.integrity import shown_value
from reconciler.core.plans.plan import Action, Change, FieldChange, Kind, Plan

REPO = "the repository at this commit"


def unproven(
    saved: Plan,
    desired: DesiredState,
    live: LiveState,
    config: Config,
    *,
    defaults: Mapping[str, Any],
    secrets: Secrets,
) -> list[str]:
    """One line per change of ``saved`` that ``desired`` (the repository) does not produce
    from ``live`` (the objects it touches, read again) with the same values; empty: every
    change is proved. ``secrets``: the values of the environment variables the touched users
    read (secrets are compared by digest, as a plan compares them)."""
    fresh = rederive(saved.changes, desired, live, config, defaults=defaults, secrets=secrets)
    out: list[str] = []
    for change, again in zip(saved.changes, fresh, strict=True):
        out += [f"{change.label}: {why}" for why in differences(change, again)]
    return out


def rederive(
    changes: Sequence[Change],
    desired: DesiredState,
    live: LiveState,
    config: Config,
    *,
    defaults: Mapping[str, Any],
    secrets: Secrets,
) -> list[Change | None]:
    """For each change, the one the repository produces for the same object now (None: none).
    One pass over the declared users to index them; the per-change work touches one object."""
    users = {u.usercode: u for u in desired.users}
    roles = {r.name.casefold(): r for r in desired.roles}
    ancestors = ancestors_index(live.categories)
    declared = frozenset(users)
    deletes: list[Change] | None = None  # the role deletes, made once when one is asked for
    out: list[Change | None] = []
    for change in changes:
        if change.kind is Kind.USER:
            spec = users.get(change.key)
            if spec is None:
                pruned = prune_users(live, declared, config, only=frozenset({change.key}))
                out.append(pruned[0] if pruned else None)
            elif _left_alone(spec, config):
                out.append(None)
            else:
                fields = resolve_user(spec, ancestors, secrets)
                out.append(user_change(spec, fields, live.users.get(spec.usercode), defaults))
            continue
        role = roles.get(change.key.casefold())
        if role is not None:
            out.append(next(iter(role_changes([role], live)), None))
            continue
        if deletes is None:
            held = {u.usercode: u.fields for u in desired.users if not _left_alone(u, config)}
            deletes = prune_roles(desired, live, config, held, _user_changes(changes))[0]
        out.append(next((d for d in deletes if d.key == change.key), None))
    return out


def _left_alone(spec: UserSpec, config: Config) -> bool:
    return spec.ignore or config.is_ignored(spec.usercode)


def _user_changes(changes: Iterable[Change]) -> list[Change]:
    return [c for c in changes if c.kind is Kind.USER]


def differences(saved: Change, again: Change | None) -> list[str]:
    """How ``saved`` differs from the change the repository produces (``again``), in words
    that name each field: ``the plan sets type to "administrator"; …`` (empty: none)."""
    if again is None:
        return [f"the plan would {_verb(saved)}; {REPO} makes no change to it"]
    if again.action is not saved.action:
        return [f"the plan would {_verb(saved)}; {REPO} would {_verb(again)}"]
    out = _field_differences(saved.fields, again.fields)
    if dict(saved.desired) != dict(again.desired) and not out:
        out.append(f"the plan writes other values than {REPO} would")
    if saved.fingerprint != again.fingerprint:
        out.append("it was planned against another version of the live object")
    # the id a delete or a role write goes to (a user's other writes go by usercode, and
    # re-reading a user by usercode need not give its id)
    addressed = saved.action is Action.DELETE or saved.kind is Kind.ROLE
    if saved.live_id != again.live_id and (addressed or again.live_id is not None):
        out.append(
            f"the plan names the server id {shown_value(saved.live_id)}, but the object's id is"
            f" {shown_value(again.live_id)}"
        )
    return out


def _verb(change: Change) -> str:
    return f"{change.action.value} it"


def _field_differences(saved: Sequence[FieldChange], again: Sequence[FieldChange]) -> list[str]:
    mine = {f.path: f for f in saved}
    theirs = {f.path: f for f in again}
    out = []
    for path in dict.fromkeys([*mine, *theirs]):
        a, b = mine.get(path), theirs.get(path)
        if a == b:
            continue
        if b is None:
            out.append(f"the plan sets {path} to {_after(a)}; {REPO} does not")
        elif a is None:
            out.append(f"{REPO} also sets {path} to {_after(b)}, which the plan does not")
        elif a.after != b.after:
            out.append(f"the plan sets {path} to {_after(a)}; {REPO} sets it to {_after(b)}")
        else:
            out.append(f"the plan shows {path} as it was before otherwise than {REPO}")
    return out


def _after(change: FieldChange | None) -> str:
    return "nothing" if change is None or change.after is None else shown_value(change.after)
