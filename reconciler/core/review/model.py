"""The access review (``pisync review``): who has what on the server today, why, and which
commit put it there. Pure: the shell hands in the live state, the desired state and what git
says about each entry; this module holds the values of one :class:`Review`
(:mod:`reconciler.core.review.build` builds it; :mod:`reconciler.core.review.formats` and
:mod:`reconciler.core.review.html` render it).

One row per live user: its type, state and expiry; its effective access (direct grants and
grants through roles, as the server defines the roles); whether the repository declares it
(or ignores it) and whether the server differs from the declaration (*drift*); the grant
metadata of its entry; the ``policies:`` it breaks today; and its *provenance*, the commit that
last changed its entry. A summary comes first: counts per type and role, the administrators,
unmanaged, drifted, expired-but-enabled and overdue users, the policy violations.

Secrets never appear: a secure variable is named, never valued (nor its digest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.model.privileges import ESCALATING_PRIVILEGES
from reconciler.core.model.values import Grant, SourcePos
from reconciler.core.plans.plan import PolicyFinding

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


def ends_within(expires: str | None, today: dt.date, days: int) -> bool:
    """Whether access that ends on ``expires`` ends within the next ``days`` days."""
    if expires is None:
        return False
    try:
        left = (dt.date.fromisoformat(expires) - today).days
    except ValueError:
        return False
    return 0 <= left <= days
