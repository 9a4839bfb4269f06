"""Effective access before and after a plan, per user (the reviewer's summary).

A user's effective access is the union of their direct categories and privileges with those
of every role they hold (as Panintelligence documents roles). For each user the plan
touches — directly, or through a change to a role they hold — this compares the two unions and
reports what is gained and lost, flagging privilege escalations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core.model.privileges import ESCALATING_PRIVILEGES
from reconciler.core.model.values import Grant, LiveState, RoleSpec
from reconciler.core.plans.plan import AccessChange, Action, Change, Kind

RoleDefs = Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]]  # key -> name, cats, privs


@dataclass(frozen=True, slots=True)
class _Access:
    type: str | None
    roles: Mapping[str, str]  # casefold -> name
    categories: Mapping[str, str]
    privileges: frozenset[str]


_NO_ACCESS = _Access(type=None, roles={}, categories={}, privileges=frozenset())


def effective_access_changes(
    changes: Sequence[Change],
    roles: Iterable[RoleSpec],
    live: LiveState,
    grants: Mapping[str, Grant] | None = None,
) -> tuple[AccessChange, ...]:
    """One AccessChange per user whose effective access differs after the plan, each with
    the user's grant metadata from ``grants`` (by usercode) when its entry records any."""
    grants = grants or {}
    del roles  # role definitions after the plan come from the changes themselves
    before_defs = live_role_defs(live)
    after_defs = role_defs_after(before_defs, changes)
    touched_roles = {
        c.key.casefold() for c in changes if c.kind is Kind.ROLE and c.action is not Action.CREATE
    }
    user_changes = {c.key: c for c in changes if c.kind is Kind.USER}
    deleted = deleted_roles(changes)
    codes = set(user_changes)
    if touched_roles:  # one pass over live users, only when a live role's definition changes
        codes |= {
            code
            for code, user in live.users.items()
            if any(str(r).casefold() in touched_roles for r in user.record.get("roles") or ())
        }
    out = []
    for code in sorted(codes):
        current = live.users.get(code)
        before = _NO_ACCESS if current is None else _access(current.record, before_defs)
        after = _access(record_after(code, user_changes.get(code), live), after_defs, deleted)
        change = _compare(code, before, after, after_defs)
        if change is not None:
            grant = grants.get(code)
            out.append(change if grant is None else replace(change, grant=grant))
    return tuple(out)


def record_after(code: str, change: Change | None, live: LiveState) -> Mapping[str, Any] | None:
    """A user's record once ``change`` (its change in the plan, or None) is applied; None when
    the plan disables or deletes it (it then holds no access)."""
    current = live.users.get(code)
    base: Mapping[str, Any] = current.record if current is not None else {}
    if change is None:
        return base
    if change.action in (Action.DISABLE, Action.DELETE):
        return None
    return {**base, **change.desired}


def privileges_through(
    record: Mapping[str, Any] | None, defs: RoleDefs, gone: frozenset[str] = frozenset()
) -> dict[str, tuple[str, ...]]:
    """The effective privileges of a record: each privilege and the names of the roles that
    bring it (empty for a privilege held directly, also when a role brings it too); none for
    a disabled user."""
    if record is None or record.get("enabled") is False:
        return {}
    out: dict[str, tuple[str, ...]] = {str(p): () for p in record.get("privileges") or ()}
    for role in record.get("roles") or ():
        key = str(role).casefold()
        if key in gone or key not in defs:
            continue
        name, _, privileges = defs[key]
        for p in privileges:
            if out.get(p) != ():
                out[p] = (*out.get(p, ()), name)
    return out


def deleted_roles(changes: Iterable[Change]) -> frozenset[str]:
    """The casefolded names of the roles the plan deletes (their holders lose them)."""
    return frozenset(
        c.key.casefold() for c in changes if c.kind is Kind.ROLE and c.action is Action.DELETE
    )


def _access(
    record: Mapping[str, Any] | None, defs: RoleDefs, gone: frozenset[str] = frozenset()
) -> _Access:
    """Effective access of a record; roles in ``gone`` (deleted by the plan) no longer count."""
    if record is None or record.get("enabled") is False:
        return _NO_ACCESS
    roles = {
        str(r).casefold(): str(r)
        for r in record.get("roles") or ()
        if str(r).casefold() not in gone
    }
    categories = {str(c).casefold(): str(c) for c in record.get("categories") or ()}
    privileges = set(record.get("privileges") or ())
    for key in roles:
        if key in defs:
            name, cats, privs = defs[key]
            roles[key] = name
            categories.update({c.casefold(): c for c in cats})
            privileges.update(privs)
    return _Access(
        type=record.get("type"),
        roles=roles,
        categories=categories,
        privileges=frozenset(privileges),
    )


def _compare(code: str, before: _Access, after: _Access, defs: RoleDefs) -> AccessChange | None:
    gained_roles = _names(after.roles, before.roles)
    gained_privs = tuple(sorted(after.privileges - before.privileges))
    type_change = (before.type, after.type) if before.type != after.type else None
    change = AccessChange(
        usercode=code,
        gained_roles=gained_roles,
        lost_roles=_names(before.roles, after.roles),
        gained_categories=_names(after.categories, before.categories),
        lost_categories=_names(before.categories, after.categories),
        gained_privileges=gained_privs,
        lost_privileges=tuple(sorted(before.privileges - after.privileges)),
        type_change=type_change,
        escalation=bool(ESCALATING_PRIVILEGES.intersection(gained_privs))
        or (after.type == "administrator" and before.type != "administrator"),
        role_categories={r: defs[r.casefold()][1] for r in gained_roles if r.casefold() in defs},
    )
    empty = not (
        change.gained_roles
        or change.lost_roles
        or change.gained_categories
        or change.lost_categories
        or change.gained_privileges
        or change.lost_privileges
        or change.type_change
    )
    return None if empty else change


def _names(a: Mapping[str, str], b: Mapping[str, str]) -> tuple[str, ...]:
    """The names of ``a`` whose keys ``b`` lacks, sorted (runs for every user a plan changes:
    the common answers, none or one, without the sort)."""
    keys = a.keys() - b.keys()
    if len(keys) < 2:
        return tuple(a[k] for k in keys)
    return tuple(sorted((a[k] for k in keys), key=_name_order))


def _name_order(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def live_role_defs(live: LiveState) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Each live role as the server defines it: casefolded name -> (name, categories,
    privileges)."""
    return {
        key: (
            role.name,
            tuple(role.fields.get("categories") or ()),
            tuple(role.fields.get("privileges") or ()),
        )
        for key, role in live.roles.items()
    }


def role_defs_after(
    before: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]], changes: Sequence[Change]
) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The role definitions ``before`` once the plan's role changes are applied."""
    defs = dict(before)
    for c in changes:
        if c.kind is not Kind.ROLE:
            continue
        key = c.key.casefold()
        if c.action is Action.DELETE:
            defs.pop(key, None)
            continue
        name, cats, privs = defs.get(key, (c.key, (), ()))
        defs[key] = (
            name,
            tuple(c.desired.get("categories", cats)),
            tuple(c.desired.get("privileges", privs)),
        )
    return defs
