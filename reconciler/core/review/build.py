"""Builds the access review (:class:`~reconciler.core.review.model.Review`) from the live state,
the desired state and what git says about each entry. Pure.

Secrets never appear: a secure variable is named, never valued (nor its digest).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from reconciler.core.diff.changes import resolve_user
from reconciler.core.governance.access import RoleDefs, live_role_defs
from reconciler.core.governance.policies import live_findings
from reconciler.core.model.categories import ancestors_index
from reconciler.core.model.config import POLICY_NAMES, Config
from reconciler.core.model.privileges import USER_TYPES
from reconciler.core.model.values import (
    NO_GRANT,
    USER_FIELDS,
    DesiredState,
    LiveState,
    LiveUser,
    UserSpec,
    Variable,
)
from reconciler.core.plans.compare import same
from reconciler.core.plans.plan import PolicyFinding
from reconciler.core.review.model import (
    EXPIRY_WINDOWS,
    NO_HISTORY,
    History,
    Provenance,
    Review,
    RoleRow,
    Row,
    Summary,
    ends_within,
)

# --- building -------------------------------------------------------------------------------


def build_review(
    live: LiveState,
    desired: DesiredState,
    config: Config,
    *,
    server: str,
    today: dt.date,
    history: History = NO_HISTORY,
    secrets: Mapping[str, str] | None = None,
) -> Review:
    """The review of ``live`` against ``desired`` as of ``today`` (see the module docstring).

    ``secrets`` (environment variable -> value) lets drift compare the secure variables whose
    value the environment holds; a secret the environment does not hold is never counted as
    drift (it cannot be compared).
    """
    declared = {u.usercode: u for u in desired.users}
    defs = live_role_defs(live)
    ancestors = ancestors_index(live.categories)
    grants = {code: u.meta for code, u in declared.items() if u.meta}
    sources = {code: u.source for code, u in declared.items() if u.source is not None}
    findings = live_findings(live, grants, sources, config.policies, today=today)
    rows = tuple(
        _row(
            user,
            declared.get(code),
            config,
            defs,
            ancestors,
            secrets or {},
            findings.get(code, ()),
            history,
        )
        for code, user in sorted(live.users.items())
    )
    roles = _role_rows(live, desired, rows)
    return Review(
        server=server,
        date=today.isoformat(),
        policies=config.policies.names,
        rows=rows,
        roles=roles,
        server_findings=tuple(findings.get(None, ())),
        summary=_summary(rows, roles, declared, live, today),
        provenance=history.available,
        provenance_note=history.note,
    )


def _row(
    user: LiveUser,
    spec: UserSpec | None,
    config: Config,
    defs: RoleDefs,
    ancestors: Mapping[str, tuple[str, ...]],
    secrets: Mapping[str, str],
    findings: Iterable[PolicyFinding],
    history: History,
) -> Row:
    record = user.record
    enabled = record.get("enabled") is not False
    held = _held_roles(record.get("roles") or (), defs)
    direct_cats = _names(record.get("categories") or ())
    direct_privs = tuple(sorted(record.get("privileges") or ()))
    through = {name: (cats, privs) for name, cats, privs in held if name.casefold() in defs}
    categories = _names([*direct_cats, *(c for cats, _ in through.values() for c in cats)])
    privileges = tuple(
        sorted({*direct_privs, *(p for _, privs in through.values() for p in privs)})
    )
    ignored = config.is_ignored(user.usercode) or (spec is not None and spec.ignore)
    drift = None
    if spec is not None and not ignored:
        drift = drift_of(spec, user, ancestors, secrets)
    change, note = _last_change(user.usercode, spec, history)
    return Row(
        usercode=user.usercode,
        type=record.get("type"),
        enabled=enabled,
        expires=_date(record.get("expires")),
        super_admin=user.super_admin,
        roles=tuple(name for name, _, _ in held),
        categories=categories,
        privileges=privileges,
        direct_categories=direct_cats,
        direct_privileges=direct_privs,
        through_roles=through,
        secure_variables=tuple(
            sorted(
                v.name
                for v in record.get("variables") or ()
                if isinstance(v, Variable) and v.sensitive
            )
        ),
        declared=spec is not None,
        ignored=ignored,
        source=None if spec is None else spec.source,
        drift=drift,
        grant=NO_GRANT if spec is None else spec.meta,
        findings=tuple(findings),
        last_change=change,
        last_change_note=note,
    )


def _secure_names(variables: Iterable[object]) -> tuple[str, ...]:
    """The names of the secure variables (never a value, never a digest)."""
    return tuple(sorted(v.name for v in variables if isinstance(v, Variable) and v.sensitive))


def _held_roles(
    roles: Iterable[object], defs: RoleDefs
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    out: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    for written in roles:
        key = str(written).casefold()
        out.setdefault(key, defs.get(key, (str(written), (), ())))
    return sorted(out.values(), key=lambda d: (d[0].casefold(), d[0]))


def _names(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(str(name).casefold(), str(name))
    return tuple(sorted(seen.values(), key=lambda s: (s.casefold(), s)))


def _date(value: object) -> str | None:
    return str(value)[:10] if value else None


def drift_of(
    spec: UserSpec,
    user: LiveUser,
    ancestors: Mapping[str, tuple[str, ...]],
    secrets: Mapping[str, str],
) -> tuple[str, ...]:
    """The declared fields whose live value differs (as the diff compares them). A secret
    whose value is unknown here (its environment variable unset) is compared by presence."""
    fields = resolve_user(spec, ancestors, secrets)
    if "variables" in fields:
        live_vars = {v.name: v for v in user.record.get("variables") or ()}
        fields["variables"] = tuple(
            live_vars[v.name]
            if v.env is not None and v.digest is None and v.name in live_vars
            else v
            for v in fields["variables"]
        )
    return tuple(
        k for k in USER_FIELDS if k in fields and not same(k, fields[k], user.record.get(k))
    )


def _last_change(
    code: str, spec: UserSpec | None, history: History
) -> tuple[Provenance | None, str | None]:
    if spec is None:
        return None, "not declared in the repository"
    if not history.available:
        return None, history.note
    change = history.changes.get(code)
    if change is None:
        return None, history.missing.get(code, "no commit found for the entry")
    return change, None


def _role_rows(live: LiveState, desired: DesiredState, rows: Sequence[Row]) -> tuple[RoleRow, ...]:
    holders = Counter(r.casefold() for row in rows if row.enabled for r in row.roles)
    declared = {r.name.casefold() for r in desired.roles}
    return tuple(
        RoleRow(
            name=role.name,
            description=role.fields.get("description"),
            categories=tuple(role.fields.get("categories") or ()),
            privileges=tuple(sorted(role.fields.get("privileges") or ())),
            holders=holders.get(key, 0),
            declared=key in declared,
        )
        for key, role in sorted(live.roles.items())
    )


def _summary(
    rows: Sequence[Row],
    roles: Sequence[RoleRow],
    declared: Mapping[str, UserSpec],
    live: LiveState,
    today: dt.date,
) -> Summary:
    enabled = [r for r in rows if r.enabled]
    by_type = Counter(r.type or "unknown" for r in rows)
    expiring: dict[int, int] = {}
    for window in EXPIRY_WINDOWS:
        expiring[window] = sum(1 for r in enabled if ends_within(r.expires, today, window))
    findings = [f for r in rows for f in r.findings]
    return Summary(
        users=len(rows),
        enabled=len(enabled),
        by_type={t: by_type[t] for t in sorted(by_type, key=_type_order)},
        by_role={r.name: r.holders for r in sorted(roles, key=lambda r: (-r.holders, r.name))},
        administrators=tuple(
            r.usercode for r in enabled if r.super_admin or r.type == "administrator"
        ),
        unmanaged=tuple(r.usercode for r in rows if r.managed == "unmanaged"),
        ignored=tuple(r.usercode for r in rows if r.ignored),
        drifted=tuple(r.usercode for r in rows if r.drift),
        declared_missing=tuple(sorted(c for c in declared if c not in live.users)),
        expired_but_enabled=tuple(
            r.usercode for r in enabled if r.expires is not None and r.expires < today.isoformat()
        ),
        reviews_overdue=tuple(
            r.usercode
            for r in rows
            if r.grant.review_by is not None and r.grant.review_by < today.isoformat()
        ),
        expiring=expiring,
        violations={
            "error": sum(1 for f in findings if f.severity == "error"),
            "warning": sum(1 for f in findings if f.severity == "warning"),
        },
        by_policy={
            name: n for name in POLICY_NAMES if (n := sum(1 for f in findings if f.policy == name))
        },
    )


def _type_order(name: str) -> tuple[int, str]:
    return (USER_TYPES.index(name) if name in USER_TYPES else len(USER_TYPES), name)
