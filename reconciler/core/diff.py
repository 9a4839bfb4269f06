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
- Live users in ``users.ignore``, with ``pisync: {ignore: true}``, protected (unless declared),
  the super admin, and (when not pruning) every undeclared user never appear as changes.

Records are compared with plain ``==`` on normalised values first, so the per-field work
runs only for users that actually differ (the common case at 100,000 users is "equal").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.access import effective_access_changes
from reconciler.core.config import Config, RolePrune, UserPrune
from reconciler.core.model import (
    ROLE_FIELDS,
    SET_FIELDS,
    USER_FIELDS,
    Category,
    DesiredState,
    LiveState,
    LiveUser,
    RoleSpec,
    UserSpec,
    Variable,
)
from reconciler.core.plan import (
    SENSITIVE,
    Action,
    Change,
    Expiry,
    FieldChange,
    Kind,
    Plan,
    change_order,
    fingerprint,
)

Secrets = Mapping[str, str]


def diff(
    desired: DesiredState,
    live: LiveState,
    config: Config,
    *,
    server: str,
    defaults: Mapping[str, Any] | None = None,
    secrets: Secrets | None = None,
    targets: Iterable[str] = (),
    today: dt.date | None = None,
) -> Plan:
    """Compute the plan that makes ``live`` match ``desired``.

    ``defaults`` are canonical user fields for keys a NEW user omits (``pisync.yaml``
    ``defaults:``); ``secrets`` maps environment variable names to values (only digests
    leave this function); ``targets`` limits the plan to those usercodes.
    """
    secrets = secrets or {}
    wanted = frozenset(t.upper() for t in targets)
    ancestors = ancestors_index(live.categories)
    users = [u for u in desired.users if not u.ignore and not config.is_ignored(u.usercode)]
    warnings = [
        f"user {u.usercode} is declared but matches users.ignore; it is left alone"
        for u in desired.users
        if not u.ignore and config.is_ignored(u.usercode)
    ]
    resolved = {u.usercode: resolve_user(u, ancestors, secrets) for u in users}
    user_changes = [
        c
        for u in users
        if (c := _user_change(u, resolved[u.usercode], live, defaults or {})) is not None
    ]
    declared = frozenset(u.usercode for u in desired.users)
    user_changes += _prune_users(live, declared, config)
    role_changes = _diff_roles(desired.roles, live)
    pruned_roles, kept_roles = _prune_roles(desired, live, config, resolved, user_changes)
    role_changes += pruned_roles
    warnings += [
        f'role "{name}" is not declared but is still held by users, so roles.prune keeps it;'
        " declare it, or remove it from those users first"
        for name in kept_roles
    ]
    if wanted:
        user_changes = [c for c in user_changes if c.key in wanted]
        role_changes = _roles_for_targets(role_changes, user_changes)
    changes = change_order(role_changes + user_changes)
    return Plan(
        server=server,
        changes=changes,
        targets=tuple(sorted(wanted)),
        access=effective_access_changes(changes, desired.roles, live),
        expiring=_expiring(
            resolved,
            live,
            config,
            today,
            skip={u.usercode for u in desired.users if u.ignore}
            | {c.key for c in user_changes if c.action in (Action.DISABLE, Action.DELETE)},
            only=wanted,
        ),
        warnings=tuple(warnings),
        managed_live_users=managed_live_count(live, config),
        desired_objects=len(desired.users) + len(desired.roles),
    )


# --- users -------------------------------------------------------------------------------


def resolve_user(
    spec: UserSpec, ancestors: Mapping[str, tuple[str, ...]], secrets: Secrets
) -> dict[str, Any]:
    """The desired fields as compared: ancestors added, secret digests filled."""
    fields = dict(spec.fields)
    if "categories" in fields:
        fields["categories"] = with_ancestors(fields["categories"], ancestors)
    if "variables" in fields:
        fields["variables"] = tuple(_with_digest(v, secrets) for v in fields["variables"])
    return fields


def _user_change(
    spec: UserSpec, fields: Mapping[str, Any], live: LiveState, defaults: Mapping[str, Any]
) -> Change | None:
    current = live.users.get(spec.usercode)
    if current is None:
        after = {**{k: v for k, v in defaults.items() if k not in fields}, **fields}
        return Change(
            kind=Kind.USER,
            key=spec.usercode,
            action=Action.CREATE,
            fields=_all_changes((k, None, after[k]) for k in USER_FIELDS if k in after),
            desired=desired_json(after),
            source=spec.source,
        )
    changed = [
        k for k in USER_FIELDS if k in fields and not same(k, fields[k], current.record.get(k))
    ]
    if not changed:
        return None
    return Change(
        kind=Kind.USER,
        key=spec.usercode,
        action=Action.UPDATE,
        fields=_all_changes((k, current.record.get(k), fields[k]) for k in changed),
        desired=desired_json(fields),
        fingerprint=live_fingerprint(current),
        live_id=current.id,
        source=spec.source,
    )


def _prune_users(live: LiveState, declared: frozenset[str], config: Config) -> list[Change]:
    if config.users_prune is UserPrune.OFF:
        return []
    out = []
    for code in sorted(live.users):
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
    return sum(1 for u in live.users.values() if in_prune_scope(u, config))


# --- roles -------------------------------------------------------------------------------


def _diff_roles(roles: Iterable[RoleSpec], live: LiveState) -> list[Change]:
    out = []
    # A role's categories are compared as written: the parent rule (S2) is about a user's
    # userCategories, and adding parents to a role would widen what every holder sees.
    for spec in roles:
        fields = dict(spec.fields)
        current = live.roles.get(spec.name.casefold())
        if current is None:
            out.append(
                Change(
                    kind=Kind.ROLE,
                    key=spec.name,
                    action=Action.CREATE,
                    fields=_all_changes((k, None, fields[k]) for k in ROLE_FIELDS if k in fields),
                    desired=desired_json(fields),
                    source=spec.source,
                )
            )
            continue
        changed = [
            k for k in ROLE_FIELDS if k in fields and not same(k, fields[k], current.fields.get(k))
        ]
        if changed:
            out.append(
                Change(
                    kind=Kind.ROLE,
                    key=current.name,
                    action=Action.UPDATE,
                    fields=_all_changes((k, current.fields.get(k), fields[k]) for k in changed),
                    desired=desired_json(fields),
                    fingerprint=fingerprint(dict(current.raw) or dict(current.fields)),
                    live_id=current.id,
                    source=spec.source,
                )
            )
    return out


def _prune_roles(
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
            fingerprint=fingerprint(dict(role.raw) or dict(role.fields)),
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


def _roles_for_targets(roles: list[Change], users: list[Change]) -> list[Change]:
    needed = {
        r.casefold() for c in users for r in (c.desired.get("roles") or ()) if isinstance(r, str)
    }
    return [r for r in roles if r.action is not Action.DELETE and r.key.casefold() in needed]


# --- comparison --------------------------------------------------------------------------


def same(field: str, desired: Any, live: Any) -> bool:
    """Equality under the field's semantics (sets, case-insensitive names, secrets)."""
    return bool(comparable(field, desired) == comparable(field, live))


def comparable(field: str, value: Any) -> Any:
    if field not in SET_FIELDS:
        return value
    items = value or ()
    if field in ("roles", "categories"):
        return frozenset(str(v).casefold() for v in items)
    if field == "variables":
        return frozenset(_variable_key(v) for v in items)
    return frozenset(items)


def _variable_key(v: Variable) -> tuple[str, str | None, bool]:
    digest = v.digest if v.value is None else sha256(v.value)
    return (v.name, digest, v.secure)


def _all_changes(triples: Iterable[tuple[str, Any, Any]]) -> tuple[FieldChange, ...]:
    return tuple(
        fc for field, before, after in triples for fc in field_changes(field, before, after)
    )


def field_changes(field: str, before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Field-level changes; variables become one change per variable name."""
    if field != "variables":
        return (
            FieldChange(
                path=field, before=json_value(field, before), after=json_value(field, after)
            ),
        )
    old = {v.name: v for v in before or ()}
    new = {v.name: v for v in after or ()}
    out = []
    for name in sorted(old.keys() | new.keys(), key=lambda n: (n.casefold(), n)):
        a, b = old.get(name), new.get(name)
        if a is not None and b is not None and _variable_key(a) == _variable_key(b):
            continue
        sensitive = (a is not None and a.sensitive) or (b is not None and b.sensitive)
        out.append(
            FieldChange(
                path=f"variables.{name}",
                before=_variable_shown(a, sensitive),
                after=_variable_shown(b, sensitive),
                sensitive=sensitive,
            )
        )
    return tuple(out)


def _variable_shown(v: Variable | None, sensitive: bool) -> Any:
    """A variable's value as a plan may show it: never a value when either side is secret
    (an env value replacing a clear one would otherwise print the old secret)."""
    if v is None:
        return None
    return SENSITIVE if sensitive else v.value


def json_value(field: str, value: Any) -> Any:
    """A canonical field value as JSON (tuples become lists, records become dicts)."""
    if value is None:
        return None
    if field == "restrictions":
        return [
            {"connection": r.connection, "column": r.column, "values": list(r.values)}
            for r in sorted(value)
        ]
    if field in SET_FIELDS:
        return sorted((str(v) for v in value), key=lambda s: (s.casefold(), s))
    return value


def desired_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Managed values as saved in a plan: secrets as references, never values."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "variables":
            out[key] = {v.name: _variable_ref(v) for v in value}
        else:
            out[key] = json_value(key, value)
    return out


def _variable_ref(v: Variable) -> Any:
    if v.env is not None:
        return {"env": v.env, "secure": v.secure}
    if v.secure:
        return {"value": SENSITIVE, "secure": True}
    return v.value


def live_fingerprint(user: LiveUser) -> str:
    """The fingerprint of what was read: the syncPayload when read, else the record."""
    return fingerprint(user.payload if user.payload is not None else dict(user.record))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _with_digest(v: Variable, secrets: Secrets) -> Variable:
    if v.env is None:
        return v
    value = secrets.get(v.env)
    return Variable(
        name=v.name,
        env=v.env,
        secure=v.secure,
        digest=None if value is None else sha256(value),
    )


# --- categories ----------------------------------------------------------------------------


def ancestors_index(categories: Mapping[str, Category]) -> dict[str, tuple[str, ...]]:
    """casefolded category name -> names of its ancestors, computed once for all users."""
    by_id = {c.id: c for c in categories.values()}
    out: dict[str, tuple[str, ...]] = {}
    for key, cat in categories.items():
        chain: list[str] = []
        seen = {cat.id}
        parent = by_id.get(cat.parent_id) if cat.parent_id is not None else None
        while parent is not None and parent.id not in seen:
            chain.append(parent.name)
            seen.add(parent.id)
            parent = by_id.get(parent.parent_id) if parent.parent_id is not None else None
        out[key] = tuple(chain)
    return out


def with_ancestors(
    names: Iterable[str], ancestors: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The names plus every ancestor, deduplicated case-insensitively, sorted."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
        for parent in ancestors.get(name.casefold(), ()):
            seen.setdefault(parent.casefold(), parent)
    return tuple(sorted(seen.values(), key=lambda s: (s.casefold(), s)))


# --- expiry --------------------------------------------------------------------------------


def _expiring(
    resolved: Mapping[str, Mapping[str, Any]],
    live: LiveState,
    config: Config,
    today: dt.date | None,
    *,
    skip: set[str],
    only: frozenset[str],
) -> tuple[Expiry, ...]:
    """Users in scope whose access ends within ``expiring_days`` (or ended, still enabled)."""
    if today is None:
        return ()
    out = []
    for code in sorted(resolved.keys() | live.users.keys()):
        if code in skip or (only and code not in only):
            continue
        fields = resolved.get(code, {})
        current = live.users.get(code)
        record = current.record if current is not None else {}
        expires = fields["expires"] if "expires" in fields else record.get("expires")
        enabled = fields["enabled"] if "enabled" in fields else record.get("enabled", True)
        if not expires or (
            code not in resolved and current is not None and not in_prune_scope(current, config)
        ):
            continue
        try:
            days = (dt.date.fromisoformat(str(expires)[:10]) - today).days
        except ValueError:
            continue
        if days <= config.expiring_days and (days >= 0 or enabled):
            out.append(
                Expiry(usercode=code, expires=str(expires)[:10], days=days, enabled=bool(enabled))
            )
    return tuple(out)
