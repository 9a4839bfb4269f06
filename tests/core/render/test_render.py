"""Renderers: golden files for text, Markdown and JSON, plus the properties goldens can't pin.

Refresh the golden files on purpose only: ``PISYNC_UPDATE_GOLDEN=1 pytest
tests/core/render/test_render.py`` (``make golden``), then review the diff.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.core.diff.changes import diff
from reconciler.core.diff.scope import Scope
from reconciler.core.governance.guards import Account
from reconciler.core.model.config import (
    AdministratorsRule,
    Config,
    EmailRule,
    EscalationRule,
    MaxAccessRule,
    MfaRule,
    Policies,
    ReviewRule,
    RolePrune,
    SafetyConfig,
    SeparationRule,
    Severity,
    UserPrune,
)
from reconciler.core.model.values import (
    Category,
    DesiredState,
    Grant,
    LiveRole,
    LiveState,
    LiveUser,
    Restriction,
    RoleSpec,
    SourcePos,
    UserSpec,
    Variable,
)
from reconciler.core.plans.plan import (
    SENSITIVE,
    AccessChange,
    Action,
    Change,
    Expiry,
    FieldChange,
    Kind,
    Plan,
    document_digest,
)
from reconciler.core.render.plan_json import render_json
from reconciler.core.render.plan_markdown import render_markdown
from reconciler.core.render.plan_text import render_text, text_lines
from reconciler.core.render.rows import STYLES
from reconciler.core.render.sentences import NO_CHANGES
from tests.core.builders import rec

URL = "https://pi.example.com:8224/pi/api/v2"
TODAY = dt.date(2026, 1, 10)
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "plan.schema.json"

#: SPEC §4.1, verbatim.
SPEC_EXAMPLE = """\
pisync will perform these actions against https://pi.example.com:8224/pi/api/v2:

  + role "Finance Viewer"
      categories: [Budgets, Finance]

  ~ user JSMITH
      ~ email:      "j.smith@example.com" -> "john.smith@example.com"
      + roles:      "Finance Viewer"
      - categories: "Sales"

  - user OLDUSER  (disable)

Plan: 1 to create, 1 to update, 1 to disable, 0 to delete.
"""


# --- building states ---------------------------------------------------------------------


def luser(code: str, extra: Mapping[str, Any] | None = None, **fields: Any) -> LiveUser:
    return LiveUser(usercode=code, id=f"id-{code}", record=rec(extra, **fields))


def spec(code: str, extra: Mapping[str, Any] | None = None, **fields: Any) -> UserSpec:
    return UserSpec(
        usercode=code,
        fields={**(extra or {}), **fields},
        source=SourcePos(file="users/people.yaml", line=3, col=5),
    )


def lrole(name: str, **fields: Any) -> LiveRole:
    return LiveRole(name=name, id=f"role-{name}", fields=fields)


#: Every scenario's server has its super admin (never in scope, never pruned), as a real one
#: does; without it every plan would trip the last-administrator guard.
SUPER_ADMIN = LiveUser(usercode="ADMIN", id="1", record=rec(type="administrator"), super_admin=True)


def live_state(
    users: list[LiveUser], roles: list[LiveRole] = (), cats: list[Category] = ()
) -> LiveState:
    return LiveState(
        users={"ADMIN": SUPER_ADMIN, **{u.usercode: u for u in users}},
        roles={r.name.casefold(): r for r in roles},
        categories={c.name.casefold(): c for c in cats},
    )


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- scenarios: every plan here is a real diff() result unless it must not be --------------


def spec_example() -> Plan:
    live = live_state(
        [
            luser("JSMITH", email="j.smith@example.com", categories=("Sales",)),
            luser("OLDUSER", privileges=("pdf",)),
        ]
    )
    desired = DesiredState(
        users=(
            spec(
                "JSMITH", email="john.smith@example.com", roles=("Finance Viewer",), categories=()
            ),
        ),
        roles=(RoleSpec(name="Finance Viewer", fields={"categories": ("Finance", "Budgets")}),),
    )
    return diff(desired, live, Config(users_prune=UserPrune.DISABLE), server=URL)


def empty() -> Plan:
    live = live_state([luser("JSMITH", email="j@example.com")])
    desired = DesiredState(users=(spec("JSMITH", email="j@example.com"),))
    return diff(desired, live, Config(), server=URL)


def all_actions() -> Plan:
    """Every action a diff can give in one plan (delete-pruning; disable is spec_example)."""
    cats = [
        Category(name="Finance", id="1"),
        Category(name="Budgets", id="2", parent_id="1"),
        Category(name="Sales", id="3"),
        Category(name="HR", id="4"),
    ]
    live = live_state(
        [
            luser(
                "ALICE",
                type="designer",
                email="alice@example.com",
                roles=("Analysts",),
                privileges=("pdf", "schedule"),
                expires=None,
            ),
            luser("GONE", roles=("Analysts",)),
            luser("ADMIN", type="administrator"),  # protected: never pruned
        ],
        roles=[
            lrole("Analysts", description="Old text", categories=("HR", "Sales"), privileges=()),
            lrole("Legacy", description="Unused", categories=(), privileges=()),
        ],
        cats=cats,
    )
    desired = DesiredState(
        users=(
            spec(
                "ALICE",
                {"login.mfa": True},
                type="chart-explorer",
                email="alice@example.org",
                privileges=("pdf", "exportToCsv"),
                expires="2027-01-31",
            ),
            spec(
                "BOB",
                {"login.password": False, "login.external": True},
                forenames="Bob",
                surname="Brown",
                email="bob@example.com",
                type="user",
                enabled=True,
                roles=("Finance Viewer", "analysts"),
                categories=("Budgets",),
                privileges=("exportToCsv",),
                variables=(Variable(name="region", value="North"),),
            ),
        ),
        roles=(
            RoleSpec(
                name="Finance Viewer",
                fields={
                    "description": "Read-only access to the finance dashboards",
                    "categories": ("Budgets",),
                    "privileges": ("pdf",),
                },
            ),
            RoleSpec(
                name="ANALYSTS",
                fields={"description": "Analysts", "categories": ("Sales", "Finance")},
            ),
        ),
    )
    config = Config(users_prune=UserPrune.DELETE, roles_prune=RolePrune.DELETE)
    return diff(desired, live, config, server=URL, defaults={"theme": "Default"})


def sensitive() -> Plan:
    secret_vars = (
        Variable(name="dbPassword", env="DB_PASSWORD", secure=True),
        Variable(name="apiKey", env="API_KEY", secure=True),
        Variable(name="region", value="South"),
        Variable(name="team", value="Blue"),
    )
    live = live_state(
        [
            luser(
                "CAROL",
                variables=(
                    Variable(name="dbPassword", secure=True, digest=sha("old-db-password")),
                    Variable(name="legacyToken", secure=True, digest=sha("l3gacy-s3cret")),
                    Variable(name="region", value="North"),
                    Variable(name="obsolete", value="x"),
                ),
            )
        ]
    )
    desired = DesiredState(users=(spec("CAROL", variables=secret_vars),))
    secrets = {"DB_PASSWORD": "new-db-password", "API_KEY": "api-key-value"}
    return diff(desired, live, Config(), server=URL, secrets=secrets)


def restrictions() -> Plan:
    east_north = Restriction(connection="Sales DB", column="Region", values=("East", "North"))
    live = live_state(
        [
            luser(
                "DAVE",
                restrictions=(
                    Restriction(connection="Sales DB", column="Region", values=("North",)),
                    Restriction(connection="HR", column="Dept", values=("People",)),
                ),
            )
        ]
    )
    desired = DesiredState(
        users=(
            spec(
                "DAVE",
                restrictions=(
                    east_north,
                    Restriction(connection="HR", column="Dept", values=("People",)),
                ),
            ),
            spec("ERIN", forenames="Erin", surname="Evans", restrictions=(east_north,)),
        )
    )
    return diff(desired, live, Config(), server=URL)


def partial() -> Plan:
    live = live_state(
        [luser("JSMITH", email="j@example.com"), luser("OTHER", email="o@example.com")]
    )
    desired = DesiredState(
        users=(
            spec("JSMITH", email="john@example.com", roles=("Finance Viewer",)),
            spec("OTHER", email="other@example.com"),
            spec("NEWBIE", forenames="New", surname="Bie"),
        ),
        roles=(
            RoleSpec(name="Finance Viewer", fields={"categories": ("Finance",)}),
            RoleSpec(name="Unrelated", fields={}),
        ),
    )
    scope = Scope(targets=frozenset({"JSMITH", "NEWBIE"}))
    return diff(desired, live, Config(), server=URL, scope=scope)


def warnings() -> Plan:
    live = live_state([luser("SVC_REPORTS"), luser("JSMITH", email="j@example.com")])
    desired = DesiredState(
        users=(
            spec("SVC_REPORTS", email="reports@example.com"),
            spec("JSMITH", email="john@example.com"),
        )
    )
    plan = diff(desired, live, Config(ignore=("SVC_*",)), server=URL)
    assert plan.warnings  # produced by diff itself
    return plan


def access_escalation() -> Plan:
    live = live_state(
        [
            luser("HOLDER", roles=("Editors",), categories=("Sales",)),
            luser("PROMOTED", type="designer", categories=("Sales",)),
            luser("GRANTED", privileges=("pdf",)),
            luser("MOVED", roles=("Editors",), categories=("Sales", "HR")),
        ],
        roles=[lrole("Editors", description="", categories=("Reports",), privileges=("pdf",))],
    )
    desired = DesiredState(
        users=(
            spec("PROMOTED", type="administrator"),
            spec("GRANTED", privileges=("pdf", "editUsers", "exportToCsv")),
            spec("MOVED", roles=("Viewers",), categories=("HR",)),
        ),
        roles=(
            RoleSpec(
                name="Editors",
                fields={"categories": ("Reports", "Finance"), "privileges": ("pdf", "editRoles")},
            ),
            RoleSpec(name="Viewers", fields={"categories": ("Reports", "Dashboards")}),
        ),
    )
    return diff(desired, live, Config(), server=URL)


def expiring() -> Plan:
    live = live_state(
        [
            luser("SOON", expires="2026-01-15"),
            luser("TOMORROW", expires="2026-01-11"),
            luser("TODAY", expires="2026-01-10"),
            luser("LAPSED", expires="2026-01-01"),
            luser("FAR", expires="2027-01-01"),
        ]
    )
    desired = DesiredState(users=(spec("SOON", email="soon@example.com"),))
    plan = diff(desired, live, Config(), server=URL, today=TODAY)
    # diff reports no expired-and-disabled user; the renderer must still word one
    extra = Expiry(usercode="OFF", expires="2025-12-01", days=-40, enabled=False)
    return dataclasses.replace(plan, expiring=(*plan.expiring, extra))


def hostile() -> Plan:
    """User data that tries to break every format: brackets, pipes, HTML, backticks, HTML
    comments, @mentions, and lines a GitHub runner would read as workflow commands."""
    role = "Ops | <b>Admins</b> [EU] `x`"
    commands = "##[error]x ::stop-commands::x"
    live = live_state(
        [
            luser("EVIL`|<i>", email="a@example.com"),
            luser(
                "NAÏVE",
                categories=("R&D, Europe",),
                variables=(Variable(name="note", value="line1\nline2"),),
            ),
            luser("CMD", surname="x"),
        ],
        roles=[lrole("```", description="fence")],
    )
    desired = DesiredState(
        users=(
            spec(
                "NAÏVE",
                email="naïve@例え.jp",
                categories=("日本 [tokyo]", "| pipe |"),
                roles=(role,),
                variables=(Variable(name="note", value="\u202eevil\u202c <script>"),),
            ),
            dataclasses.replace(
                spec(
                    "CMD", surname="::set-output name=x::y\n::stop-commands::x", roles=(commands,)
                ),
                meta=Grant(reason="@org/team and @someone: <!-- hidden --> <b>approve</b>"),
            ),
        ),
        roles=(
            RoleSpec(name=role, fields={"description": '"quoted"\t<tab>', "categories": ("*",)}),
            RoleSpec(name=commands, fields={"description": "::add-mask::secret"}),
        ),
    )
    plan = diff(
        desired,
        live,
        Config(users_prune=UserPrune.DELETE, roles_prune=RolePrune.DELETE),
        server=URL,
    )
    return dataclasses.replace(
        plan,
        warnings=(
            "user `EVIL` said <script>alert(1)</script> | #1",
            "ping @org/team <!-- x --> ##[add-mask]y",
        ),
    )


def many(count: int = 2_000) -> Plan:
    changes = tuple(
        Change(
            kind=Kind.USER,
            key=f"USER{i:04d}",
            action=Action.CREATE,
            fields=(
                FieldChange(path="forenames", before=None, after=f"First{i}"),
                FieldChange(path="roles", before=None, after=["Readers"]),
            ),
            desired={"forenames": f"First{i}", "roles": ["Readers"]},
        )
        for i in range(count)
    )
    access = tuple(
        AccessChange(
            usercode=f"USER{i:04d}",
            gained_roles=("Readers",),
            gained_categories=("Reports",),
            type_change=(None, "user"),
            role_categories={"Readers": ("Reports",)},
        )
        for i in range(count)
    )
    return Plan(server=URL, changes=changes, access=access)


def guarded() -> Plan:
    """A prune over the limits, a protected user changed, and a token whose account is unknown:
    the plan apply would refuse, with every guard's numbers."""
    live = live_state([luser(f"U{i}", email=f"u{i}@example.com") for i in range(1, 5)])
    desired = DesiredState(users=(spec("U1", email="new@example.com"),))
    config = Config(
        users_prune=UserPrune.DISABLE,
        protected=("ADMIN", "U1"),
        safety=SafetyConfig(max_prune_count=2, max_prune_percent=50, min_users_for_percent=1),
    )
    account = Account(usercode=None, source="PISYNC_TOKEN")
    plan = diff(desired, live, config, server=URL, account=account)
    assert plan.blocked
    return plan


def forced() -> Plan:
    return dataclasses.replace(guarded(), forced=True)


def partial_files() -> Plan:
    """A plan over 2 files changed since a ref: one user removed since then is pruned, the
    other undeclared live user is not considered."""
    live = live_state([luser("KEPT"), luser("REMOVED"), luser("OTHER")])
    desired = DesiredState(users=(spec("KEPT", email="kept@example.com"),))
    scope = Scope(files=2, changed_since="origin/main", removed=frozenset({"REMOVED"}))
    return diff(desired, live, Config(users_prune=UserPrune.DISABLE), server=URL, scope=scope)


def grants() -> Plan:
    """The why beside the what: each changed user's grant metadata under its access sentence;
    an escalation without any says so; hostile text in a reason cannot break a format."""
    live = live_state(
        [luser("PAYER", roles=("Viewers",)), luser("QUIET", categories=("Sales",))],
        roles=[lrole("Viewers", categories=("Reports",)), lrole("Payments", privileges=("pdf",))],
    )
    desired = DesiredState(
        users=(
            dataclasses.replace(
                spec("PAYER", roles=("Viewers", "Payments"), privileges=("editUsers",)),
                meta=Grant(
                    reason="Approves supplier payments; covers <b>month-end</b> | `close`",
                    ticket="SEC-123",
                    owner="ashah",
                    review_by="2026-06-30",
                ),
            ),
            dataclasses.replace(
                spec("NEWHIRE", forenames="New", surname="Hire", categories=("Sales",)),
                meta=Grant(ticket="HR-7"),
            ),
            spec("ROOT", forenames="Root", surname="User", type="administrator"),
            spec("QUIET", categories=()),
        ),
    )
    return diff(desired, live, Config(), server=URL)


POLICIES = Policies(
    mfa_required_for=MfaRule(
        types=frozenset({"administrator"}), privileges=frozenset({"editUsers"})
    ),
    administrators=AdministratorsRule(min=1, max=2),
    separation_of_duties=(
        SeparationRule(roles=("Payments Creator", "Payments Approver"), reason="four-eyes"),
    ),
    escalation_requires=EscalationRule(keys=("ticket", "reason")),
    max_access_days=MaxAccessRule(days={"administrator": 90}, severity=Severity.WARNING),
    review_interval_days=ReviewRule(days=180, severity=Severity.WARNING),
    email_domains=EmailRule(allowed=frozenset({"example.com"}), severity=Severity.WARNING),
)


def policy_violations() -> Plan:
    """Every policy kind violated once on the state after the plan, errors and warnings."""
    live = live_state(
        [
            luser("PAYER", roles=("Payments Creator",)),
            luser("HELPER", email="helper@example.com"),
            luser(
                "OLDADMIN",
                {"login.mfa": True},
                type="administrator",
                email="old@example.com",
                expires="2026-02-01",
            ),
        ],
        roles=[
            lrole("Payments Creator"),
            lrole("Payments Approver"),
            lrole("User Admins", privileges=("editUsers",)),
        ],
    )
    reviewed = Grant(reason="Covers the service desk", ticket="SEC-9", review_by="2026-03-01")
    desired = DesiredState(
        users=(
            spec("PAYER", roles=("Payments Creator", "payments approver")),
            dataclasses.replace(spec("HELPER", roles=("User Admins",)), meta=reviewed),
            dataclasses.replace(
                spec("OLDADMIN", email="old.admin@example.com"),
                meta=Grant(review_by="2025-12-01"),
            ),
            spec("ROOT", forenames="Root", surname="User", type="administrator"),
            spec("GUEST", forenames="G", surname="Uest", email="guest@gmail.com"),
        ),
    )
    return diff(desired, live, Config(policies=POLICIES), server=URL, today=TODAY)


def policy_passes() -> Plan:
    """The same rules, all kept: one line says which were checked."""
    live = live_state([luser("HELPER", email="helper@example.com")])
    desired = DesiredState(users=(spec("HELPER", email="new.helper@example.com"),))
    plan = diff(desired, live, Config(policies=POLICIES), server=URL, today=TODAY)
    assert plan.findings == ()
    return plan


SCENARIOS: dict[str, Callable[[], Plan]] = {
    "spec_example": spec_example,
    "empty": empty,
    "all_actions": all_actions,
    "sensitive": sensitive,
    "restrictions": restrictions,
    "partial": partial,
    "warnings": warnings,
    "access_escalation": access_escalation,
    "expiring": expiring,
    "hostile": hostile,
    "guarded": guarded,
    "forced": forced,
    "partial_files": partial_files,
    "grants": grants,
    "policy_violations": policy_violations,
    "policy_passes": policy_passes,
}


# --- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_text_golden(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"{name}.txt", render_text(SCENARIOS[name]()))


@pytest.mark.parametrize("name", SCENARIOS)
def test_markdown_golden(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"{name}.md", render_markdown(SCENARIOS[name]()))


@pytest.mark.parametrize("name", SCENARIOS)
def test_json_golden(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"{name}.json", render_json(SCENARIOS[name]()))


@pytest.mark.parametrize("name", SCENARIOS)
def test_json_is_the_whole_document_indented_by_json_dumps(name: str) -> None:
    """The JSON is written a change at a time (orjson, the digest on the way); the text is
    exactly what json.dumps makes of the whole document, digest included."""
    plan = SCENARIOS[name]()
    document = plan.to_document()
    assert render_json(plan) == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert document["digest"] == document_digest(document)


def test_markdown_truncation_golden(golden: Callable[[str, str], None]) -> None:
    golden("truncated.md", render_markdown(many(), limit=6_000))


# --- text: the contract of SPEC §4.1 ---------------------------------------------------------


def test_spec_example_is_exactly_the_spec_text_without_the_added_sections() -> None:
    plan = spec_example()
    assert render_text(dataclasses.replace(plan, access=(), notes=())) == SPEC_EXAMPLE


def test_spec_example_adds_only_the_access_section_between_changes_and_summary() -> None:
    text = render_text(spec_example())
    head, _, tail = SPEC_EXAMPLE.rpartition("Plan: ")
    assert text == (
        head
        + "Effective access changes:\n"
        + '    JSMITH gains role "Finance Viewer" (categories Budgets, Finance); '
        + "loses category Sales\n"
        + "    OLDUSER is disabled, losing all access; loses privilege pdf\n"
        + "\n"
        + "Plan: "
        + tail
    )


def test_empty_plan_is_exactly_one_line() -> None:
    assert render_text(Plan(server=URL)) == NO_CHANGES + "\n"
    assert render_text(empty()) == NO_CHANGES + "\n"


def test_empty_plan_keeps_the_message_last_after_notes() -> None:
    plan = Plan(server=URL, targets=("JSMITH",), warnings=("something to know",))
    assert render_text(plan) == (
        "Note: partial plan for --target JSMITH; changes to other objects are not shown.\n"
        "\n"
        "Warning: something to know\n"
        "\n" + NO_CHANGES + "\n"
    )


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "empty"])
def test_summary_line_is_last(name: str) -> None:
    plan = SCENARIOS[name]()
    c = plan.counts
    assert render_text(plan).splitlines()[-1] == (
        f"Plan: {c.create} to create, {c.update} to update, "
        f"{c.disable} to disable, {c.delete} to delete."
    )


@pytest.mark.parametrize("name", SCENARIOS)
def test_text_lines_are_plain_segments_with_known_styles(name: str) -> None:
    plan = SCENARIOS[name]()
    lines = text_lines(plan)
    text = render_text(plan)
    assert text == "".join("".join(t for t, _ in line) + "\n" for line in lines)
    for line in lines:
        for segment_text, style in line:
            assert style is None or style in STYLES
            assert "\n" not in segment_text
    assert "\x1b" not in text  # colour belongs to the shell


def test_styles_mark_symbols_sensitive_values_and_warnings() -> None:
    lines = text_lines(sensitive())
    styled = {(t, s) for line in lines for t, s in line if s is not None}
    assert ("~", "update") in styled
    assert ("(sensitive value changed: env DB_PASSWORD, secure)", "sensitive") in styled
    assert ("(sensitive: env API_KEY, secure)", "sensitive") in styled
    assert ("(sensitive)", "sensitive") in styled
    escalation = text_lines(access_escalation())
    assert ("!", "warning") in {seg for line in escalation for seg in line}
    assert ("  (privilege escalation)", "warning") in {seg for line in escalation for seg in line}


def test_sensitive_values_never_rendered() -> None:
    plan = sensitive()
    for out in (render_text(plan), render_markdown(plan), render_json(plan), repr(plan)):
        for secret in ("new-db-password", "old-db-password", "api-key-value", "l3gacy-s3cret"):
            assert secret not in out
            assert hashlib.sha256(secret.encode()).hexdigest() not in out


def test_a_sensitive_field_never_shows_its_old_value_but_shows_what_apply_writes() -> None:
    # A plan file is data: even if one carried the old value of a secret, never show it; a
    # clear value replacing a secret is what apply sends, so it is shown.
    change = Change(
        kind=Kind.USER,
        key="X",
        action=Action.UPDATE,
        fields=(FieldChange(path="variables.pw", before="old", after="new", sensitive=True),),
    )
    text = render_text(Plan(server=URL, changes=(change,)))
    assert '      ~ variables.pw: (sensitive) -> "new"\n' in text
    assert "old" not in text


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (FieldChange(path="email", before="a@x", after="b@x"), '~ email: "a@x" -> "b@x"'),
        (FieldChange(path="enabled", before=True, after=False), "~ enabled: true -> false"),
        (
            FieldChange(path="expires", before=None, after="2027-01-31"),
            '~ expires: null -> "2027-01-31"',
        ),
        (FieldChange(path="theme", before="T", after=None), '~ theme: "T" -> null'),
        (FieldChange(path="roles", before=None, after=["A"]), '+ roles: "A"'),
        (FieldChange(path="variables.v", before=None, after="1"), '+ variables.v: "1"'),
        (FieldChange(path="variables.v", before="1", after=None), '- variables.v: "1"'),
        (FieldChange(path="variables.v", before="1", after="2"), '~ variables.v: "1" -> "2"'),
        (
            FieldChange(path="variables.s", before=None, after=SENSITIVE, sensitive=True),
            "+ variables.s: (sensitive)",
        ),
        (
            FieldChange(
                path="variables.s", before=None, after={"env": "S", "secure": True}, sensitive=True
            ),
            "+ variables.s: (sensitive: env S, secure)",
        ),
        (
            FieldChange(
                path="variables.s",
                before=SENSITIVE,
                after={"env": "S", "secure": False},
                sensitive=True,
            ),
            "~ variables.s: (sensitive value changed: env S)",
        ),
        (
            FieldChange(path="variables.s", before=SENSITIVE, after=None, sensitive=True),
            "- variables.s: (sensitive)",
        ),
        (
            FieldChange(path="email", before="a\nb", after="\u202ec"),
            '~ email: "a\\nb" -> "\\u202ec"',
        ),
        # a string that looks like the sensitive marker is still a quoted value
        (
            FieldChange(path="theme", before="(sensitive)", after="x"),
            '~ theme: "(sensitive)" -> "x"',
        ),
    ],
)
def test_update_field_line(field: FieldChange, expected: str) -> None:
    change = Change(kind=Kind.USER, key="U", action=Action.UPDATE, fields=(field,))
    assert render_text(Plan(server=URL, changes=(change,))).splitlines()[3] == "      " + expected


def test_set_changes_list_removals_then_additions_and_fold_case_like_the_diff() -> None:
    field = FieldChange(
        path="categories", before=["finance", "HR", "Sales"], after=["Finance", "IT", "Ops"]
    )
    change = Change(kind=Kind.USER, key="U", action=Action.UPDATE, fields=(field,))
    assert render_text(Plan(server=URL, changes=(change,))).splitlines()[3:8] == [
        '      - categories: "HR"',
        '      - categories: "Sales"',
        '      + categories: "IT"',
        '      + categories: "Ops"',
        "",
    ]


def test_privileges_compare_case_sensitively() -> None:
    field = FieldChange(path="privileges", before=["pdf"], after=["PDF"])
    change = Change(kind=Kind.USER, key="U", action=Action.UPDATE, fields=(field,))
    assert render_text(Plan(server=URL, changes=(change,))).splitlines()[3:5] == [
        '      - privileges: "pdf"',
        '      + privileges: "PDF"',
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Budgets", "Finance"], "[Budgets, Finance]"),
        ([], "[]"),
        (["a, b", "c]", "", " pad", "日本"], '["a, b", "c]", "", " pad", 日本]'),
        (
            [{"connection": "Sales DB", "column": "Region", "values": ["East", "North"]}],
            "[{connection: Sales DB, column: Region, values: [East, North]}]",
        ),
        ("John", '"John"'),
        (False, "false"),
        (None, "null"),
    ],
)
def test_create_values(value: Any, expected: str) -> None:
    change = Change(
        kind=Kind.ROLE,
        key="R",
        action=Action.CREATE,
        fields=(FieldChange(path="x", before=None, after=value),),
    )
    assert (
        render_text(Plan(server=URL, changes=(change,))).splitlines()[3] == f"      x: {expected}"
    )


def test_field_names_align_within_one_object_only() -> None:
    first = Change(
        kind=Kind.USER,
        key="A",
        action=Action.UPDATE,
        fields=(
            FieldChange(path="lite", before=False, after=True),
            FieldChange(path="login.external", before=False, after=True),
        ),
    )
    second = Change(
        kind=Kind.USER,
        key="B",
        action=Action.UPDATE,
        fields=(FieldChange(path="lite", before=False, after=True),),
    )
    lines = render_text(Plan(server=URL, changes=(first, second))).splitlines()
    assert lines[2:9] == [
        "  ~ user A",
        "      ~ lite:           false -> true",
        "      ~ login.external: false -> true",
        "",
        "  ~ user B",
        "      ~ lite: false -> true",
        "",
    ]


def test_delete_and_role_lines() -> None:
    changes = (
        Change(kind=Kind.ROLE, key='Say "hi"', action=Action.DELETE),
        Change(kind=Kind.USER, key="OLD USER", action=Action.DELETE),
        Change(kind=Kind.USER, key="OLDUSER", action=Action.DELETE),
    )
    assert render_text(Plan(server=URL, changes=changes)).splitlines()[2:8] == [
        '  - role "Say \\"hi\\""  (delete)',
        "",
        "  - user OLD USER  (delete)",
        "",
        "  - user OLDUSER  (delete)",
        "",
    ]


@pytest.mark.parametrize(
    ("access", "action", "expected"),
    [
        (
            AccessChange(
                usercode="JSMITH",
                gained_roles=("Finance Viewer",),
                gained_categories=("Budgets", "Finance"),
                lost_categories=("Sales",),
                gained_privileges=("editUsers",),
                escalation=True,
                role_categories={"Finance Viewer": ("Budgets", "Finance")},
            ),
            Action.UPDATE,
            '  ! JSMITH gains role "Finance Viewer" (categories Budgets, Finance); '
            "loses category Sales; gains privilege editUsers  (privilege escalation)",
        ),
        (
            AccessChange(
                usercode="NEW",
                gained_roles=("A", "B"),
                gained_categories=("X", "Y"),
                type_change=(None, "designer"),
                role_categories={"A": ("X",)},
            ),
            Action.CREATE,
            '    NEW is created as designer; gains roles "A" (category X), "B"; gains category Y',
        ),
        (
            AccessChange(
                usercode="BOSS",
                type_change=("designer", "administrator"),
                lost_roles=("A", "B"),
                lost_privileges=("pdf", "schedule"),
                escalation=True,
            ),
            Action.UPDATE,
            '  ! BOSS becomes administrator (was designer); loses roles "A", "B"; '
            "loses privileges pdf, schedule  (privilege escalation)",
        ),
        (
            AccessChange(usercode="GONE", type_change=("user", None), lost_categories=("S",)),
            Action.DELETE,
            "    GONE is deleted, losing all access; loses category S",
        ),
        (
            AccessChange(usercode="BACK", type_change=(None, "user"), gained_categories=("S",)),
            Action.UPDATE,
            "    BACK is enabled as user; gains category S",
        ),
        (
            AccessChange(usercode="HOLDER", gained_categories=("C",)),
            None,  # not changed itself: a role it holds changed
            "    HOLDER gains category C",
        ),
    ],
)
def test_access_sentences(access: AccessChange, action: Action | None, expected: str) -> None:
    changes = (
        () if action is None else (Change(kind=Kind.USER, key=access.usercode, action=action),)
    )
    lines = render_text(Plan(server=URL, changes=changes, access=(access,))).splitlines()
    assert lines[lines.index("Effective access changes:") + 1] == expected


def test_escalations_are_listed_first() -> None:
    access = (
        AccessChange(usercode="AAA", gained_categories=("X",)),
        AccessChange(usercode="ZZZ", gained_privileges=("editUsers",), escalation=True),
    )
    lines = render_text(Plan(server=URL, access=access)).splitlines()
    assert lines[:5] == [
        "Effective access changes:",
        "  ! ZZZ gains privilege editUsers  (privilege escalation)",
        "      why: not recorded",
        "    AAA gains category X",
        "",
    ]


def test_the_why_is_under_each_users_access_sentence() -> None:
    grant = Grant(reason="Month-end close", ticket="SEC-1", owner="ashah", review_by="2027-03-31")
    access = (
        AccessChange(usercode="AAA", gained_categories=("X",), grant=grant),
        AccessChange(usercode="BBB", gained_categories=("Y",), grant=Grant(owner="ashah")),
        AccessChange(usercode="CCC", lost_categories=("Z",)),
    )
    plan = Plan(server=URL, access=access)
    assert render_text(plan).splitlines()[:6] == [
        "Effective access changes:",
        "    AAA gains category X",
        '      why: "Month-end close"; ticket SEC-1; owner ashah; review by 2027-03-31',
        "    BBB gains category Y",
        "      why: owner ashah",
        "    CCC loses category Z",
    ]
    md = render_markdown(plan)
    assert (
        "- `AAA` gains category `X`\n"
        "  - Why: Month-end close; ticket `SEC-1`; owner `ashah`; review by `2027-03-31`\n"
        "- `BBB` gains category `Y`\n"
        "  - Why: owner `ashah`\n"
        "- `CCC` loses category `Z`\n"
    ) in md
    assert json.loads(render_json(plan))["access"][0]["grant"] == {
        "reason": "Month-end close",
        "ticket": "SEC-1",
        "owner": "ashah",
        "review_by": "2027-03-31",
    }
    assert json.loads(render_json(plan))["access"][2]["grant"] is None


def test_expiring_sentences() -> None:
    text = render_text(expiring())
    section = text[text.index("Expiring access:") :].split("\n\n")[0]
    assert section.splitlines() == [
        "Expiring access:",
        "  ! LAPSED expired on 2026-01-01 but is still enabled",
        "    SOON expires in 5 days (2026-01-15)",
        "    TODAY expires today (2026-01-10)",
        "    TOMORROW expires in 1 day (2026-01-11)",
        "    OFF expired on 2025-12-01 (disabled)",
    ]


def test_partial_plan_note_names_the_targets() -> None:
    assert render_text(partial()).splitlines()[2] == (
        "Note: partial plan for --target JSMITH, NEWBIE; changes to other objects are not shown."
    )


def test_hostile_text_stays_one_line_per_item() -> None:
    text = render_text(hostile())
    assert "\u202e" not in text
    assert '"line1\\nline2"' in text
    assert "  - user EVIL`|<i>  (delete)" in text
    assert '  - role "```"  (delete)' in text


# --- markdown ----------------------------------------------------------------------------------


def test_markdown_order_summary_table_then_access_then_details() -> None:
    md = render_markdown(access_escalation())
    positions = [
        md.index("| Create | Update | Disable | Delete |"),
        md.index("### Effective access"),
        md.index("⚠️ **Privilege escalation:**"),
        md.index("### Changes"),
        md.index("<details>"),
    ]
    assert positions == sorted(positions)
    assert "| 1 | 4 | 0 | 0 |" in md


def test_markdown_details_are_diff_blocks_with_symbols_in_column_zero() -> None:
    md = render_markdown(spec_example())
    assert (
        "<details><summary><code>~ user JSMITH</code></summary>\n\n"
        "```diff\n"
        '~ email:      "j.smith@example.com" -> "john.smith@example.com"\n'
        '+ roles:      "Finance Viewer"\n'
        '- categories: "Sales"\n'
        "```\n\n</details>\n"
    ) in md


def test_markdown_empty_plan() -> None:
    assert render_markdown(Plan(server=URL)) == (
        f"## pisync plan\n\nServer: `{URL}`\n\n{NO_CHANGES}\n"
    )


@pytest.mark.parametrize("limit", [2_000, 6_000, 20_000, 60_000])
def test_markdown_respects_the_limit_and_keeps_the_summary(limit: int) -> None:
    md = render_markdown(many(), limit=limit)
    assert len(md) <= limit
    assert "| 2000 | 0 | 0 | 0 |" in md
    assert "### Effective access" in md
    shown = md.count("<details>")
    assert shown < 2_000
    assert md.endswith(
        f"… {2_000 - shown} more changes not shown; run pisync plan locally or see the JSON plan\n"
    )
    # the access section is capped too, with its own note
    assert re.search(r"- … \d+ more users' access changes not shown; see the JSON plan\n", md)


def test_markdown_drops_whole_objects_only() -> None:
    md = render_markdown(many(), limit=10_000)
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```diff") * 2 == md.count("```")


def test_markdown_not_truncated_when_it_fits() -> None:
    md = render_markdown(many(50))
    assert md.count("<details>") == 50
    assert "not shown" not in md


def test_markdown_escapes_user_data() -> None:
    md = render_markdown(hostile())
    # HTML only where we put it: every user-supplied < is escaped or inside code
    outside_code = re.sub(r"(`+)(.+?)\1", "", md.split("### Changes")[0])
    assert "<b>" not in outside_code
    assert "<script>" not in outside_code
    summaries = re.findall(r"<summary>(.*)</summary>", md)
    assert summaries
    assert all("<b>" not in s and "<i>" not in s for s in summaries)
    assert '<summary><code>+ role "Ops | &lt;b&gt;Admins&lt;/b&gt; [EU] `x`"</code></summary>' in md
    # the warning is escaped text, not HTML, not code, not a table
    assert "- ⚠️ user \\`EVIL\\` said \\<script\\>alert(1)\\</script\\> \\| \\#1\n" in md
    # a fence long enough for the backticks inside
    assert '````diff\n- role "```"  (delete)\n````' in md
    assert "\u202e" not in md


def test_markdown_code_spans_hold_backticks() -> None:
    access = (AccessChange(usercode="A`B", gained_roles=("``r",), role_categories={}),)
    md = render_markdown(Plan(server=URL, access=access))
    assert "- ``A`B`` gains role ``` ``r ```\n" in md


def test_markdown_partial_note() -> None:
    assert (
        "> **Note:** partial plan for --target `JSMITH`, `NEWBIE`; "
        "changes to other objects are not shown.\n" in render_markdown(partial())
    )


# --- json and its schema ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_schema_is_valid_2020_12_and_described() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "plan.schema.json"
    assert schema["title"]
    assert schema["description"]
    assert schema["properties"]["format_version"] == {
        "const": 2,
        "description": schema["properties"]["format_version"]["description"],
    }


def test_schema_desired_covers_every_model_field() -> None:
    from reconciler.core.model.values import ROLE_FIELDS, USER_FIELDS

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    documented = set(schema["$defs"]["desired"]["properties"])
    assert documented == set(USER_FIELDS) | set(ROLE_FIELDS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_rendered_plans_validate(name: str, validator: jsonschema.Draft202012Validator) -> None:
    document = json.loads(render_json(SCENARIOS[name]()))
    assert list(validator.iter_errors(document)) == []


def test_big_plan_validates(validator: jsonschema.Draft202012Validator) -> None:
    assert list(validator.iter_errors(json.loads(render_json(many(100))))) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format_version=1),
        lambda d: d["changes"][0].update(fingerprint="sha256:XYZ"),
        lambda d: d["changes"][0].update(action="rename"),
        lambda d: d["changes"][0]["desired"].update(password="hunter2"),
        lambda d: d["changes"][0]["fields"][0].update(sensitive=False),
        lambda d: d["summary"].pop("delete"),
        lambda d: d.update(extra=1),
    ],
)
def test_schema_rejects_what_to_dict_never_writes(
    mutate: Callable[[dict[str, Any]], None], validator: jsonschema.Draft202012Validator
) -> None:
    document = json.loads(render_json(all_actions()))
    assert document["changes"][0]["fields"]
    mutate(document)
    assert list(validator.iter_errors(document)) != []


def test_json_is_to_dict_and_round_trips() -> None:
    plan = all_actions()
    out = render_json(plan)
    assert out == json.dumps(plan.to_document(), indent=2, ensure_ascii=False) + "\n"
    assert Plan.from_dict(json.loads(out)) == plan


def test_markdown_names_at_most_twenty_targets() -> None:
    plan = Plan(server=URL, targets=tuple(f"U{i:03d}" for i in range(500)))
    note = render_markdown(plan).splitlines()[4]
    assert note.startswith("> **Note:** partial plan for --target `U000`, `U001`, ")
    assert note.endswith("`U019` and 480 more; changes to other objects are not shown.")
