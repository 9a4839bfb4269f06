"""Access policies (SPEC §3 ``policies:``) in their three views: the rules of
:mod:`~reconciler.core.governance.policy_rules` applied to the users of each. Pure, and linear
in users.

Each user is reduced to a :class:`~reconciler.core.governance.subjects.Subject` — the few
fields the rules read — in one of three views:

- **desired** (``pisync validate``, offline, :func:`desired_issues`): what the files declare.
  A key an entry omits counts as not guaranteed (``login.mfa`` omitted is not MFA; ``expires``
  omitted is no expiry), an omitted ``type`` as not known, and a role counts with the
  privileges its declaration gives it (a role only the server defines counts with none: plan
  checks it). Findings are placed at the user's entry;
- **plan** (``pisync plan``, :func:`plan_findings`): each declared user in the plan's scope as
  it will be after the plan (its live values for omitted keys, roles as the server will define
  them); ``escalation_requires`` looks only at what the plan *gains*; the administrator count
  covers the whole server after the plan;
- **live** (``pisync review``, :func:`live_findings`): every user as the server has it today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from reconciler.core.governance.access import (
    RoleDefs,
    live_role_defs,
    record_after,
    role_defs_after,
)
from reconciler.core.governance.policy_rules import (
    administrator_count,
    escalations,
    evaluate,
    issue_at_entry,
    judge,
)
from reconciler.core.governance.subjects import ADMINISTRATOR, Subject, View, subject_of_record
from reconciler.core.model.config import POLICY_NAMES, Policies
from reconciler.core.model.issues import Issue, error, warning
from reconciler.core.model.values import NO_GRANT, Grant, LiveState, SourcePos, UserSpec
from reconciler.core.plans.plan import Change, Kind, PolicyFinding

# --- the three views ----------------------------------------------------------------------


def desired_issues(
    subjects: Iterable[Subject],
    roles: RoleDefs,
    policies: Policies,
    *,
    today: dt.date,
) -> list[Issue]:
    """``pisync validate``: every violation by the declared users, as Issues at their entries."""
    issues, admins = judge(subjects, roles, policies, today, issue_at_entry)
    rule = policies.administrators
    if rule is not None:
        count = administrator_count(rule, [a.usercode for a in admins], admins, View.DESIRED)
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
