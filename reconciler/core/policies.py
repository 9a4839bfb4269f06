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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

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
from reconciler.core.desired import grant_of
from reconciler.core.issues import Issue, error, warning
from reconciler.core.model import NO_GRANT, Grant, LiveState, SourcePos, UserSpec
from reconciler.core.plan import Change, Kind, PolicyFinding
from reconciler.core.privileges import ESCALATING_PRIVILEGES

ADMINISTRATOR = "administrator"


class View(Enum):
    """Which state the subjects describe (the messages word each differently)."""

    DESIRED = "desired"
    PLAN = "plan"
    LIVE = "live"


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """What the policies read of one user.

    ``gains`` (plan view only) is the escalating access the plan gives the user, as the
    words :func:`escalations` uses; None judges the access the user has.
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
    source: SourcePos | None = None
    key_path: str = ""
    gains: tuple[str, ...] | None = None

    @property
    def administrator(self) -> bool:
        return self.super_admin or self.type == ADMINISTRATOR


def subject_of_record(
    usercode: str,
    record: Mapping[str, Any],
    *,
    grant: Grant = NO_GRANT,
    super_admin: bool = False,
    source: SourcePos | None = None,
    key_path: str = "",
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
        source=source,
        key_path=key_path,
        gains=gains,
    )


def subject_of_entry(entry: Mapping[str, Any], source: SourcePos, key_path: str) -> Subject | None:
    """The desired view of a schema-valid user entry (None for ``pisync: {ignore: true}``).

    What the entry omits is not guaranteed: no ``login.mfa`` is no MFA, no ``expires`` no
    expiry, no ``type`` an unknown type, no ``enabled`` enabled.
    """
    controls = entry.get("pisync") or {}
    if controls.get("ignore") is True:
        return None
    login = entry.get("login") or {}
    return Subject(
        usercode=str(entry["usercode"]).upper(),
        type=entry.get("type"),
        enabled=entry.get("enabled") is not False,
        expires=_date_text(entry.get("expires")),
        mfa=login.get("mfa") is True,
        email=entry.get("email"),
        privileges=frozenset(entry.get("privileges") or ()),
        roles=tuple(entry.get("roles") or ()),
        grant=grant_of(controls),
        source=source,
        key_path=key_path,
    )


def subject_of_spec(spec: UserSpec, key_path: str) -> Subject | None:
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
        source=spec.source,
        key_path=key_path,
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


def _date_text(value: Any) -> str | None:
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
    out: list[PolicyFinding] = []
    admins: list[Subject] = []
    for subject in subjects:
        if not subject.enabled:
            continue
        if subject.administrator:
            admins.append(subject)
        out.extend(_user_findings(subject, roles, policies, today))
    rule = policies.administrators
    if rule is not None:
        codes = [s.usercode for s in admins] if administrators is None else administrators
        out.extend(_administrator_count(rule, codes, admins, view))
    return out


def _user_findings(
    s: Subject, roles: RoleDefs, policies: Policies, today: dt.date | None
) -> Iterator[PolicyFinding]:
    reach = _Reach.of(s, roles)
    if policies.mfa_required_for is not None:
        yield from _mfa(s, reach, policies.mfa_required_for)
    for rule in policies.separation_of_duties:
        yield from _separation(s, reach, rule)
    if policies.escalation_requires is not None:
        yield from _escalation(s, reach, policies.escalation_requires)
    if today is not None and policies.max_access_days is not None:
        yield from _max_access(s, policies.max_access_days, today)
    if today is not None and policies.review_interval_days is not None:
        yield from _review(s, reach, policies.review_interval_days, today)
    if policies.email_domains is not None:
        yield from _email(s, policies.email_domains)


@dataclass(frozen=True, slots=True)
class _Reach:
    """A subject's privileges (each with the roles it comes through; empty: direct) and roles
    (casefolded -> the role's name as defined, or as written when not defined)."""

    privileges: Mapping[str, tuple[str, ...]]
    roles: Mapping[str, str]

    @classmethod
    def of(cls, s: Subject, defs: RoleDefs) -> _Reach:
        privileges: dict[str, tuple[str, ...]] = dict.fromkeys(s.privileges, ())
        roles: dict[str, str] = {}
        for written in s.roles:
            key = written.casefold()
            if key in roles:
                continue
            definition = defs.get(key)
            roles[key] = written if definition is None else definition[0]
            for privilege in definition[2] if definition is not None else ():
                through = privileges.get(privilege)
                if through != ():  # a direct grant stays direct
                    privileges[privilege] = (*(through or ()), roles[key])
        return cls(privileges=privileges, roles=roles)


def escalations(s: Subject, reach: _Reach) -> tuple[str, ...]:
    """Why the subject's access escalates, in words: ``type administrator``,
    ``privilege editUsers`` (held directly), ``role "User Admins" with editUserAccess, editUsers``
    (the escalating privileges that come through the role)."""
    out = [f"type {ADMINISTRATOR}"] if s.administrator else []
    for privilege in sorted(ESCALATING_PRIVILEGES.intersection(reach.privileges)):
        if reach.privileges[privilege] == ():
            out.append(f"privilege {privilege}")
    through: dict[str, list[str]] = {}
    for privilege in sorted(ESCALATING_PRIVILEGES.intersection(reach.privileges)):
        for role in reach.privileges[privilege]:
            through.setdefault(role, []).append(privilege)
    out += [f'role "{role}" with {", ".join(privs)}' for role, privs in sorted(through.items())]
    return tuple(out)


def _finding(s: Subject, rule: str, severity: str, message: str) -> PolicyFinding:
    return PolicyFinding(
        policy=rule,
        severity=severity,
        message=message,
        usercode=s.usercode,
        source=s.source,
        key_path=s.key_path,
    )


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _held(privilege: str, through: tuple[str, ...]) -> str:
    if not through:
        return privilege
    names = _and([f'"{r}"' for r in through])
    return f"{privilege} (through role{'s' if len(through) > 1 else ''} {names})"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _mfa(s: Subject, reach: _Reach, rule: MfaRule) -> Iterator[PolicyFinding]:
    if s.mfa:
        return
    why = []
    if s.type is not None and s.type in rule.types:
        why.append(f"is {_a(s.type)}")
    held = [_held(p, reach.privileges[p]) for p in sorted(rule.privileges) if p in reach.privileges]
    if held:
        why.append(f"holds {_and(held)}")
    if why:
        verb = "requires" if len(why) == 1 and len(held) <= 1 else "require"
        message = f"{s.usercode} {' and '.join(why)}, which {verb} MFA; set login.mfa: true"
        yield _finding(s, "mfa_required_for", rule.severity.value, message)


def _separation(s: Subject, reach: _Reach, rule: SeparationRule) -> Iterator[PolicyFinding]:
    held = [reach.roles[r.casefold()] for r in rule.roles if r.casefold() in reach.roles]
    if len(held) < 2:
        return
    names = _and([f'"{r}"' for r in held])
    message = (
        f"{s.usercode} holds roles {names}, which no single user may hold together"
        f" ({rule.reason}); remove all but one"
    )
    yield _finding(s, "separation_of_duties", rule.severity.value, message)


def _escalation(s: Subject, reach: _Reach, rule: EscalationRule) -> Iterator[PolicyFinding]:
    what = s.gains if s.gains is not None else escalations(s, reach)
    if not what:
        return
    missing = [k for k in rule.keys if s.grant.get(k) is None]
    if not missing:
        return
    verb = "gains" if s.gains is not None else "has"
    message = (
        f"{s.usercode} {verb} escalating access ({'; '.join(what)}) without"
        f" pisync: {_and(missing)}; record why under the user's pisync: key"
    )
    yield _finding(s, "escalation_requires", rule.severity.value, message)


def _max_access(s: Subject, rule: MaxAccessRule, today: dt.date) -> Iterator[PolicyFinding]:
    kind = ADMINISTRATOR if s.super_admin else s.type
    if kind is None or kind not in rule.days:
        return
    days = rule.days[kind]
    latest = (today + dt.timedelta(days=days)).isoformat()
    limit = f"{_a(kind)}'s access may last at most {days} days: set expires on or before {latest}"
    expires = _parse_date(s.expires)
    if expires is None:
        message = f"{s.usercode} is {_a(kind)} without an expires date; {limit}"
    elif (expires - today).days > days:
        away = (expires - today).days
        message = (
            f"{s.usercode} is {_a(kind)} whose access ends on {s.expires}, {away} days away;"
            f" {limit}"
        )
    else:
        return
    yield _finding(s, "max_access_days", rule.severity.value, message)


def _review(s: Subject, reach: _Reach, rule: ReviewRule, today: dt.date) -> Iterator[PolicyFinding]:
    what = escalations(s, reach)
    if not what:
        return
    latest = (today + dt.timedelta(days=rule.days)).isoformat()
    due = _parse_date(s.grant.review_by)
    if due is None:
        message = (
            f"{s.usercode} has escalating access ({'; '.join(what)}) without pisync: review_by;"
            f" set a review date on or before {latest} (every {rule.days} days)"
        )
    elif due < today:
        ago = (today - due).days
        message = (
            f"{s.usercode}'s access review is overdue: review_by {s.grant.review_by} was"
            f" {ago} day{'s' if ago != 1 else ''} ago; review the access and set review_by on"
            f" or before {latest}"
        )
    elif (due - today).days > rule.days:
        message = (
            f"{s.usercode}'s review_by {s.grant.review_by} is {(due - today).days} days away,"
            f" more than the {rule.days}-day review interval; set it on or before {latest}"
        )
    else:
        return
    yield _finding(s, "review_interval_days", rule.severity.value, message)


def _email(s: Subject, rule: EmailRule) -> Iterator[PolicyFinding]:
    if s.email is None or s.grant.reason is not None:
        return
    domain = s.email.rpartition("@")[2]
    if domain.casefold() in rule.allowed:
        return
    allowed = ", ".join(sorted(rule.allowed))
    message = (
        f"{s.usercode}'s email domain {domain or '(none)'} is not allowed (allowed: {allowed});"
        " use an allowed address, or record why under pisync: {reason: …}"
    )
    yield _finding(s, "email_domains", rule.severity.value, message)


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
    severity = rule.severity.value
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
    findings = evaluate(subjects, roles, policies, today=today, view=View.DESIRED)
    return [as_issue(f) for f in findings]


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
            key_path=f"users[{spec.usercode}]",
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
    now = escalations(after, _Reach.of(after, after_defs))
    had: tuple[str, ...] = ()
    if before is not None and before.enabled:
        had = escalations(before, _Reach.of(before, before_defs))
    return replace(after, gains=tuple(w for w in now if w not in had))


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
    return Policies(
        mfa_required_for=policies.mfa_required_for,
        separation_of_duties=policies.separation_of_duties,
        escalation_requires=policies.escalation_requires,
        max_access_days=policies.max_access_days,
        review_interval_days=policies.review_interval_days,
        email_domains=policies.email_domains,
    )


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
