"""policies: every rule kind passing, warning and failing, with exact messages and places, in
the three views (desired for validate, after the plan for plan, live for review)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from reconciler.core.desired.analysis import analyse
from reconciler.core.desired.build import config_from_document
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.desired.validate import validate_config
from reconciler.core.diff.changes import diff
from reconciler.core.governance.policies import desired_issues, live_findings
from reconciler.core.governance.policy_rules import evaluate
from reconciler.core.governance.subjects import Subject, View, role_defs, subject_of_entry
from reconciler.core.governance.wording import describe
from reconciler.core.model.config import POLICY_NAMES, Config
from reconciler.core.model.values import (
    NO_GRANT,
    DesiredState,
    Grant,
    LiveRole,
    LiveState,
    LiveUser,
    SourcePos,
    UserSpec,
)
from reconciler.core.plans.plan import PolicyFinding
from reconciler.core.yamlfile.read import parse_yaml
from reconciler.schemas import load_schema
from tests.core.builders import rec

TODAY = dt.date(2026, 1, 10)
CHECKER = SchemaChecker(load_schema("pisync-file"))
FILE = "users/a.yaml"


def config(policies: str) -> Config:
    parsed = parse_yaml(f"policies:\n{policies}".encode(), "pisync.yaml")
    assert validate_config(parsed, config_schema=load_schema("pisync-config")) == []
    return config_from_document(parsed)


ROLES = """\
roles:
  - {name: Payments Creator, privileges: [pdf]}
  - {name: Payments Approver}
  - {name: User Admins, privileges: [editUsers, editUserAccess]}
"""


def validate(policies: str, users: str, *, roles: str = ROLES) -> list[tuple[Any, ...]]:
    """(line, col, severity, message) of every policy issue of ``users`` (a file's text)."""
    results = [
        analyse(parse_yaml(text.encode(), name), CHECKER, build=False, subjects=True)
        for name, text in (("users/roles.yaml", roles), (FILE, users))
    ]
    assert all(r.ok for r in results), [r.issues for r in results]
    subjects = [s for r in results for s in r.subjects or ()]
    defs = role_defs(d for r in results for d in r.role_defs)
    issues = desired_issues(subjects, defs, config(policies).policies, today=TODAY)
    return [
        (i.pos.line if i.pos else None, i.pos.col if i.pos else None, i.severity, i.message)
        for i in issues
    ]


def users(*entries: str) -> str:
    return "users:\n" + "".join(entries)


# --- mfa_required_for -------------------------------------------------------------------------

MFA = "  mfa_required_for: {types: [administrator], privileges: [editUsers]}\n"


def test_mfa_passes_when_written_true_and_for_users_it_does_not_cover() -> None:
    assert (
        validate(
            MFA,
            users(
                "  - {usercode: a, type: administrator, login: {mfa: true}}\n",
                "  - {usercode: b, type: designer, privileges: [pdf]}\n",
                "  - {usercode: c, roles: [User Admins], login: {mfa: true}}\n",
                "  - {usercode: d, type: administrator, enabled: false}\n",
                "  - {usercode: e, type: administrator, pisync: {ignore: true}}\n",
            ),
        )
        == []
    )


def test_mfa_fails_for_a_type_a_privilege_and_a_role_at_the_users_entry() -> None:
    assert validate(
        MFA,
        users(
            "  - usercode: root\n    type: administrator\n",
            "  - {usercode: helper, privileges: [editUsers], login: {mfa: false}}\n",
            "  - {usercode: admins, roles: [user admins]}\n",
            "  - {usercode: both, type: administrator, privileges: [editUsers]}\n",
        ),
    ) == [
        (
            2,
            5,
            "error",
            "policy mfa_required_for: ROOT is an administrator, which requires MFA;"
            " set login.mfa: true",
        ),
        (
            4,
            5,
            "error",
            "policy mfa_required_for: HELPER holds editUsers, which requires MFA;"
            " set login.mfa: true",
        ),
        (
            5,
            5,
            "error",
            'policy mfa_required_for: ADMINS holds editUsers (through role "User Admins"),'
            " which requires MFA; set login.mfa: true",
        ),
        (
            6,
            5,
            "error",
            "policy mfa_required_for: BOTH is an administrator and holds editUsers, which"
            " require MFA; set login.mfa: true",
        ),
    ]


def test_mfa_as_a_warning() -> None:
    found = validate(
        "  mfa_required_for: {types: [designer], severity: warning}\n",
        users("  - {usercode: d, type: designer}\n"),
    )
    assert found == [
        (
            2,
            5,
            "warning",
            "policy mfa_required_for: D is a designer, which requires MFA; set login.mfa: true",
        )
    ]


# --- administrators ---------------------------------------------------------------------------

ADMINS = "  administrators: {min: 2, max: 2}\n"


def test_administrators_max_counts_declared_enabled_administrators() -> None:
    admins = users(
        "  - {usercode: a1, type: administrator}\n",
        "  - {usercode: a2, type: administrator}\n",
        "  - {usercode: off, type: administrator, enabled: false}\n",
        "  - {usercode: a3, type: administrator}\n",
    )
    assert validate(ADMINS, admins) == [
        (
            5,
            5,
            "error",
            "policy administrators: 3 enabled administrators (A1, A2, A3) are declared, more"
            " than the maximum of 2; disable or demote some",
        )
    ]


def test_administrators_within_bounds_and_min_is_not_judged_offline() -> None:
    one = users("  - {usercode: a1, type: administrator}\n")
    assert validate(ADMINS, one) == []  # the server's other administrators are unknown here
    warned = validate(
        "  administrators: {max: 0, severity: warning}\n", one
    )  # the super admin is not declared, so it is not counted offline
    assert warned == [
        (
            2,
            5,
            "warning",
            "policy administrators: 1 enabled administrator (A1) is declared, more than the"
            " maximum of 0; disable or demote some",
        )
    ]


# --- separation_of_duties ---------------------------------------------------------------------

SOD = (
    "  separation_of_duties:\n"
    "    - {roles: [Payments Creator, Payments Approver], reason: four-eyes on payments}\n"
    "    - {roles: [A, B, C], reason: one of three, severity: warning}\n"
)


def test_separation_of_duties() -> None:
    found = validate(
        SOD,
        users(
            "  - {usercode: ok, roles: [Payments Creator, A]}\n",
            "  - {usercode: both, roles: [payments approver, Payments Creator]}\n",
            "  - {usercode: three, roles: [C, A, B]}\n",
        ),
    )
    assert found == [
        (
            3,
            5,
            "error",
            'policy separation_of_duties: BOTH holds roles "Payments Creator" and "Payments'
            ' Approver", which no single user may hold together (four-eyes on payments);'
            " remove all but one",
        ),
        (
            4,
            5,
            "warning",
            'policy separation_of_duties: THREE holds roles "A", "B" and "C", which no single'
            " user may hold together (one of three); remove all but one",
        ),
    ]


# --- escalation_requires ----------------------------------------------------------------------

ESCALATION = "  escalation_requires: {keys: [ticket, reason]}\n"


def test_escalation_requires_the_keys_of_every_entry_declaring_escalating_access() -> None:
    found = validate(
        ESCALATION,
        users(
            "  - {usercode: plain, privileges: [pdf]}\n",
            "  - {usercode: ok, type: administrator, pisync: {ticket: SEC-1, reason: on call}}\n",
            "  - {usercode: direct, privileges: [editSql, pdf], pisync: {ticket: SEC-2}}\n",
            "  - {usercode: viarole, roles: [User Admins]}\n",
            "  - {usercode: root, type: administrator, privileges: [editRoles]}\n",
        ),
    )
    assert found == [
        (
            4,
            5,
            "error",
            "policy escalation_requires: DIRECT has escalating access (privilege editSql)"
            " without pisync: reason; record why under the user's pisync: key",
        ),
        (
            5,
            5,
            "error",
            'policy escalation_requires: VIAROLE has escalating access (role "User Admins" with'
            " editUserAccess, editUsers) without pisync: ticket and reason; record why under"
            " the user's pisync: key",
        ),
        (
            6,
            5,
            "error",
            "policy escalation_requires: ROOT has escalating access (type administrator;"
            " privilege editRoles) without pisync: ticket and reason; record why under the"
            " user's pisync: key",
        ),
    ]


# --- max_access_days ----------------------------------------------------------------------------

MAX_DAYS = "  max_access_days: {administrator: 90, designer: 365, severity: warning}\n"


def test_max_access_days() -> None:
    found = validate(
        MAX_DAYS,
        users(
            "  - {usercode: soon, type: administrator, expires: 2026-04-10}\n",  # day 90: ok
            "  - {usercode: far, type: administrator, expires: 2026-04-11}\n",
            "  - {usercode: never, type: administrator}\n",
            "  - {usercode: nulled, type: designer, expires: null}\n",
            "  - {usercode: lapsed, type: designer, expires: 2025-01-01}\n",  # already ended
            "  - {usercode: other, type: user}\n",
            "  - {usercode: untyped}\n",
        ),
    )
    assert found == [
        (
            3,
            5,
            "warning",
            "policy max_access_days: FAR is an administrator whose access ends on 2026-04-11,"
            " 91 days away; an administrator's access may last at most 90 days: set expires on"
            " or before 2026-04-10",
        ),
        (
            4,
            5,
            "warning",
            "policy max_access_days: NEVER is an administrator without an expires date; an"
            " administrator's access may last at most 90 days: set expires on or before"
            " 2026-04-10",
        ),
        (
            5,
            5,
            "warning",
            "policy max_access_days: NULLED is a designer without an expires date; a designer's"
            " access may last at most 365 days: set expires on or before 2027-01-10",
        ),
    ]


# --- review_interval_days -----------------------------------------------------------------------

REVIEW = "  review_interval_days: {days: 180, severity: warning}\n"


def test_review_interval_days() -> None:
    found = validate(
        REVIEW,
        users(
            "  - {usercode: plain}\n",  # no escalating access: no review needed
            "  - {usercode: fine, type: administrator, pisync: {review_by: 2026-07-09}}\n",
            "  - {usercode: missing, privileges: [orgAdmin]}\n",
            "  - {usercode: overdue, roles: [User Admins], pisync: {review_by: 2026-01-09}}\n",
            "  - {usercode: toofar, type: administrator, pisync: {review_by: 2026-07-10}}\n",
            "  - {usercode: today, type: administrator, pisync: {review_by: 2026-01-10}}\n",
        ),
    )
    assert found == [
        (
            4,
            5,
            "warning",
            "policy review_interval_days: MISSING has escalating access (privilege orgAdmin)"
            " without pisync: review_by; set a review date on or before 2026-07-09 (every 180"
            " days)",
        ),
        (
            5,
            5,
            "warning",
            "policy review_interval_days: OVERDUE's access review is overdue: review_by"
            " 2026-01-09 was 1 day ago; review the access and set review_by on or before"
            " 2026-07-09",
        ),
        (
            6,
            5,
            "warning",
            "policy review_interval_days: TOOFAR's review_by 2026-07-10 is 181 days away, more"
            " than the 180-day review interval; set it on or before 2026-07-09",
        ),
    ]


def test_an_overdue_review_is_an_error_when_the_rule_says_so() -> None:
    found = validate(
        "  review_interval_days: {days: 30}\n",
        users("  - {usercode: late, type: administrator, pisync: {review_by: 2025-12-01}}\n"),
    )
    assert [(f[2], f[3].split(":")[1]) for f in found] == [
        ("error", " LATE's access review is overdue")
    ]


# --- email_domains ------------------------------------------------------------------------------

EMAIL = "  email_domains: {allowed: [example.com, Partner.org]}\n"


def test_email_domains() -> None:
    found = validate(
        EMAIL,
        users(
            "  - {usercode: a, email: a@EXAMPLE.com}\n",
            "  - {usercode: b, email: b@partner.org}\n",
            "  - {usercode: c, email: c@sub.example.com}\n",
            "  - {usercode: d, email: d@gmail.com, pisync: {reason: external auditor}}\n",
            "  - {usercode: e}\n",
        ),
    )
    assert found == [
        (
            4,
            5,
            "error",
            "policy email_domains: C's email domain sub.example.com is not allowed (allowed:"
            " example.com, partner.org); use an allowed address, or record why under pisync:"
            " {reason: …}",
        )
    ]


# --- every rule at once, and nothing without rules ---------------------------------------------


def test_no_policies_no_findings_and_disabled_users_are_never_judged() -> None:
    everything = MFA + ADMINS + SOD + ESCALATION + MAX_DAYS + REVIEW + EMAIL
    off = users(
        "  - {usercode: x, enabled: false, type: administrator, email: x@gmail.com,"
        " roles: [Payments Creator, Payments Approver]}\n"
    )
    assert validate(everything, off) == []
    subjects = [Subject(usercode="X", type="administrator", email="x@gmail.com")]
    assert evaluate(subjects, {}, Config().policies, today=TODAY, view=View.DESIRED) == []


def test_a_subject_is_what_the_entry_writes() -> None:
    entry = parse_yaml(
        b"usercode: ann\ntype: designer\nlogin: {mfa: true}\nexpires: 2026-02-01\n"
        b"email: a@example.com\nprivileges: [pdf]\nroles: [R]\n"
        b"pisync: {reason: r, ticket: T-1}\n",
        FILE,
    ).data
    assert entry is not None
    assert subject_of_entry(entry, FILE, 1, 1, 0) == Subject(
        usercode="ANN",
        type="designer",
        mfa=True,
        expires="2026-02-01",
        email="a@example.com",
        privileges=("pdf",),
        roles=("R",),
        grant=Grant(reason="r", ticket="T-1"),
        file=FILE,
        line=1,
        col=1,
        entry=0,
    )


# --- the plan view: the state after the plan ----------------------------------------------------

URL = "https://pi.example.com:8224/pi/api/v2"
AT = SourcePos(file="users/people.yaml", line=3, col=5)
SUPER_ADMIN = LiveUser(usercode="ADMIN", id="1", record=rec(type="administrator"), super_admin=True)


def live(*users: LiveUser, roles: tuple[LiveRole, ...] = ()) -> LiveState:
    return LiveState(
        users={u.usercode: u for u in (SUPER_ADMIN, *users)},
        roles={r.name.casefold(): r for r in roles},
        categories={},
    )


def luser(code: str, extra: dict[str, Any] | None = None, **fields: Any) -> LiveUser:
    return LiveUser(usercode=code, id=f"id-{code}", record=rec(extra, **fields))


def spec(code: str, grant: Grant = NO_GRANT, **fields: Any) -> UserSpec:
    return UserSpec(usercode=code, fields=fields, source=AT, meta=grant)


def plan_view(policies: str, desired: DesiredState, state: LiveState) -> list[PolicyFinding]:
    plan = diff(desired, state, config(policies), server=URL, today=TODAY)
    assert plan.policies == tuple(config(policies).policies.names)
    return list(plan.findings)


ADMIN_ROLE = LiveRole(name="Admins", id="r1", fields={"privileges": ("editUsers",)})


def test_plan_view_uses_live_values_for_omitted_keys_and_live_role_definitions() -> None:
    state = live(luser("MFA", {"login.mfa": True}), roles=(ADMIN_ROLE,))
    desired = DesiredState(users=(spec("MFA", roles=("Admins",)), spec("NEW", forenames="N")))
    assert plan_view(MFA, desired, state) == []  # MFA is on live; NEW holds nothing that needs it
    desired = DesiredState(users=(spec("NEW", forenames="N", surname="W", roles=("admins",)),))
    assert plan_view(MFA, desired, state) == [
        PolicyFinding(
            policy="mfa_required_for",
            severity="error",
            message='NEW holds editUsers (through role "Admins"), which requires MFA;'
            " set login.mfa: true",
            usercode="NEW",
            source=AT,
            key_path="users[NEW]",
        )
    ]


def test_plan_view_escalation_requires_looks_only_at_what_the_plan_gains() -> None:
    state = live(luser("KEEPER", type="administrator"), luser("RISER"), roles=(ADMIN_ROLE,))
    desired = DesiredState(
        users=(
            spec("KEEPER", email="k@example.com"),  # an administrator already: nothing gained
            spec("RISER", roles=("Admins",)),
        )
    )
    found = plan_view(ESCALATION, desired, state)
    assert [(f.usercode, f.message) for f in found] == [
        (
            "RISER",
            'RISER gains escalating access (role "Admins" with editUsers) without pisync:'
            " ticket and reason; record why under the user's pisync: key",
        )
    ]
    ok = DesiredState(users=(spec("RISER", Grant(ticket="SEC-1", reason="r"), roles=("Admins",)),))
    assert plan_view(ESCALATION, ok, state) == []


def test_plan_view_a_role_the_plan_makes_escalating_is_a_gain_for_its_holders() -> None:
    viewers = LiveRole(name="Viewers", id="r2", fields={"privileges": ("pdf",)})
    state = live(luser("HOLDER", roles=("Viewers",)), roles=(viewers,))
    desired = DesiredState(
        users=(spec("HOLDER", email="h@example.com"),),
        roles=(dataclasses.replace(role_spec("Viewers"), fields={"privileges": ("editRoles",)}),),
    )
    found = plan_view(ESCALATION, desired, state)
    assert [f.message for f in found] == [
        'HOLDER gains escalating access (role "Viewers" with editRoles) without pisync: ticket'
        " and reason; record why under the user's pisync: key"
    ]


def role_spec(name: str) -> Any:
    from reconciler.core.model.values import RoleSpec

    return RoleSpec(name=name, fields={}, source=AT)


def test_plan_view_counts_every_administrator_of_the_server_after_the_plan() -> None:
    state = live(luser("A1", type="administrator"), luser("A2", type="administrator"))
    demote = DesiredState(users=(spec("A1", type="designer"), spec("A2", enabled=False)))
    found = plan_view("  administrators: {min: 2, max: 3}\n", demote, state)
    assert found == [
        PolicyFinding(
            policy="administrators",
            severity="error",
            message="after this plan 1 enabled administrator (ADMIN) would remain, fewer than"
            " the minimum of 2; declare another",
        )
    ]
    promote = DesiredState(users=(spec("NEW", forenames="N", surname="W", type="administrator"),))
    found = plan_view("  administrators: {max: 3, severity: warning}\n", promote, state)
    assert [f.message for f in found] == [
        "after this plan 4 enabled administrators (A1, A2, ADMIN, NEW) would remain, more than"
        " the maximum of 3; disable or demote some"
    ]


def test_plan_view_skips_users_the_plan_disables_and_a_partial_read_cannot_count() -> None:
    state = live(luser("GONE", type="administrator", email="g@gmail.com"))
    desired = DesiredState(users=(spec("GONE", enabled=False),))
    assert plan_view(EMAIL + ADMINS, desired, state) == [
        PolicyFinding(
            policy="administrators",
            severity="error",
            message="after this plan 1 enabled administrator (ADMIN) would remain, fewer than"
            " the minimum of 2; declare another",
        )
    ]
    partial = dataclasses.replace(state, complete=False)
    assert plan_view(ADMINS, desired, partial) == []


def test_plan_view_dates_are_judged_on_the_merged_record() -> None:
    state = live(luser("TEMP", type="administrator", expires="2026-03-01"))
    desired = DesiredState(users=(spec("TEMP", email="t@example.com"),))
    assert plan_view(MAX_DAYS, desired, state) == []  # the live expiry is within 90 days
    desired = DesiredState(users=(spec("TEMP", expires=None),))
    assert [f.message for f in plan_view(MAX_DAYS, desired, state)] == [
        "TEMP is an administrator without an expires date; an administrator's access may last"
        " at most 90 days: set expires on or before 2026-04-10"
    ]


# --- the live view: review ---------------------------------------------------------------------


def test_live_view_judges_every_live_user_with_the_repositorys_grants() -> None:
    state = live(
        luser("DECLARED", type="administrator", email="d@example.com"),
        luser("STRAY", privileges=("editUsers",), email="s@gmail.com"),
    )
    found = live_findings(
        state,
        {"DECLARED": Grant(review_by="2026-02-01")},
        {"DECLARED": AT},
        config(REVIEW + EMAIL + "  administrators: {min: 3}\n").policies,
        today=TODAY,
    )
    assert {k: [f.message for f in v] for k, v in found.items()} == {
        "ADMIN": [
            "ADMIN has escalating access (type administrator) without pisync: review_by; set a"
            " review date on or before 2026-07-09 (every 180 days)"
        ],
        "STRAY": [
            "STRAY has escalating access (privilege editUsers) without pisync: review_by; set a"
            " review date on or before 2026-07-09 (every 180 days)",
            "STRAY's email domain gmail.com is not allowed (allowed: example.com, partner.org);"
            " use an allowed address, or record why under pisync: {reason: …}",
        ],
        None: [
            "the server has 2 enabled administrators (ADMIN, DECLARED), fewer than the minimum"
            " of 3; declare another"
        ],
    }
    assert found["STRAY"][0].source is None
    assert [f.source for f in found.get("DECLARED", [])] == []


@pytest.mark.parametrize("view", list(View))
def test_the_administrator_count_is_worded_for_each_view(view: View) -> None:
    subjects = [Subject(usercode="A", type="administrator")]
    rule = config("  administrators: {max: 0}\n").policies
    (finding,) = evaluate(subjects, {}, rule, today=TODAY, view=view)
    assert (
        finding.message.split(",")[0]
        == {
            View.DESIRED: "1 enabled administrator (A) is declared",
            View.PLAN: "after this plan 1 enabled administrator (A) would remain",
            View.LIVE: "the server has 1 enabled administrator (A)",
        }[view]
    )


def test_escalating_access_is_described_briefly() -> None:
    words = (
        "type administrator",
        *(f"privilege {p}" for p in ("editConnections", "editRoles", "editSql", "editUsers")),
        "privilege orgAdmin",
        'role "Payroll" with editUsers',
    )
    assert describe(words) == (
        "type administrator; privileges editConnections, editRoles, editSql, editUsers and 1"
        ' more; role "Payroll" with editUsers'
    )
    assert describe(("privilege editUsers",)) == "privilege editUsers"


# --- every kind in both severities --------------------------------------------------------------

BREAKS_EACH = {
    "mfa_required_for": ("{types: [administrator]}", "  - {usercode: x, type: administrator}\n"),
    "administrators": ("{max: 0}", "  - {usercode: x, type: administrator}\n"),
    "separation_of_duties": (
        "[{roles: [Payments Creator, Payments Approver], reason: four eyes}]",
        "  - {usercode: x, roles: [Payments Creator, Payments Approver]}\n",
    ),
    "escalation_requires": ("{keys: [ticket]}", "  - {usercode: x, privileges: [editSql]}\n"),
    "max_access_days": ("{designer: 30}", "  - {usercode: x, type: designer}\n"),
    "review_interval_days": ("{days: 30}", "  - {usercode: x, privileges: [editUsers]}\n"),
    "email_domains": ("{allowed: [example.com]}", "  - {usercode: x, email: x@gmail.com}\n"),
}


@pytest.mark.parametrize("kind", list(BREAKS_EACH))
def test_every_kind_is_an_error_by_default_and_a_warning_when_it_says_so(kind: str) -> None:
    rule, entry = BREAKS_EACH[kind]
    as_error = validate(f"  {kind}: {rule}\n", users(entry))
    warned = rule.replace("}", ", severity: warning}", 1)
    as_warning = validate(f"  {kind}: {warned}\n", users(entry))
    assert [(line, col, severity) for line, col, severity, _ in as_error] == [(2, 5, "error")]
    assert [(line, col, severity) for line, col, severity, _ in as_warning] == [(2, 5, "warning")]
    assert as_error[0][3] == as_warning[0][3]
    assert as_error[0][3].startswith(f"policy {kind}: ")
    assert sorted(BREAKS_EACH) == sorted(POLICY_NAMES)
