"""The access review (``pisync review``): who has what on the server today, why, and which
commit put each grant there. Pure: the shell hands in the live state, the desired state and
what git (and the forge) says; this module holds the values
(:mod:`reconciler.core.review.build` builds them, the ``render_*`` modules write them).

One row per live user: its type, state and expiry; its effective access (direct grants and
grants through roles, as the server defines the roles); whether the repository declares it
(or ignores it) and whether the server differs from the declaration (*drift*); the grant
metadata of its entry; the ``policies:`` it breaks today; each of its *grants* with the commit
that introduced the grant's current value (:mod:`reconciler.core.review.grants`); and the
commit that last changed its entry. A summary comes first: counts per type and role, the
administrators, unmanaged, drifted, expired-but-enabled and overdue users, the violations;
then the privileged track, what changed since the last review, and the decisions of earlier
reviews with what became of them.

The rows of a large server are never all held: :class:`Review` is the head (everything but
the rows), rendered after one pass over the rows has been written out (see
:mod:`reconciler.core.review.build`). Secrets never appear: a secure variable is named,
never valued (nor its digest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from reconciler.core.model.privileges import ESCALATING_PRIVILEGES
from reconciler.core.model.values import Grant, SourcePos
from reconciler.core.plans.plan import PolicyFinding
from reconciler.core.review.decisions import DecisionStatus
from reconciler.core.review.grants import GrantKey, resource
from reconciler.core.review.manifest import Manifest
from reconciler.core.review.since import SinceReport

FORMAT_VERSION = 2
#: The windows of the "access expiring soon" counts and chart, in days.
EXPIRY_WINDOWS: tuple[int, ...] = (30, 60, 90)


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """A commit, as the review shows it: who, when, and the pull request it came in by."""

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

    @property
    def tag(self) -> str:
        """How a grant names it in a table: its pull request, else its short hash."""
        return f"#{self.pull_request}" if self.pull_request is not None else self.commit[:7]


#: An empty mapping shared by the entries that need none (most of 100,000).
NOTHING: Mapping[GrantKey, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryHistory:
    """What git says about one declared user's entry: the commit that last changed it, and
    the commit that introduced each declared grant's current value (``default`` for every
    grant not in ``grants``); ``notes`` say why a grant has none (a line not committed)."""

    last: str | None = None
    note: str | None = None  # why there is no last change
    default: str | None = None
    grants: Mapping[GrantKey, str] = field(default_factory=lambda: NOTHING)
    notes: Mapping[GrantKey, str] = field(default_factory=lambda: NOTHING)

    def commit_of(self, key: GrantKey) -> str | None:
        if key in self.notes:
            return None
        return self.grants.get(key, self.default)


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What git says about the entries: each declared user's :class:`EntryHistory` (by
    usercode), the commits they name; ``note`` when there is no provenance at all (not a
    repository) or it may be incomplete (a shallow clone)."""

    commits: Mapping[str, Provenance] = field(default_factory=dict)
    entries: Mapping[str, EntryHistory] = field(default_factory=dict)
    note: str | None = None
    available: bool = True


NO_HISTORY = History(available=False, note="no provenance was asked for")


@dataclass(frozen=True, slots=True, kw_only=True)
class Approver:
    login: str
    at: str | None  # when the approval was submitted (ISO 8601)

    def to_dict(self) -> dict[str, Any]:
        return {"login": self.login, "at": self.at}


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequest:
    """What the forge says about one pull request: who approved it (their last review was
    an approval), who opened and merged it; ``note`` when it could not say."""

    number: int
    approvers: tuple[Approver, ...] = ()
    author: str | None = None
    merged_by: str | None = None
    merged_at: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "approvers": [a.to_dict() for a in self.approvers],
            "author": self.author,
            "merged_by": self.merged_by,
            "merged_at": self.merged_at,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Approvals:
    """The approvals of the pull requests the grants came in by. ``asked`` False: the forge
    was not asked (``note`` says why, and what to set); nothing is guessed then."""

    asked: bool = False
    note: str | None = None
    forge: str | None = None  # e.g. "github.com/acme/pi-users"
    pulls: Mapping[int, PullRequest] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "forge": self.forge, "note": self.note}

    def words(self, number: int | None) -> str:
        """Who approved pull request ``number``, in words (or why that is not known)."""
        if number is None:
            return "no pull request"
        if not self.asked:
            return "approvals not asked"
        pull = self.pulls.get(number)
        if pull is None:
            return "approvals not known"
        if pull.note is not None:
            return pull.note
        if not pull.approvers:
            return "no approval"
        return "approved by " + ", ".join(a.login for a in pull.approvers)


NOT_ASKED = Approvals(note="the forge was not asked for approvals")


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantRow:
    """One grant of a live user, with the commit that introduced its current value, or why
    there is none (``note``: not declared, drift, not committed…)."""

    kind: str
    name: str
    via: str | None = None  # a category granted as the parent of a declared one
    change: Provenance | None = None
    note: str | None = None

    @property
    def resource(self) -> str:
        return resource(self.kind, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "via": self.via,
            "commit": None if self.change is None else self.change.commit,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One live user, as the review shows it."""

    usercode: str
    name: str | None  # forenames and surname
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
    grants: tuple[GrantRow, ...] = ()
    last_change: Provenance | None = None
    last_change_note: str | None = None  # why there is no last change
    last_review: Provenance | None = None  # the commit that last set review_by

    @property
    def escalating(self) -> bool:
        return bool(self.privileged)

    @property
    def administrator(self) -> bool:
        return self.super_admin or self.type == "administrator"

    @property
    def privileged(self) -> tuple[str, ...]:
        """Why the user is on the privileged track: the administrator type, and each
        escalating privilege it holds (with the roles it comes through)."""
        reasons = []
        if self.super_admin:
            reasons.append("super admin")
        if self.type == "administrator":
            reasons.append("administrator")
        for name in self.privileges:
            if name in ESCALATING_PRIVILEGES:
                via = [r for r, (_, privs) in self.through_roles.items() if name in privs]
                if name in self.direct_privileges or not via:
                    reasons.append(name)
                else:
                    reasons.append(f"{name} (via {', '.join(via)})")
        return tuple(reasons)

    @property
    def managed(self) -> str:
        """``declared``, ``ignored`` or ``unmanaged``."""
        if self.ignored:
            return "ignored"
        return "declared" if self.declared else "unmanaged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "usercode": self.usercode,
            "name": self.name,
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
            "privileged": list(self.privileged),
            "findings": [finding_dict(f) for f in self.findings],
            "grants": [g.to_dict() for g in self.grants],
            "last_change": None if self.last_change is None else self.last_change.commit,
            "last_change_note": self.last_change_note,
            "last_review": None if self.last_review is None else self.last_review.commit,
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
    privileged: int = 0  # users on the privileged track
    grants: int = 0  # grants listed, all users

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
            "privileged": self.privileged,
            "grants": self.grants,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Privileged:
    """A user on the privileged track: why, and what justifies it."""

    usercode: str
    enabled: bool
    reasons: tuple[str, ...]
    grant: Grant
    expires: str | None
    last_review: Provenance | None
    managed: str
    findings: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "usercode": self.usercode,
            "enabled": self.enabled,
            "because": list(self.reasons),
            "reason": self.grant.reason,
            "ticket": self.grant.ticket,
            "owner": self.grant.owner,
            "expires": self.expires,
            "review_by": self.grant.review_by,
            "last_review": None if self.last_review is None else self.last_review.commit,
            "managed": self.managed,
            "findings": self.findings,
        }

    @classmethod
    def of(cls, row: Row) -> Privileged:
        return cls(
            usercode=row.usercode,
            enabled=row.enabled,
            reasons=row.privileged,
            grant=row.grant,
            expires=row.expires,
            last_review=row.last_review,
            managed=row.managed,
            findings=len(row.findings),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """The review's head (everything but the rows), and its ``rows`` when they are held
    (a small review, the tests); a streamed review renders the head after the rows."""

    server: str
    date: str  # the day the review is as of (ISO)
    policies: tuple[str, ...]  # the rules checked
    roles: tuple[RoleRow, ...]
    server_findings: tuple[PolicyFinding, ...]  # about the whole server (administrators)
    summary: Summary
    provenance: bool  # False: no git history (see ``provenance_note``)
    provenance_note: str | None = None
    commits: Mapping[str, Provenance] = field(default_factory=dict)
    approvals: Approvals = NOT_ASKED
    privileged: tuple[Privileged, ...] = ()
    manifest: Manifest | None = None
    since: SinceReport | None = None
    decisions: tuple[DecisionStatus, ...] = ()
    rows: Sequence[Row] = ()

    def head_dict(self) -> dict[str, Any]:
        """Everything but the users, in the JSON report's key order."""
        return {
            "format_version": FORMAT_VERSION,
            "server": self.server,
            "date": self.date,
            "manifest": None if self.manifest is None else self.manifest.to_dict(),
            "provenance": {"available": self.provenance, "note": self.provenance_note},
            "approvals": self.approvals.to_dict(),
            "policies": list(self.policies),
            "summary": self.summary.to_dict(),
            "server_findings": [finding_dict(f) for f in self.server_findings],
            "privileged": [p.to_dict() for p in self.privileged],
            "since": None if self.since is None else self.since.to_dict(),
            "decisions": [d.to_dict() for d in self.decisions],
            "roles": [r.to_dict() for r in self.roles],
            "commits": {
                sha: {
                    **{k: v for k, v in c.to_dict().items() if k != "commit"},
                    "approvals": self._pull(c.pull_request),
                }
                for sha, c in self.commits.items()
            },
        }

    def _pull(self, number: int | None) -> dict[str, Any] | None:
        if number is None:
            return None
        pull = self.approvals.pulls.get(number)
        return None if pull is None else pull.to_dict()


def finding_dict(f: PolicyFinding) -> dict[str, Any]:
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
