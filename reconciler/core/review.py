"""The access review (``pisync review``): who has what on the server today, why, and which
commit put it there. Pure: the shell hands in the live state, the desired state and what git
says about each entry; this builds one :class:`Review` and renders it as JSON, CSV and
Markdown (HTML: :mod:`reconciler.core.review_html`).

One row per live user: its type, state and expiry; its effective access (direct grants and
grants through roles, as the server defines the roles); whether the repository declares it
(or ignores it) and whether the server differs from the declaration (*drift*); the grant
metadata of its entry; the ``policies:`` it breaks today; and its *provenance*, the commit that
last changed its entry. A summary comes first: counts per type and role, the administrators,
unmanaged, drifted, expired-but-enabled and overdue users, the policy violations.

Secrets never appear: a secure variable is named, never valued (nor its digest).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.access import RoleDefs, live_role_defs
from reconciler.core.categories import ancestors_index
from reconciler.core.compare import same
from reconciler.core.config import POLICY_NAMES, Config
from reconciler.core.diff import resolve_user
from reconciler.core.model import (
    NO_GRANT,
    USER_FIELDS,
    DesiredState,
    Grant,
    LiveState,
    LiveUser,
    SourcePos,
    UserSpec,
    Variable,
)
from reconciler.core.plan import PolicyFinding
from reconciler.core.policies import live_findings
from reconciler.core.privileges import ESCALATING_PRIVILEGES

FORMAT_VERSION = 1
#: The windows of the "access expiring soon" counts and chart, in days.
EXPIRY_WINDOWS: tuple[int, ...] = (30, 60, 90)


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """The commit that last changed a user's entry (``git blame`` over the entry's lines)."""

    commit: str
    author: str
    email: str
    date: str  # the author date, ISO 8601 with its offset
    subject: str
    #: named by the subject ("… (#123)"), or by the merge that brought the commit in
    #: ("Merge pull request #123 from …")
    pull_request: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "author": self.author,
            "email": self.email,
            "date": self.date,
            "subject": self.subject,
            "pull_request": self.pull_request,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What git says about the entries: each declared user's last change, or why there is none
    (``missing``, by usercode); ``note`` when there is no provenance at all (not a repository)
    or it may be incomplete (a shallow clone)."""

    changes: Mapping[str, Provenance] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    available: bool = True


NO_HISTORY = History(available=False, note="no provenance was asked for")


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One live user, as the review shows it."""

    usercode: str
    type: str | None
    enabled: bool
    expires: str | None
    super_admin: bool
    roles: tuple[str, ...]  # held, as the server names them
    categories: tuple[str, ...]  # effective: direct and through roles
    privileges: tuple[str, ...]
    direct_categories: tuple[str, ...]
    direct_privileges: tuple[str, ...]
    #: role -> (categories, privileges) it brings (for the roles the server defines)
    through_roles: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
    secure_variables: tuple[str, ...]  # names only
    declared: bool
    ignored: bool  # declared with pisync: {ignore: true} or matching users.ignore
    source: SourcePos | None
    drift: tuple[str, ...] | None  # fields where the server differs; None: not compared
    grant: Grant
    findings: tuple[PolicyFinding, ...]
    last_change: Provenance | None
    last_change_note: str | None  # why there is no last change

    @property
    def escalating(self) -> bool:
        return (
            self.super_admin
            or self.type == "administrator"
            or not ESCALATING_PRIVILEGES.isdisjoint(self.privileges)
        )

    @property
    def managed(self) -> str:
        """``declared``, ``ignored`` or ``unmanaged``."""
        if self.ignored:
            return "ignored"
        return "declared" if self.declared else "unmanaged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "usercode": self.usercode,
            "type": self.type,
            "enabled": self.enabled,
            "expires": self.expires,
            "super_admin": self.super_admin,
            "roles": list(self.roles),
            "categories": list(self.categories),
            "privileges": list(self.privileges),
            "direct": {
                "categories": list(self.direct_categories),
                "privileges": list(self.direct_privileges),
            },
            "through_roles": {
                role: {"categories": list(cats), "privileges": list(privs)}
                for role, (cats, privs) in self.through_roles.items()
            },
            "secure_variables": list(self.secure_variables),
            "declared": self.declared,
            "ignored": self.ignored,
            "source": None if self.source is None else str(self.source),
            "drift": None if self.drift is None else list(self.drift),
            "reason": self.grant.reason,
            "ticket": self.grant.ticket,
            "owner": self.grant.owner,
            "review_by": self.grant.review_by,
            "findings": [_finding_dict(f) for f in self.findings],
            "last_change": None if self.last_change is None else self.last_change.to_dict(),
            "last_change_note": self.last_change_note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleRow:
    name: str
    description: str | None
    categories: tuple[str, ...]
    privileges: tuple[str, ...]
    holders: int  # enabled users holding it
    declared: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "categories": list(self.categories),
            "privileges": list(self.privileges),
            "holders": self.holders,
            "declared": self.declared,
            "escalating": not ESCALATING_PRIVILEGES.isdisjoint(self.privileges),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    users: int
    enabled: int
    by_type: Mapping[str, int]  # type -> users (None type as "unknown")
    by_role: Mapping[str, int]  # role -> enabled holders
    administrators: tuple[str, ...]  # enabled, the super admin included
    unmanaged: tuple[str, ...]
    ignored: tuple[str, ...]
    drifted: tuple[str, ...]
    declared_missing: tuple[str, ...]  # declared, not on the server
    expired_but_enabled: tuple[str, ...]
    reviews_overdue: tuple[str, ...]
    expiring: Mapping[int, int]  # window days -> enabled users whose access ends within it
    violations: Mapping[str, int]  # severity -> findings
    by_policy: Mapping[str, int]  # policy -> findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "enabled": self.enabled,
            "by_type": dict(self.by_type),
            "by_role": dict(self.by_role),
            "administrators": list(self.administrators),
            "unmanaged": list(self.unmanaged),
            "ignored": list(self.ignored),
            "drifted": list(self.drifted),
            "declared_missing": list(self.declared_missing),
            "expired_but_enabled": list(self.expired_but_enabled),
            "reviews_overdue": list(self.reviews_overdue),
            "expiring": {str(k): v for k, v in self.expiring.items()},
            "policy_violations": {**self.violations, "by_policy": dict(self.by_policy)},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    server: str
    date: str  # the day the review is as of (ISO)
    policies: tuple[str, ...]  # the rules checked
    rows: tuple[Row, ...]
    roles: tuple[RoleRow, ...]
    server_findings: tuple[PolicyFinding, ...]  # about the whole server (administrators)
    summary: Summary
    provenance: bool  # False: no git history (see ``provenance_note``)
    provenance_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "server": self.server,
            "date": self.date,
            "provenance": {"available": self.provenance, "note": self.provenance_note},
            "policies": list(self.policies),
            "summary": self.summary.to_dict(),
            "server_findings": [_finding_dict(f) for f in self.server_findings],
            "roles": [r.to_dict() for r in self.roles],
            "users": [r.to_dict() for r in self.rows],
        }


def _finding_dict(f: PolicyFinding) -> dict[str, Any]:
    return {"policy": f.policy, "severity": f.severity, "message": f.message}


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


_TYPES = ("administrator", "designer", "chart-explorer", "user", "chart-viewer")


def _type_order(name: str) -> tuple[int, str]:
    return (_TYPES.index(name) if name in _TYPES else len(_TYPES), name)


def ends_within(expires: str | None, today: dt.date, days: int) -> bool:
    """Whether access that ends on ``expires`` ends within the next ``days`` days."""
    if expires is None:
        return False
    try:
        left = (dt.date.fromisoformat(expires) - today).days
    except ValueError:
        return False
    return 0 <= left <= days


# --- rendering: JSON, CSV, Markdown -------------------------------------------------------------


def render_json(review: Review) -> str:
    """The review as JSON, documented by ``schemas/review.schema.json``."""
    return json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n"


#: The CSV columns, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "usercode",
    "type",
    "enabled",
    "expires",
    "managed",
    "drift",
    "roles",
    "categories",
    "privileges",
    "direct_categories",
    "direct_privileges",
    "secure_variables",
    "reason",
    "ticket",
    "owner",
    "review_by",
    "findings",
    "commit",
    "author",
    "date",
    "subject",
    "pull_request",
    "source",
)
#: A cell a spreadsheet would run as a formula starts with one of these (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render_csv(review: Review) -> str:
    """One line per live user (:data:`CSV_COLUMNS`); lists joined by ``; ``. A cell that a
    spreadsheet would take for a formula is prefixed with ``'`` so that opening the file never
    runs one."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in review.rows:
        writer.writerow([_cell(v) for v in _csv_values(row)])
    return out.getvalue()


#: what one CSV cell holds before it is written
CsvValue = str | bool | int | None


def _csv_values(row: Row) -> list[CsvValue]:
    change = row.last_change
    return [
        row.usercode,
        row.type,
        row.enabled,
        row.expires,
        row.managed,
        "" if row.drift is None else "; ".join(row.drift) or "none",
        "; ".join(row.roles),
        "; ".join(row.categories),
        "; ".join(row.privileges),
        "; ".join(row.direct_categories),
        "; ".join(row.direct_privileges),
        "; ".join(row.secure_variables),
        row.grant.reason,
        row.grant.ticket,
        row.grant.owner,
        row.grant.review_by,
        "; ".join(f"{f.severity}: {f.text}" for f in row.findings),
        None if change is None else change.commit,
        None if change is None else change.author,
        None if change is None else change.date,
        None if change is None else change.subject,
        None if change is None else change.pull_request,
        None if row.source is None else str(row.source),
    ]


def _cell(value: CsvValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_markdown(review: Review) -> str:
    """The review as Markdown: the summary first, then one table line per user."""
    s = review.summary
    lines = [
        "# pisync access review",
        "",
        f"Server: {_md_code(review.server)} · as of {review.date}"
        + f" · {s.users} users ({s.enabled} enabled)",
        "",
    ]
    if not review.provenance or review.provenance_note:
        lines += [f"> **Provenance:** {_md_text(review.provenance_note or 'not available')}", ""]
    lines += ["## Summary", "", "| | |", "|---|---:|"]
    lines += [
        f"| Administrators (enabled) | {len(s.administrators)} |",
        f"| Unmanaged users (no file declares them) | {len(s.unmanaged)} |",
        f"| Drifted users (the server differs from the repository) | {len(s.drifted)} |",
        f"| Declared but not on the server | {len(s.declared_missing)} |",
        f"| Expired but still enabled | {len(s.expired_but_enabled)} |",
        f"| Reviews overdue | {len(s.reviews_overdue)} |",
        f"| Policy violations | {s.violations['error']} errors, {s.violations['warning']}"
        " warnings |",
    ]
    lines += [f"| Access ending within {w} days | {n} |" for w, n in s.expiring.items()]
    lines += ["", "### Users per type", "", "| Type | Users |", "|---|---:|"]
    lines += [f"| {_md_cell(t)} | {n} |" for t, n in s.by_type.items()]
    lines += ["", "### Users per role", "", "| Role | Enabled holders |", "|---|---:|"]
    lines += [f"| {_md_cell(r)} | {n} |" for r, n in s.by_role.items()]
    for title, codes in (
        ("Administrators", s.administrators),
        ("Unmanaged users", s.unmanaged),
        ("Drifted users", s.drifted),
        ("Declared but not on the server", s.declared_missing),
        ("Expired but still enabled", s.expired_but_enabled),
        ("Reviews overdue", s.reviews_overdue),
    ):
        if codes:
            lines += ["", f"**{title}:** " + ", ".join(_md_code(c) for c in codes)]
    if review.policies:
        lines += ["", "### Policies", ""]
        lines += [f"Checked: {', '.join(_md_code(p) for p in review.policies)}."]
        lines += [f"- ⛔ {_md_text(f.text)}" for f in review.server_findings]
    lines += ["", "## Users", ""]
    lines += [
        "| User | Type | Enabled | Expires | Roles | Categories | Privileges | Managed | Drift"
        " | Why | Findings | Last change |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_md_row(r) for r in review.rows]
    return "\n".join(lines) + "\n"


def _md_row(r: Row) -> str:
    via = {
        item: role for role, (cats, privs) in r.through_roles.items() for item in (*cats, *privs)
    }

    def items(names: Sequence[str], direct: Sequence[str]) -> str:
        """Each name (an escalating privilege in bold), with the role it comes through."""
        return ", ".join(
            (f"**{_md_code(n)}**" if n in ESCALATING_PRIVILEGES else _md_code(n))
            + ("" if n in direct or n not in via else f" (via {_md_cell(via[n])})")
            for n in names
        )

    cells = [
        _md_code(r.usercode) + (" (super admin)" if r.super_admin else ""),
        _md_cell(r.type or "unknown"),
        "yes" if r.enabled else "**no**",
        _md_cell(r.expires or "never"),
        ", ".join(_md_code(x) for x in r.roles),
        items(r.categories, r.direct_categories),
        items(r.privileges, r.direct_privileges),
        r.managed,
        "" if r.drift is None else (", ".join(r.drift) or "none"),
        _md_cell(_why(r.grant)),
        "<br>".join(
            f"{'⛔' if f.severity == 'error' else '⚠️'} {_md_cell(f.text)}" for f in r.findings
        ),
        _md_cell(_change_text(r)),
    ]
    return "| " + " | ".join(cells) + " |"


_MARK = {"error": "⛔", "warning": "⚠️"}


def _why(grant: Grant) -> str:
    parts = [grant.reason] if grant.reason else []
    parts += [f"{k} {v}" for k, v in (("ticket", grant.ticket), ("owner", grant.owner)) if v]
    if grant.review_by:
        parts.append(f"review by {grant.review_by}")
    return "; ".join(p for p in parts if p)


def _change_text(r: Row) -> str:
    c = r.last_change
    if c is None:
        return r.last_change_note or ""
    return f"{c.commit[:10]} {c.author} {c.date[:10]}: {c.subject}"


def _md_code(text: str) -> str:
    """A code span that holds ``text`` literally, whatever backticks it contains; a pipe is
    escaped (inside a table cell GitHub reads it as a column break even in code)."""
    text = _printable(text).replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_cell(text: str) -> str:
    """Free text inside a table cell: pipes, HTML and line breaks cannot break the table."""
    return _md_text(text)


_MD_SPECIAL = frozenset("\\`*_[]<>|~#!&$")


def _md_text(text: str) -> str:
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in _printable(text))


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
