"""Access policies (SPEC §3 ``policies:``) evaluated on users. Pure, and linear in users.

Each user is reduced to a :class:`Subject` — the few fields the rules read — in one of three
views, and every rule looks at one subject at a time (the administrator count is one more
pass over the administrators found on the way), so 100,000 users cost one pass:

- **desired** (``pisync validate``, offline): what the files declare. A key an entry omits
  counts as not guaranteed (``login.mfa`` omitted is not MFA; ``expires`` omitted is no
  expiry), an omitted ``type`` as not known, and a role counts with the privileges its
  declaration gives it (a role only the server defines counts with none: plan checks it).
  Findings are placed at the user's entry;
- **plan** (``pisync plan``, :func:`plan_findings`): each declared user in the plan's scope as
  it will be after the plan (its live values for omitted keys, roles as the server will define
  them); ``escalation_requires`` looks only at what the plan *gains*; the administrator count
  covers the whole server after the plan;
- **live** (``pisync review``): every user as the server has it today.

Disabled users hold no access (as :mod:`reconciler.core.access` counts it): no rule looks at
them. "Escalating" access is an escalating privilege (:data:`ESCALATING_PRIVILEGES`), directly
or through a role carrying one, or the administrator type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from enum import Enum
from typing import Any, Generic, NamedTuple, TypeVar

from reconciler.core.access import RoleDefs, live_role_defs, record_after, role_defs_after
from reconciler.core.config import (
    POLICY_NAMES,
    AdministratorsRule,
    EmailRule,
    EscalationRule,
    MaxAccessRule,
    MfaRule,
    Policies,
    ReviewRule,
    SeparationRule,
)
from reconciler.core.issues import Issue, error, warning
from reconciler.core.model import NO_GRANT, Grant, LiveState, SourcePos, UserSpec, grant_of
from reconciler.core.plan import Change, Kind, PolicyFinding
from reconciler.core.privileges import ESCALATING_PRIVILEGES

ADMINISTRATOR = "administrator"
T = TypeVar("T")


class View(Enum):
    """Which state the subjects describe (the messages word each differently)."""

    DESIRED = "desired"
    PLAN = "plan"
    LIVE = "live"


class Subject(NamedTuple):
    """What the policies read of one user.

    A named tuple rather than a frozen dataclass: validate makes one per user (100,000 of
    them, and again from the cache), and a tuple is built several times faster. The entry's
    place is kept as numbers (:attr:`source` makes the SourcePos when a message needs it).
    ``gains`` (plan view only) is the escalating access the plan gives the user, in the words
    of :func:`escalations`; None judges the access the user has.
    """

    usercode: str
    type: str | None = None
    enabled: bool = True
    expires: str | None = None
    mfa: bool = False
    email: str | None = None
    privileges: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()
    grant: Grant = NO_GRANT
    super_admin: bool = False
    file: str | None = None
    line: int = 0
    col: int = 0
    entry: int | None = None  # the entry's index in its file's users: list (validate)
    gains: tuple[str, ...] | None = None

    @property
    def key_path(self) -> str:
        """``users[3]`` (validate), ``users[JSMITH]`` (plan, review), or ``""`` (no entry)."""
        if self.entry is not None:
            return f"users[{self.entry}]"
        return f"users[{self.usercode}]" if self.file is not None else ""

    @property
    def administrator(self) -> bool:
        return self.super_admin or self.type == ADMINISTRATOR

    @property
    def source(self) -> SourcePos | None:
        if self.file is None:
            return None
        return SourcePos(file=self.file, line=self.line, col=self.col)


def subject_of_record(
    usercode: str,
    record: Mapping[str, Any],
    *,
    grant: Grant = NO_GRANT,
    super_admin: bool = False,
    source: SourcePos | None = None,
    gains: tuple[str, ...] | None = None,
) -> Subject:
    """A subject from a canonical record (live, or live with a plan's managed values)."""
    return Subject(
        usercode=usercode,
        type=record.get("type"),
        enabled=record.get("enabled") is not False,
        expires=_date_text(record.get("expires")),
        mfa=record.get("login.mfa") is True,
        email=record.get("email") or None,
        privileges=frozenset(record.get("privileges") or ()),
        roles=tuple(str(r) for r in record.get("roles") or ()),
        grant=grant,
        super_admin=super_admin,
        file=None if source is None else source.file,
        line=0 if source is None else source.line,
        col=0 if source is None else source.col,
        gains=gains,
    )


def subject_of_entry(
    entry: Mapping[str, Any], file: str, line: int, col: int, index: int
) -> Subject | None:
    """The desired view of a schema-valid user entry (None for ``pisync: {ignore: true}``).

    What the entry omits is not guaranteed: no ``login.mfa`` is no MFA, no ``expires`` no
    expiry, no ``type`` an unknown type, no ``enabled`` enabled.
    """
    controls = entry.get("pisync") or {}
    if controls.get("ignore") is True:
        return None
    login = entry.get("login") or {}
    # positional: this runs once per user of a validate (a keyword call costs twice as much)
    return Subject._make(
        (
            str(entry["usercode"]).upper(),
            entry.get("type"),
            entry.get("enabled") is not False,
            _date_text(entry.get("expires")),
            login.get("mfa") is True,
            entry.get("email"),
            frozenset(entry.get("privileges") or ()),
            tuple(entry.get("roles") or ()),
            grant_of(controls),
            False,
            file,
            line,
            col,
            index,
            None,
        )
    )


def subject_of_spec(spec: UserSpec, index: int) -> Subject | None:
    """The desired view of a built user (the same as :func:`subject_of_entry` of its entry)."""
    if spec.ignore:
        return None
    fields = spec.fields
    return Subject(
        usercode=spec.usercode,
        type=fields.get("type"),
        enabled=fields.get("enabled") is not False,
        expires=_date_text(fields.get("expires")),
        mfa=fields.get("login.mfa") is True,
        email=fields.get("email"),
        privileges=frozenset(fields.get("privileges") or ()),
        roles=tuple(fields.get("roles") or ()),
        grant=spec.meta,
        file=None if spec.source is None else spec.source.file,
        line=0 if spec.source is None else spec.source.line,
        col=0 if spec.source is None else spec.source.col,
        entry=index,
    )


def role_def_of_entry(entry: Mapping[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A schema-valid role entry as a role definition: (name, categories, privileges)."""
    return (
        str(entry["name"]),
        tuple(entry.get("categories") or ()),
        tuple(entry.get("privileges") or ()),
    )


def role_defs(definitions: Iterable[tuple[str, tuple[str, ...], tuple[str, ...]]]) -> RoleDefs:
    """Role definitions by casefolded name (the first declaration of a name wins)."""
    out: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    for definition in definitions:
        out.setdefault(definition[0].casefold(), definition)
    return out


def _date_text(value: object) -> str | None:
    return str(value)[:10] if value else None


# --- the rules --------------------------------------------------------------------------------


def evaluate(
    subjects: Iterable[Subject],
    roles: RoleDefs,
    policies: Policies,
    *,
    today: dt.date | None,
    view: View,
    administrators: Sequence[str] | None = None,
) -> list[PolicyFinding]:
    """Every violation of ``policies`` by ``subjects`` (in their order), then the
    administrator count: over ``administrators`` (the usercodes of every enabled
    administrator) when given, else over the subjects. Rules about dates need ``today``."""
    out, admins = _judge(subjects, roles, policies, today, _finding)
    rule = policies.administrators
    if rule is not None:
        codes = [s.usercode for s in admins] if administrators is None else administrators
        out.extend(_administrator_count(rule, codes, admins, view))
    return out


#: Makes one violation: (subject, rule name, severity, message) -> a finding or an Issue.
Emit = Callable[[Subject, str, str, str], T]


def _judge(
    subjects: Iterable[Subject],
    roles: RoleDefs,
    policies: Policies,
    today: dt.date | None,
    emit: Emit[T],
) -> tuple[list[T], list[Subject]]:
    """The per-user rules' violations (each made by ``emit``), and the enabled administrators."""
    rules = _Rules(policies, roles, today, emit)
    out: list[T] = []
    admins: list[Subject] = []
    for subject in subjects:
        if not subject.enabled:
            continue
        if subject.administrator:
            admins.append(subject)
        rules.check(subject, out)
    return out, admins


class _Rules(Generic[T]):
    """The configured per-user rules, prepared once: what each role brings is looked up per
    role, so a user costs a few set operations unless it breaks a rule (only then are words
    made)."""

    def __init__(
        self, policies: Policies, roles: RoleDefs, today: dt.date | None, emit: Emit[T]
    ) -> None:
        self.emit = emit
        self.roles = roles
        self.today = today
        #: days -> the ISO date that many days after today (the same few, for every user)
        self.latest: dict[int, str] = {}
        self.mfa = policies.mfa_required_for
        self.separation = [
            (rule, tuple(r.casefold() for r in rule.roles))
            for rule in policies.separation_of_duties
        ]
        self.escalation = policies.escalation_requires
        self.max_access = policies.max_access_days if today is not None else None
        self.review = policies.review_interval_days if today is not None else None
        self.email = policies.email_domains
        self.allowed = ", ".join(sorted(self.email.allowed)) if self.email is not None else ""
        #: role key -> its escalating privileges (sorted), for the roles that carry any
        self.escalating = {
            key: tuple(sorted(found))
            for key, d in roles.items()
            if (found := ESCALATING_PRIVILEGES.intersection(d[2]))
        }
        watched = self.mfa.privileges if self.mfa is not None else frozenset()
        #: role key -> the privileges mfa_required_for names that it carries
        self.mfa_roles = {
            key: watched.intersection(d[2])
            for key, d in roles.items()
            if watched.intersection(d[2])
        }

    def check(self, s: Subject, out: list[T]) -> None:
        """Append ``s``'s violations to ``out``. Each rule first asks the cheapest question
        that clears most users (a set operation, a look-up), and words nothing unless broken."""
        roles = s.roles
        # the roles' keys only when a rule reads them (most configurations, most users: never)
        wanted = self.mfa_roles or self.escalating or (self.separation and len(roles) >= 2)
        keys = [r.casefold() for r in roles] if wanted and roles else []
        mfa = self.mfa
        if (
            mfa is not None
            and not s.mfa
            and (
                s.type in mfa.types
                or not mfa.privileges.isdisjoint(s.privileges)
                or (self.mfa_roles and any(k in self.mfa_roles for k in keys))
            )
        ):
            self._mfa(s, keys, mfa, out)
        if len(keys) >= 2:
            for rule, names in self.separation:
                if sum(n in keys for n in names) >= 2:
                    self._separation(s, keys, rule, names, out)
        if self.escalation is not None or self.review is not None:
            escalating = (
                s.super_admin
                or s.type == ADMINISTRATOR
                or not ESCALATING_PRIVILEGES.isdisjoint(s.privileges)
                or (self.escalating and any(k in self.escalating for k in keys))
            )
            has = self.escalations(s, keys) if escalating else ()
            if self.escalation is not None:
                gained = has if s.gains is None else s.gains
                if gained:
                    self._escalation(s, gained, self.escalation, out)
            if self.review is not None and has:
                self._review(s, has, self.review, out)
        if self.max_access is not None and (s.super_admin or s.type in self.max_access.days):
            self._max_access(s, self.max_access, out)
        email = self.email
        if (
            email is not None
            and s.email is not None
            and s.email.rpartition("@")[2].casefold() not in email.allowed
            and s.grant.reason is None
        ):
            self._email(s, email, out)

    def _latest(self, days: int) -> str:
        if days not in self.latest:
            assert self.today is not None
            self.latest[days] = (self.today + dt.timedelta(days=days)).isoformat()
        return self.latest[days]

    def escalations(self, s: Subject, keys: Sequence[str]) -> tuple[str, ...]:
        """See :func:`escalations`."""
        direct = ESCALATING_PRIVILEGES.intersection(s.privileges)
        through = [k for k in dict.fromkeys(keys) if k in self.escalating]
        if not (s.administrator or direct or through):
            return ()
        out = [f"type {ADMINISTRATOR}"] if s.administrator else []
        out += [f"privilege {p}" for p in sorted(direct)]
        indirect = [
            (self.roles[k][0], [p for p in self.escalating[k] if p not in direct]) for k in through
        ]
        out += [f'role "{name}" with {", ".join(ps)}' for name, ps in sorted(indirect) if ps]
        return tuple(out)

    def _mfa(self, s: Subject, keys: Sequence[str], rule: MfaRule, out: list[T]) -> None:
        held: dict[str, list[str]] = {p: [] for p in rule.privileges.intersection(s.privileges)}
        for key in dict.fromkeys(keys):
            for privilege in self.mfa_roles.get(key, ()):
                through = held.setdefault(privilege, [self.roles[key][0]])
                if through and self.roles[key][0] not in through:
                    through.append(self.roles[key][0])
        typed = s.type is not None and s.type in rule.types
        if not (typed or held):
            return
        why = [f"is {_a(str(s.type))}"] if typed else []
        if held:
            why.append(f"holds {_and([_held(p, tuple(held[p])) for p in sorted(held)])}")
        verb = "requires" if len(why) == 1 and len(held) <= 1 else "require"
        message = f"{s.usercode} {' and '.join(why)}, which {verb} MFA; set login.mfa: true"
        out.append(self.emit(s, "mfa_required_for", rule.severity, message))

    def _separation(
        self,
        s: Subject,
        keys: Sequence[str],
        rule: SeparationRule,
        names: Sequence[str],
        out: list[T],
    ) -> None:
        held = _and([_quoted(self._role_name(s, keys, n)) for n in names if n in keys])
        message = (
            f"{s.usercode} holds roles {held}, which no single user may hold together"
            f" ({rule.reason}); remove all but one"
        )
        out.append(self.emit(s, "separation_of_duties", rule.severity, message))

    def _role_name(self, s: Subject, keys: Sequence[str], key: str) -> str:
        """A role's name as defined, else as the user wrote it."""
        if key in self.roles:
            return self.roles[key][0]
        return s.roles[list(keys).index(key)]

    def _escalation(
        self, s: Subject, what: tuple[str, ...], rule: EscalationRule, out: list[T]
    ) -> None:
        missing = [k for k in rule.keys if s.grant.get(k) is None]
        if not missing:
            return
        verb = "gains" if s.gains is not None else "has"
        message = (
            f"{s.usercode} {verb} escalating access ({describe(what)}) without"
            f" pisync: {_and(missing)}; record why under the user's pisync: key"
        )
        out.append(self.emit(s, "escalation_requires", rule.severity, message))

    def _max_access(self, s: Subject, rule: MaxAccessRule, out: list[T]) -> None:
        kind = ADMINISTRATOR if s.super_admin else s.type
        if kind is None or kind not in rule.days or self.today is None:
            return
        days = rule.days[kind]
        expires = _parse_date(s.expires)
        if expires is not None and (expires - self.today).days <= days:
            return
        latest = self._latest(days)
        limit = (
            f"{_a(kind)}'s access may last at most {days} days: set expires on or before {latest}"
        )
        if expires is None:
            message = f"{s.usercode} is {_a(kind)} without an expires date; {limit}"
        else:
            away = (expires - self.today).days
            message = (
                f"{s.usercode} is {_a(kind)} whose access ends on {s.expires}, {away} days away;"
                f" {limit}"
            )
        out.append(self.emit(s, "max_access_days", rule.severity, message))

    def _review(self, s: Subject, what: tuple[str, ...], rule: ReviewRule, out: list[T]) -> None:
        today = self.today
        if today is None:
            return
        due = _parse_date(s.grant.review_by)
        if due is not None and today <= due and (due - today).days <= rule.days:
            return
        latest = self._latest(rule.days)
        if due is None:
            message = (
                f"{s.usercode} has escalating access ({describe(what)}) without pisync:"
                f" review_by; set a review date on or before {latest} (every {rule.days} days)"
            )
        elif due < today:
            ago = (today - due).days
            message = (
                f"{s.usercode}'s access review is overdue: review_by {s.grant.review_by} was"
                f" {ago} day{'s' if ago != 1 else ''} ago; review the access and set review_by"
                f" on or before {latest}"
            )
        else:
            message = (
                f"{s.usercode}'s review_by {s.grant.review_by} is {(due - today).days} days"
                f" away, more than the {rule.days}-day review interval; set it on or before"
                f" {latest}"
            )
        out.append(self.emit(s, "review_interval_days", rule.severity, message))

    def _email(self, s: Subject, rule: EmailRule, out: list[T]) -> None:
        domain = (s.email or "").rpartition("@")[2]
        message = (
            f"{s.usercode}'s email domain {domain or '(none)'} is not allowed (allowed:"
            f" {self.allowed}); use an allowed address, or record why under pisync: {{reason: …}}"
        )
        out.append(self.emit(s, "email_domains", rule.severity, message))


def escalations(s: Subject, roles: RoleDefs) -> tuple[str, ...]:
    """Why the subject's access escalates, in words: ``type administrator``,
    ``privilege editUsers`` (held directly), ``role "User Admins" with editUserAccess,
    editUsers`` (the escalating privileges that come only through the role)."""
    rules = _Rules(Policies(), roles, None, _finding)
    return rules.escalations(s, [r.casefold() for r in s.roles])


def _issue(s: Subject, rule: str, severity: str, message: str) -> Issue:
    """A violation as validate's Issue, made directly (validate may make many)."""
    text = f"policy {rule}: {message}"
    if severity == "error":
        return error(s.source, text, s.key_path)
    return warning(s.source, text, s.key_path)


def _finding(s: Subject, rule: str, severity: str, message: str) -> PolicyFinding:
    return PolicyFinding(
        policy=rule,
        severity=str(severity),
        message=message,
        usercode=s.usercode,
        source=s.source,
        key_path=s.key_path,
    )


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


#: At most this many privileges are named in a message (the rest are counted).
_NAMED = 4


def describe(words: Sequence[str]) -> str:
    """Escalating access in words for a message: the type, the privileges held directly (the
    first few, the rest counted), the roles: ``type administrator; privileges editRoles,
    editUsers; role "Payroll" with editUsers``."""
    privileges = [w.removeprefix("privilege ") for w in words if w.startswith("privilege ")]
    out = [w for w in words if w.startswith("type ")]
    if privileges:
        named = ", ".join(privileges[:_NAMED])
        if len(privileges) > _NAMED:
            named += f" and {len(privileges) - _NAMED} more"
        out.append(f"privilege{'s' if len(privileges) > 1 else ''} {named}")
    out += [w for w in words if w.startswith("role ")]
    return "; ".join(out)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _held(privilege: str, through: tuple[str, ...]) -> str:
    if not through:
        return privilege
    names = _and([_quoted(r) for r in through])
    return f"{privilege} (through role{'s' if len(through) > 1 else ''} {names})"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _administrator_count(
    rule: AdministratorsRule, codes: Sequence[str], admins: Sequence[Subject], view: View
) -> Iterator[PolicyFinding]:
    n = len(codes)
    shown = ", ".join(sorted(codes)[:10]) + (f" and {n - 10} more" if n > 10 else "")
    counted = f"{n} enabled administrator{'s' if n != 1 else ''}" + (f" ({shown})" if n else "")
    where = {
        View.DESIRED: f"{counted} {'is' if n == 1 else 'are'} declared",
        View.PLAN: f"after this plan {counted} would remain",
        View.LIVE: f"the server has {counted}",
    }[view]
    severity = str(rule.severity)
    if rule.max is not None and n > rule.max:
        at = admins[rule.max] if view is View.DESIRED and len(admins) > rule.max else None
        message = f"{where}, more than the maximum of {rule.max}; disable or demote some"
        yield PolicyFinding(
            policy="administrators",
            severity=severity,
            message=message,
            source=None if at is None else at.source,
            key_path="" if at is None else at.key_path,
        )
    # offline, administrators no file declares are unknown: only plan and review count them
    if rule.min is not None and n < rule.min and view is not View.DESIRED:
        message = f"{where}, fewer than the minimum of {rule.min}; declare another"
        yield PolicyFinding(policy="administrators", severity=severity, message=message)


def _parse_date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


# --- the three views ----------------------------------------------------------------------


def desired_issues(
    subjects: Iterable[Subject],
    roles: RoleDefs,
    policies: Policies,
    *,
    today: dt.date,
) -> list[Issue]:
    """``pisync validate``: every violation by the declared users, as Issues at their entries."""
    issues, admins = _judge(subjects, roles, policies, today, _issue)
    rule = policies.administrators
    if rule is not None:
        count = _administrator_count(rule, [a.usercode for a in admins], admins, View.DESIRED)
        issues += [as_issue(f) for f in count]
    return issues


def as_issue(finding: PolicyFinding) -> Issue:
    """A finding as the Issue every report prints (``policy NAME: …`` at the user's entry)."""
    if finding.severity == "error":
        return error(finding.source, finding.text, finding.key_path)
    return warning(finding.source, finding.text, finding.key_path)


def plan_findings(
    users: Sequence[UserSpec],
    changes: Sequence[Change],
    live: LiveState,
    policies: Policies,
    *,
    today: dt.date | None,
) -> tuple[PolicyFinding, ...]:
    """``pisync plan``: the violations after the plan by ``users`` (the declared users in the
    plan's scope), and the administrator count over the whole server after the plan (when the
    live state has every administrator)."""
    if not policies:
        return ()
    before_defs = live_role_defs(live)
    after_defs = role_defs_after(before_defs, changes)
    user_changes = {c.key: c for c in changes if c.kind is Kind.USER}
    subjects = []
    for spec in users:
        after = record_after(spec.usercode, user_changes.get(spec.usercode), live)
        if after is None:
            continue  # disabled or deleted by the plan: no access to judge
        current = live.users.get(spec.usercode)
        subject = subject_of_record(
            spec.usercode,
            after,
            grant=spec.meta,
            super_admin=current is not None and current.super_admin,
            source=spec.source,
        )
        before = (
            None
            if current is None
            else subject_of_record(spec.usercode, current.record, super_admin=current.super_admin)
        )
        subjects.append(_with_gains(subject, before, before_defs, after_defs))
    counted = live.complete or live.all_administrators
    administrators = _administrators_after(live, user_changes) if counted else None
    if administrators is None and policies.administrators is not None:
        policies = _without_count(policies)
    findings = evaluate(
        subjects,
        after_defs,
        policies,
        today=today,
        view=View.PLAN,
        administrators=administrators,
    )
    return tuple(sorted(findings, key=finding_order))


def finding_order(finding: PolicyFinding) -> tuple[bool, str, int]:
    """Users' findings by usercode, then the server-wide ones; each user's in rule order."""
    return (finding.usercode is None, finding.usercode or "", POLICY_NAMES.index(finding.policy))


def _with_gains(
    after: Subject, before: Subject | None, before_defs: RoleDefs, after_defs: RoleDefs
) -> Subject:
    now = escalations(after, after_defs)
    had: tuple[str, ...] = ()
    if before is not None and before.enabled:
        had = escalations(before, before_defs)
    return after._replace(gains=tuple(w for w in now if w not in had))


def _administrators_after(live: LiveState, changes: Mapping[str, Change]) -> list[str]:
    """Usercodes of the enabled administrators after the plan (the super admin included)."""
    out = []
    for code in live.users.keys() | changes.keys():
        record = record_after(code, changes.get(code), live)
        if record is None or record.get("enabled") is False:
            continue
        user = live.users.get(code)
        if record.get("type") == ADMINISTRATOR or (user is not None and user.super_admin):
            out.append(code)
    return out


def _without_count(policies: Policies) -> Policies:
    """The policies without the administrator count (a partial read cannot count)."""
    return replace(policies, administrators=None)


def live_findings(
    live: LiveState,
    grants: Mapping[str, Grant],
    sources: Mapping[str, SourcePos],
    policies: Policies,
    *,
    today: dt.date,
) -> dict[str | None, list[PolicyFinding]]:
    """``pisync review``: every live user's violations, by usercode (None: the server's)."""
    subjects = [
        subject_of_record(
            code,
            user.record,
            grant=grants.get(code, NO_GRANT),
            super_admin=user.super_admin,
            source=sources.get(code),
        )
        for code, user in sorted(live.users.items())
    ]
    out: dict[str | None, list[PolicyFinding]] = {}
    for finding in evaluate(subjects, live_role_defs(live), policies, today=today, view=View.LIVE):
        out.setdefault(finding.usercode, []).append(finding)
    return out
