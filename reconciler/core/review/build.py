"""Builds the access review from the live state, the desired state and what git (and the
forge) says. Pure.

A review of 100,000 users is never held whole: :class:`Rows` makes one
:class:`~reconciler.core.review.model.Row` at a time (the shell writes each out at once), and a
:class:`Tally` counts what the head needs (summary, privileged track, what changed since the
last review, the manifest's counts) as they pass; :meth:`Tally.head` then makes the head.
:func:`build_review` does both and keeps the rows, for a small review and the tests.

Secrets never appear: a secure variable is named, never valued (nor its digest).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler.core.diff.changes import resolve_user
from reconciler.core.governance.access import RoleDefs, live_role_defs
from reconciler.core.governance.policy_rules import evaluate
from reconciler.core.governance.subjects import Subject, View, subject_of_record
from reconciler.core.model.categories import ancestors_index
from reconciler.core.model.config import POLICY_NAMES, Config, Policies
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
from reconciler.core.review.decisions import (
    ApplyOutcome,
    Decision,
    DecisionStatus,
    Enacted,
    status_of,
)
from reconciler.core.review.grants import (
    KIND_KEYS,
    LIST_KINDS,
    REVIEW_BY,
    GrantKey,
    grant_key,
    live_grants,
)
from reconciler.core.review.manifest import Counts, Filters, Manifest, ReadFacts, checks
from reconciler.core.review.model import (
    EXPIRY_WINDOWS,
    NO_HISTORY,
    NOT_ASKED,
    Approvals,
    EntryHistory,
    GrantRow,
    History,
    Privileged,
    Provenance,
    Review,
    RoleRow,
    Row,
    Summary,
)
from reconciler.core.review.since import Previous, SinceTally


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    """Everything a review is made of."""

    live: LiveState
    desired: DesiredState
    config: Config
    server: str
    today: dt.date
    history: History = NO_HISTORY
    approvals: Approvals = NOT_ASKED
    #: environment variable -> value: drift compares the secure variables whose value the
    #: environment holds (one it does not hold is never counted as drift: it cannot be compared)
    secrets: Mapping[str, str] = field(default_factory=dict)
    facts: ReadFacts | None = None  # for the manifest (the shell's part)
    previous: Previous | None = None  # --since
    enacted: Sequence[tuple[Decision, Enacted]] = ()  # decisions git holds
    outcomes: Mapping[str, ApplyOutcome] = field(default_factory=dict)  # by usercode


def build_review(inputs: Inputs) -> Review:
    """The whole review, rows held (see the module docstring)."""
    rows = Rows(inputs)
    tally = Tally(inputs)
    kept = []
    for row in rows:
        tally.add(row)
        kept.append(row)
    return tally.head(rows.server_findings(), rows=tuple(kept))


# --- rows --------------------------------------------------------------------------------------


class Rows:
    """The review's rows: one per live user, in any order (:meth:`rows`: the shell makes them
    a few at a time as their users arrive from the server) or by usercode (iterating
    ``inputs.live``).

    A row needs the roles and categories as the server defines them (``catalog``: read
    before the users when the rows are made during the read; by default ``inputs.live``'s)
    and its user's policy findings, evaluated for a batch of users at once (the rules are
    prepared once per batch); the one rule about the whole server (the administrator count)
    is evaluated over the administrators found on the way (:meth:`server_findings`, once
    every row is made).
    """

    #: Users per batch when iterating.
    BATCH = 512

    def __init__(self, inputs: Inputs, catalog: LiveState | None = None) -> None:
        self.inputs = inputs
        catalog = catalog or inputs.live
        config = inputs.config
        self.declared = {u.usercode: u for u in inputs.desired.users}
        self.defs = live_role_defs(catalog)
        self.ancestors = ancestors_index(catalog.categories)
        per_user = replace(config.policies, administrators=None)
        self.per_user = per_user if per_user else None
        self.count_rule = config.policies.administrators
        self.administrators: list[Subject] = []
        self._memo: dict[tuple[str, ...], tuple[str, ...]] = {}
        #: every distinct grant row made, shared by the rows that hold it (most users share
        #: theirs: the same grant from the same commit, or the same note)
        self._made: dict[_Made, GrantRow] = {}

    def __iter__(self) -> Iterator[Row]:
        users = [user for _, user in sorted(self.inputs.live.users.items())]
        for at in range(0, len(users), self.BATCH):
            yield from self.rows(users[at : at + self.BATCH])

    def rows(self, users: Sequence[LiveUser]) -> list[Row]:
        """The rows of ``users``, in their order."""
        specs = [self.declared.get(u.usercode) for u in users]
        findings = self._findings(users, specs)
        return [
            self._row(u, s, findings.get(u.usercode, ())) for u, s in zip(users, specs, strict=True)
        ]

    def server_findings(self) -> tuple[PolicyFinding, ...]:
        """The administrator count over every enabled administrator the rows had."""
        if self.count_rule is None:
            return ()
        admins = sorted(self.administrators, key=lambda s: s.usercode)
        only = Policies(administrators=self.count_rule)
        return tuple(evaluate(admins, self.defs, only, today=self.inputs.today, view=View.LIVE))

    def _findings(
        self, users: Sequence[LiveUser], specs: Sequence[UserSpec | None]
    ) -> dict[str, tuple[PolicyFinding, ...]]:
        subjects = [
            subject_of_record(
                user.usercode,
                user.record,
                grant=NO_GRANT if spec is None else spec.meta,
                super_admin=user.super_admin,
                source=None if spec is None else spec.source,
            )
            for user, spec in zip(users, specs, strict=True)
        ]
        self.administrators += [s for s in subjects if s.enabled and s.administrator]
        if self.per_user is None:
            return {}
        found: dict[str, list[PolicyFinding]] = {}
        today = self.inputs.today
        for f in evaluate(subjects, self.defs, self.per_user, today=today, view=View.LIVE):
            found.setdefault(f.usercode or "", []).append(f)
        return {code: tuple(fs) for code, fs in found.items()}

    def _row(
        self, user: LiveUser, spec: UserSpec | None, findings: tuple[PolicyFinding, ...]
    ) -> Row:
        inputs = self.inputs
        record = user.record
        held = _held_roles(record.get("roles") or (), self.defs)
        direct_cats = _names(record.get("categories") or ())
        direct_privs = tuple(sorted(record.get("privileges") or ()))
        through = {n: (cats, privs) for n, cats, privs in held if n.casefold() in self.defs}
        categories = _names([*direct_cats, *(c for cats, _ in through.values() for c in cats)])
        privileges = tuple(
            sorted({*direct_privs, *(p for _, privs in through.values() for p in privs)})
        )
        ignored = inputs.config.is_ignored(user.usercode) or (spec is not None and spec.ignore)
        drift = None
        if spec is not None and not ignored:
            drift = drift_of(spec, user, self.ancestors, inputs.secrets, self._memo)
        roles = tuple(name for name, _, _ in held)
        entry = None if spec is None else inputs.history.entries.get(user.usercode)
        trace = _Trace(inputs, spec, entry, ignored, self.ancestors, self._made)
        last, note = trace.last_change()
        return Row(
            usercode=user.usercode,
            name=_name(record.get("forenames"), record.get("surname")),
            type=record.get("type"),
            enabled=record.get("enabled") is not False,
            expires=_date(record.get("expires")),
            super_admin=user.super_admin,
            roles=roles,
            categories=categories,
            privileges=privileges,
            direct_categories=direct_cats,
            direct_privileges=direct_privs,
            through_roles=through,
            secure_variables=_secure_names(record.get("variables") or ()),
            declared=spec is not None,
            ignored=ignored,
            source=None if spec is None else spec.source,
            drift=drift,
            grant=NO_GRANT if spec is None else spec.meta,
            findings=findings,
            grants=tuple(trace.grant(k, n) for k, n in live_grants(record, roles, direct_cats)),
            last_change=last,
            last_change_note=note,
            last_review=trace.last_review(),
        )


#: What makes a grant row: kind, name, via, the commit, the note.
_Made = tuple[str, str, str | None, str | None, str | None]


class _Trace:
    """The provenance of one user's grants: the commit behind each, or why there is none."""

    def __init__(
        self,
        inputs: Inputs,
        spec: UserSpec | None,
        entry: EntryHistory | None,
        ignored: bool,
        ancestors: Mapping[str, tuple[str, ...]],
        made: dict[_Made, GrantRow],
    ) -> None:
        self.made = made
        self.history = inputs.history
        self.spec = spec
        self.entry = entry
        self.why_not = self._why_not(inputs, spec, entry, ignored)
        self.idp = spec is not None and inputs.config.is_login_via_idp(spec.usercode)
        self.lists: dict[str, dict[tuple[str, str], str]] = {}
        self.parents: dict[str, str] = {}  # casefolded ancestor -> declared category
        if spec is not None:
            for key, kind in LIST_KINDS.items():
                self.lists[key] = {grant_key(kind, n): n for n in spec.fields.get(key) or ()}
            for name in spec.fields.get("categories") or ():
                for parent in ancestors.get(name.casefold(), ()):
                    self.parents.setdefault(parent.casefold(), name)

    def _why_not(
        self, inputs: Inputs, spec: UserSpec | None, entry: EntryHistory | None, ignored: bool
    ) -> str | None:
        if ignored:
            return "pisync ignores this user"
        if spec is None:
            return "not declared in the repository"
        if not self.history.available:
            return self.history.note or "no provenance"
        if entry is None:
            return "no commit found for the entry"
        if entry.default is None and not entry.grants:
            return entry.note or "no commit found for the entry"
        return None

    def last_change(self) -> tuple[Provenance | None, str | None]:
        if self.spec is None:
            return None, "not declared in the repository"
        if not self.history.available:
            return None, self.history.note
        if self.entry is None or self.entry.last is None:
            note = None if self.entry is None else self.entry.note
            return None, note or "no commit found for the entry"
        return self.history.commits.get(self.entry.last), None

    def last_review(self) -> Provenance | None:
        if self.entry is None or self.spec is None or self.spec.meta.review_by is None:
            return None
        sha = self.entry.commit_of(REVIEW_BY)
        return None if sha is None else self.history.commits.get(sha)

    def grant(self, kind: str, name: str) -> GrantRow:
        if self.why_not is not None:
            return self._row(kind, name, None, None, self.why_not)
        if kind == "login" and self.idp:
            return self._row(kind, name, None, None, "set by users.login_via_idp")
        key = grant_key(kind, name)
        via = None
        declared = self._declared(kind, name, key)
        if declared == "":  # the parent of a declared category: granted with it
            child = self.parents[key[1]]
            key, via = grant_key(kind, child), f"parent of {child}"
        elif declared is not None:
            return self._row(kind, name, None, None, declared)
        entry = self.entry
        assert entry is not None
        sha = None if key in entry.notes else entry.grants.get(key, entry.default)
        if sha is None or sha not in self.history.commits:
            note = entry.notes.get(key) or entry.note or "no commit found"
            return self._row(kind, name, via, None, note)
        return self._row(kind, name, via, sha, None)

    def _row(
        self, kind: str, name: str, via: str | None, sha: str | None, note: str | None
    ) -> GrantRow:
        """The grant row of these values (one object for every user who holds it)."""
        key = (kind, name, via, sha, note)
        row = self.made.get(key)
        if row is None:
            change = None if sha is None else self.history.commits[sha]
            row = self.made[key] = GrantRow(kind=kind, name=name, via=via, change=change, note=note)
        return row

    def _declared(self, kind: str, name: str, grant: GrantKey) -> str | None:
        """None when the entry declares this grant's current value; else why it does not
        (an empty text: a category that comes as the parent of a declared one)."""
        assert self.spec is not None
        fields = self.spec.fields
        key = KIND_KEYS[kind]
        if kind == "login":
            field_name = f"login.{name}"
            if field_name not in fields:
                return "the entry does not declare login: the server's value"
            return None if fields[field_name] is True else "the server differs from the entry"
        if key not in fields:
            return f"the entry does not declare {key}: the server's value"
        if kind == "type":
            return None if fields["type"] == name else "the server differs from the entry"
        if kind == "enabled":
            return (
                None
                if fields["enabled"] is (name == "true")
                else "the server differs from the entry"
            )
        if grant in self.lists[key]:
            return None
        if kind == "category" and grant[1] in self.parents:
            return ""
        return "the server differs from the entry"


def _name(forenames: object, surname: object) -> str | None:
    return " ".join(str(n) for n in (forenames, surname) if n) or None


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
    memo: dict[tuple[str, ...], tuple[str, ...]] | None = None,
) -> tuple[str, ...]:
    """The declared fields whose live value differs (as the diff compares them). A secret
    whose value is unknown here (its environment variable unset) is compared by presence."""
    fields = resolve_user(spec, ancestors, secrets, memo)
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


# --- the head ------------------------------------------------------------------------------------


class Tally:
    """What the head needs, counted row by row."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.today = inputs.today.isoformat()
        self.users = 0
        self.enabled = 0
        self.grants = 0
        self.by_type: Counter[str] = Counter()
        self.holders: Counter[str] = Counter()
        self.expiring: Counter[int] = Counter()
        self.violations: Counter[str] = Counter()
        self.by_policy: Counter[str] = Counter()
        self.lists: dict[str, list[str]] = {
            k: []
            for k in ("administrators", "unmanaged", "ignored", "drifted", "expired", "overdue")
        }
        self.managed = 0
        self.privileged: list[Privileged] = []
        self.used: set[str] = set()  # the commits the rows name
        self.since = None if inputs.previous is None else SinceTally(inputs.previous)

    def add(self, row: Row) -> None:
        self.users += 1
        self.grants += len(row.grants)
        self.by_type[row.type or "unknown"] += 1
        lists = self.lists
        if row.enabled:
            self.enabled += 1
            for role in row.roles:
                self.holders[role.casefold()] += 1
            if row.administrator:
                lists["administrators"].append(row.usercode)
            if row.expires is not None:
                if row.expires < self.today:
                    lists["expired"].append(row.usercode)
                left = _days_left(row.expires, self.inputs.today)
                for window in EXPIRY_WINDOWS:
                    if left is not None and 0 <= left <= window:
                        self.expiring[window] += 1
        managed = row.managed
        if managed == "unmanaged":
            lists["unmanaged"].append(row.usercode)
        elif managed == "ignored":
            lists["ignored"].append(row.usercode)
        else:
            self.managed += 1
        if row.drift:
            lists["drifted"].append(row.usercode)
        if row.grant.review_by is not None and row.grant.review_by < self.today:
            lists["overdue"].append(row.usercode)
        for f in row.findings:
            self.violations[f.severity] += 1
            self.by_policy[f.policy] += 1
        if row.privileged:
            self.privileged.append(Privileged.of(row))
        used = self.used
        for change in (row.last_change, row.last_review, *(g.change for g in row.grants)):
            if change is not None:
                used.add(change.commit)
        if self.since is not None:
            self.since.add(row.usercode, (g.resource for g in row.grants))

    def head(
        self,
        server_findings: Sequence[PolicyFinding],
        rows: Sequence[Row] = (),
        final: Inputs | None = None,
    ) -> Review:
        """The review's head once every row has been added (and ``rows``, when kept);
        ``final``: the inputs as they are once the read is over (the rows were made during
        it, from inputs without the live users and the manifest's facts)."""
        inputs = final or self.inputs
        live, config = inputs.live, inputs.config
        roles = _role_rows(live, inputs.desired, self.holders)
        declared = {u.usercode for u in inputs.desired.users}
        missing = tuple(sorted(c for c in declared if c not in live.users))
        summary = Summary(
            users=self.users,
            enabled=self.enabled,
            by_type={t: self.by_type[t] for t in sorted(self.by_type, key=_type_order)},
            by_role={r.name: r.holders for r in sorted(roles, key=lambda r: (-r.holders, r.name))},
            administrators=self._sorted("administrators"),
            unmanaged=self._sorted("unmanaged"),
            ignored=self._sorted("ignored"),
            drifted=self._sorted("drifted"),
            declared_missing=missing,
            expired_but_enabled=self._sorted("expired"),
            reviews_overdue=self._sorted("overdue"),
            expiring={w: self.expiring[w] for w in EXPIRY_WINDOWS},
            violations={"error": self.violations["error"], "warning": self.violations["warning"]},
            by_policy={name: self.by_policy[name] for name in POLICY_NAMES if self.by_policy[name]},
            privileged=len(self.privileged),
            grants=self.grants,
        )
        manifest = None
        if inputs.facts is not None:
            counts = Counts(
                server_count=inputs.facts.server_count,
                read=len(live.users),
                unlisted=len(live.unlisted),
                reported=self.users,
                managed=self.managed,
                ignored=len(self.lists["ignored"]),
                unmanaged=len(self.lists["unmanaged"]),
                declared=len(declared),
                declared_on_server=len(declared & live.users.keys()),
                declared_missing=len(missing),
                grants=self.grants,
            )
            manifest = Manifest(
                server=inputs.server,
                read_started=inputs.facts.read_started,
                read_finished=inputs.facts.read_finished,
                origin=inputs.facts.origin,
                filters=Filters(
                    ignore=config.ignore,
                    protected=config.protected,
                    login_via_idp=config.login_via_idp,
                    ignored_users=len(self.lists["ignored"]),
                    unmanaged_users=len(self.lists["unmanaged"]),
                ),
                counts=counts,
                inputs=inputs.facts.inputs,
                checks=checks(counts),
            )
        history = inputs.history
        return Review(
            server=inputs.server,
            date=self.today,
            policies=config.policies.names,
            roles=roles,
            server_findings=tuple(server_findings),
            summary=summary,
            provenance=history.available,
            provenance_note=history.note,
            commits={sha: c for sha, c in history.commits.items() if sha in self.used},
            approvals=inputs.approvals,
            privileged=tuple(sorted(self.privileged, key=lambda p: p.usercode)),
            manifest=manifest,
            since=None if self.since is None else self.since.report(),
            decisions=_statuses(inputs),
            rows=rows,
        )

    def _sorted(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(self.lists[name]))


def _statuses(inputs: Inputs) -> tuple[DecisionStatus, ...]:
    out = []
    for decision, enacted in inputs.enacted:
        pull = (
            None
            if enacted.pull_request is None
            else inputs.approvals.pulls.get(enacted.pull_request)
        )
        out.append(
            status_of(
                decision,
                enacted,
                inputs.live.users.get(decision.principal),
                inputs.outcomes.get(decision.principal),
                merged_by=None if pull is None else pull.merged_by,
            )
        )
    return tuple(out)


def _role_rows(
    live: LiveState, desired: DesiredState, holders: Mapping[str, int]
) -> tuple[RoleRow, ...]:
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


def _days_left(expires: str, today: dt.date) -> int | None:
    try:
        return (dt.date.fromisoformat(expires) - today).days
    except ValueError:
        return None


def _type_order(name: str) -> tuple[int, str]:
    return (USER_TYPES.index(name) if name in USER_TYPES else len(USER_TYPES), name)
