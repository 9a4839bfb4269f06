"""The per-user rules of ``policies:`` (SPEC §3) and the administrator count, over
:class:`~reconciler.core.governance.subjects.Subject` values. Pure, and linear in users.

Every rule looks at one subject at a time (the administrator count is one more pass over the
administrators found on the way), so 100,000 users cost one pass. Disabled users hold no
access (as :mod:`reconciler.core.governance.access` counts it): no rule looks at them.
"Escalating" access is an escalating privilege (:data:`ESCALATING_PRIVILEGES`), directly or
through a role carrying one, or the administrator type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

from reconciler.core.governance.access import (
    RoleDefs,
)
from reconciler.core.governance.subjects import ADMINISTRATOR, Subject, View
from reconciler.core.governance.wording import a_noun, and_list, describe, held_through, quoted
from reconciler.core.model.config import (
    AdministratorsRule,
    EmailRule,
    EscalationRule,
    MaxAccessRule,
    MfaRule,
    Policies,
    ReviewRule,
    SeparationRule,
)
from reconciler.core.model.issues import Issue, error, warning
from reconciler.core.model.privileges import ESCALATING_PRIVILEGES
from reconciler.core.plans.plan import PolicyFinding

T = TypeVar("T")


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
    out, admins = judge(subjects, roles, policies, today, _finding)
    rule = policies.administrators
    if rule is not None:
        codes = [s.usercode for s in admins] if administrators is None else administrators
        out.extend(administrator_count(rule, codes, admins, view))
    return out


#: Makes one violation: (subject, rule name, severity, message) -> a finding or an Issue.
Emit = Callable[[Subject, str, str, str], T]


def judge(
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
        why = [f"is {a_noun(str(s.type))}"] if typed else []
        if held:
            why.append(f"holds {and_list([held_through(p, tuple(held[p])) for p in sorted(held)])}")
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
        held = and_list([quoted(self._role_name(s, keys, n)) for n in names if n in keys])
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
            f" pisync: {and_list(missing)}; record why under the user's pisync: key"
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
            f"{a_noun(kind)}'s access may last at most {days} days: set expires on or before"
            f" {latest}"
        )
        if expires is None:
            message = f"{s.usercode} is {a_noun(kind)} without an expires date; {limit}"
        else:
            away = (expires - self.today).days
            message = (
                f"{s.usercode} is {a_noun(kind)} whose access ends on {s.expires},"
                f" {away} days away; {limit}"
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


def issue_at_entry(s: Subject, rule: str, severity: str, message: str) -> Issue:
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


def administrator_count(
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
