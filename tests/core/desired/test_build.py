"""desired: validated documents -> the canonical DesiredState of model/values.py."""

from __future__ import annotations

import io
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.core.desired.build import (
    IDP_LOGIN,
    build_desired,
    canonical_defaults,
    canonical_user_fields,
    config_from_document,
    with_idp_login,
)
from reconciler.core.desired.validate import validate_config, validate_files
from reconciler.core.model.config import (
    POLICY_NAMES,
    AdministratorsRule,
    Config,
    EmailRule,
    EscalationRule,
    MaxAccessRule,
    MfaRule,
    Policies,
    ReviewRule,
    RolePrune,
    SeparationRule,
    Severity,
    UserPrune,
)
from reconciler.core.model.privileges import PRIVILEGES
from reconciler.core.model.values import (
    GRANT_KEYS,
    NO_GRANT,
    USER_FIELDS,
    DesiredState,
    Grant,
    Restriction,
    RoleSpec,
    SourcePos,
    UserSpec,
    Variable,
)
from reconciler.core.yamlfile.read import ParsedFile, parse_yaml
from reconciler.schemas import load_schema

FULL = """\
roles:
  - name: Finance Viewer
    description: Read-only access
    categories: [Finance, budgets, Budgets]
    privileges: [pdf, exportToCsv, pdf]
  - name: auditors
users:
  - usercode: jsmith
    forenames: John
    surname: " Smith "
    email: john.smith@example.com
    type: designer
    enabled: true
    lite: false
    parent: admin
    organisation: Dashboard
    theme: piBerry
    expires: 2027-01-31
    login: {mfa: false, password: false, external: true}
    privileges: [schedule, exportToCsv, pdf, pdf]
    roles: [finance viewer, Auditors, Finance Viewer]
    categories: [sales, Sales, Budgets]
    variables:
      region: North
      dbPassword: {env: FINANCE_DB_PASSWORD, secure: true}
      plain: {value: v, secure: false}
    restrictions:
      - {connection: Sales DB, column: Region, values: [North, East, North]}
      - {connection: A, column: B, values: [c]}
      - {connection: A, column: B, values: [c]}
    pisync: {prune: false, reason: Month-end, ticket: SEC-123, owner: ashah, review_by: 2027-03-31}
  - usercode: Able
    pisync: {ignore: true}
"""

FILE = "users/a.yaml"


def at(line: int, col: int, file: str = FILE) -> SourcePos:
    return SourcePos(file=file, line=line, col=col)


def build(*files: tuple[str, str]) -> DesiredState:
    parsed = [parse_yaml(text.encode(), name) for name, text in files]
    assert validate_files(parsed, file_schema=load_schema("pisync-file")) == []
    return build_desired(parsed)


def test_users_in_canonical_form() -> None:
    state = build((FILE, FULL))
    able, jsmith = state.users
    assert able == UserSpec(
        usercode="ABLE", fields={}, source=at(32, 5), key_pos={}, prune=True, ignore=True
    )
    assert jsmith.usercode == "JSMITH"
    assert jsmith.fields == {
        "forenames": "John",
        "surname": " Smith ",  # strings exactly as written
        "email": "john.smith@example.com",
        "type": "designer",
        "enabled": True,
        "lite": False,
        "parent": "ADMIN",
        "organisation": "Dashboard",
        "theme": "piBerry",
        "expires": "2027-01-31",
        "login.password": False,
        "login.external": True,
        "login.mfa": False,
        "privileges": ("exportToCsv", "pdf", "schedule"),
        "roles": ("Auditors", "finance viewer"),
        "categories": ("Budgets", "sales"),
        "variables": (
            Variable(name="dbPassword", env="FINANCE_DB_PASSWORD", secure=True),
            Variable(name="plain", value="v", secure=False),
            Variable(name="region", value="North"),
        ),
        "restrictions": (
            Restriction(connection="A", column="B", values=("c",)),
            Restriction(connection="Sales DB", column="Region", values=("East", "North")),
        ),
    }
    assert list(jsmith.fields) == [f for f in USER_FIELDS if f in jsmith.fields]
    assert jsmith.source == at(8, 5)
    assert jsmith.prune is False
    assert jsmith.ignore is False
    assert jsmith.meta == Grant(
        reason="Month-end", ticket="SEC-123", owner="ashah", review_by="2027-03-31"
    )
    assert able.meta is NO_GRANT  # no metadata written: the one shared empty grant
    assert not able.meta


def test_key_positions_of_each_written_field() -> None:
    jsmith = build((FILE, FULL)).users[1]
    assert set(jsmith.key_pos) == set(jsmith.fields)
    assert jsmith.key_pos["forenames"] == at(9, 5)
    assert jsmith.key_pos["login.mfa"] == at(19, 13)
    assert jsmith.key_pos["login.external"] == at(19, 42)
    assert jsmith.key_pos["restrictions"] == at(27, 5)
    assert jsmith.key_pos.get("usercode") is None
    assert jsmith.key_pos.get("pisync") is None
    assert jsmith.key_pos.get("login") is None


def test_roles_in_canonical_form() -> None:
    roles = build((FILE, FULL)).roles
    assert roles == (
        RoleSpec(name="auditors", fields={}, source=at(6, 5)),
        RoleSpec(
            name="Finance Viewer",
            fields={
                "description": "Read-only access",
                "categories": ("budgets", "Finance"),
                "privileges": ("exportToCsv", "pdf"),
            },
            source=at(2, 5),
        ),
    )


def test_empty_lists_mean_none_and_are_kept() -> None:
    user = build((FILE, "users:\n  - usercode: a\n    roles: []\n    variables: {}\n")).users[0]
    assert user.fields == {"roles": (), "variables": ()}


def test_file_order_never_changes_the_result() -> None:
    a = ("users/a.yaml", "users:\n  - usercode: zed\n  - usercode: amy\n")
    b = ("users/b.yaml", "users:\n  - usercode: Bob\nroles:\n  - name: b\n  - name: A\n")
    one, two = build(a, b), build(b, a)
    assert one == two
    assert [u.usercode for u in one.users] == ["AMY", "BOB", "ZED"]
    assert [r.name for r in one.roles] == ["A", "b"]


def test_the_desired_state_pickles() -> None:
    state = build((FILE, FULL))
    again = pickle.loads(pickle.dumps(state))
    assert again == state
    assert again.users[1].key_pos["login.mfa"] == at(19, 13)


def test_files_without_data_are_skipped() -> None:
    assert build_desired([ParsedFile(file="x.yaml", data=None)]) == DesiredState()


def test_canonical_fields_of_plain_mappings_and_defaults() -> None:
    defaults = {"type": "user", "login": {"password": False, "external": True}, "roles": ["b", "A"]}
    expected = {
        "type": "user",
        "login.password": False,
        "login.external": True,
        "roles": ("A", "b"),
    }
    assert canonical_user_fields(defaults) == expected
    assert canonical_defaults(defaults) == expected


def test_config_from_document() -> None:
    text = (
        'sources: ["people/*.yaml"]\n'
        "server: {url: 'https://pi:8224/pi/api/v2', concurrency: 4}\n"
        "defaults: {type: user, login: {password: false, external: true}}\n"
        "users: {prune: disable, protected: [ADMIN, OPS_*], ignore: [SVC_*],"
        " login_via_idp: ['*@corp.example', sso_*]}\n"
        "roles: {prune: delete}\n"
        "safety: {max_prune_count: 3}\n"
        "plan: {expiring_days: 30}\n"
    )
    config = config_from_document(parse_yaml(text.encode(), "pisync.yaml"))
    assert config.sources == ("people/*.yaml",)
    assert config.server.url == "https://pi:8224/pi/api/v2"
    assert config.server.concurrency == 4
    assert config.defaults == {"type": "user", "login": {"password": False, "external": True}}
    assert type(config.defaults["login"]) is dict  # plain values, not the YAML view
    assert config.users_prune is UserPrune.DISABLE
    assert config.protected == ("ADMIN", "OPS_*")
    assert config.ignore == ("SVC_*",)
    assert config.login_via_idp == ("*@corp.example", "sso_*")
    assert config.is_login_via_idp("j.smith@CORP.example")  # globs ignore case, as usercodes do
    assert config.is_login_via_idp("SSO_JANE")
    assert not config.is_login_via_idp("JSMITH")
    assert Config().login_via_idp == ()
    assert config.roles_prune is RolePrune.DELETE
    assert config.safety.max_prune_count == 3
    assert config.expiring_days == 30


IDP_USERS = """\
users:
  - usercode: sso_amy
    forenames: Amy
    login: {password: true, mfa: true}
    roles: [R]
  - usercode: sso_bo
  - usercode: local
    login: {password: true, external: false}
"""


def test_login_via_idp_users_get_the_login_the_server_forces() -> None:
    desired = build((FILE, IDP_USERS))
    forced = with_idp_login(desired, Config(login_via_idp=("SSO_*",)))
    by_code = {u.usercode: u for u in forced.users}
    # written keys kept, the two forced flags set, in the canonical field order
    assert list(by_code["SSO_AMY"].fields.items()) == [
        ("forenames", "Amy"),
        ("login.password", False),
        ("login.external", True),
        ("login.mfa", True),
        ("roles", ("R",)),
    ]
    assert by_code["SSO_BO"].fields == dict(IDP_LOGIN)  # also when the entry writes no login
    assert by_code["SSO_AMY"].key_pos["login.password"] == at(4, 13)  # still at the entry
    assert by_code["LOCAL"] == next(u for u in desired.users if u.usercode == "LOCAL")
    assert dict(IDP_LOGIN) == {"login.password": False, "login.external": True}


def test_without_login_via_idp_the_desired_state_is_unchanged() -> None:
    desired = build((FILE, IDP_USERS))
    assert with_idp_login(desired, Config()) is desired


def test_config_from_an_empty_or_broken_document_is_the_default() -> None:
    empty = parse_yaml(b"", "pisync.yaml", allow_empty=True)
    assert config_from_document(empty) == Config()
    assert config_from_document(ParsedFile(file="pisync.yaml", data=None)) == Config()


# --- any valid document builds -----------------------------------------------------------

NAMES = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=6)
USERS = st.fixed_dictionaries(
    {"usercode": st.from_regex(r"\A[A-Za-z0-9._@-]{1,8}\Z")},
    optional={
        "forenames": st.text(max_size=5),
        "type": st.sampled_from(["administrator", "designer", "user", "chart-viewer"]),
        "enabled": st.booleans(),
        "parent": st.from_regex(r"\A[a-z]{1,4}\Z"),
        "expires": st.none() | st.dates().map(lambda d: d.isoformat()),
        "login": st.fixed_dictionaries(
            {}, optional={"mfa": st.booleans(), "external": st.just(True)}
        ),
        "privileges": st.lists(st.sampled_from(list(PRIVILEGES)), max_size=4),
        "roles": st.lists(NAMES, max_size=4),
        "categories": st.lists(NAMES, max_size=4),
        "variables": st.dictionaries(
            NAMES,
            NAMES
            | st.fixed_dictionaries({"env": st.just("E"), "secure": st.booleans()})
            | st.fixed_dictionaries({"value": NAMES}, optional={"secure": st.just(False)}),
            max_size=3,
        ),
        "restrictions": st.lists(
            st.fixed_dictionaries(
                {"connection": NAMES, "column": NAMES, "values": st.lists(NAMES, min_size=1)}
            ),
            max_size=3,
        ),
        "pisync": st.fixed_dictionaries(
            {},
            optional={
                "prune": st.booleans(),
                "reason": NAMES,
                "ticket": st.from_regex(r"\A[A-Z]{2,4}-[0-9]{1,4}\Z"),
                "owner": st.from_regex(r"\A[a-z]{1,8}(@example\.com)?\Z"),
                "review_by": st.dates().map(lambda d: d.isoformat()),
            },
        ),
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(USERS, max_size=5, unique_by=lambda u: str(u["usercode"]).upper()))
def test_any_valid_document_builds(users: list[dict[str, Any]]) -> None:
    users = [u for u in users if str(u.get("parent", "")).upper() != u["usercode"].upper()]
    out = io.StringIO()
    YAML(typ="safe").dump({"users": users}, out)
    parsed = parse_yaml(out.getvalue().encode(), FILE)
    issues = validate_files([parsed], file_schema=load_schema("pisync-file"))
    assert [i for i in issues if i.severity == "error"] == []
    state = build_desired([parsed])
    assert [u.usercode for u in state.users] == sorted(u["usercode"].upper() for u in users)
    for spec in state.users:
        assert set(spec.key_pos) == set(spec.fields)
        assert list(spec.fields) == [f for f in USER_FIELDS if f in spec.fields]
    written = {u["usercode"].upper(): u.get("pisync", {}) for u in users}
    for spec in state.users:
        assert spec.meta.to_dict() == {k: written[spec.usercode].get(k) for k in GRANT_KEYS}


SPEC_POLICIES = """\
policies:
  mfa_required_for: {types: [administrator], privileges: [editUsers], severity: error}
  administrators: {min: 2, max: 5, severity: error}
  separation_of_duties:
    - roles: [Payments Creator, Payments Approver]
      reason: "four-eyes on payments"
      severity: error
  escalation_requires: {keys: [ticket, reason], severity: error}
  max_access_days: {administrator: 90, severity: warning}
  review_interval_days: {days: 180, severity: warning}
  email_domains: {allowed: [Example.com], severity: warning}
"""


def test_config_policies_of_spec_section_3() -> None:
    parsed = parse_yaml(SPEC_POLICIES.encode(), "pisync.yaml")
    assert validate_config(parsed, config_schema=load_schema("pisync-config")) == []
    policies = config_from_document(parsed).policies
    assert policies == Policies(
        mfa_required_for=MfaRule(
            types=frozenset({"administrator"}),
            privileges=frozenset({"editUsers"}),
            severity=Severity.ERROR,
        ),
        administrators=AdministratorsRule(min=2, max=5, severity=Severity.ERROR),
        separation_of_duties=(
            SeparationRule(
                roles=("Payments Creator", "Payments Approver"),
                reason="four-eyes on payments",
                severity=Severity.ERROR,
            ),
        ),
        escalation_requires=EscalationRule(keys=("ticket", "reason"), severity=Severity.ERROR),
        max_access_days=MaxAccessRule(days={"administrator": 90}, severity=Severity.WARNING),
        review_interval_days=ReviewRule(days=180, severity=Severity.WARNING),
        email_domains=EmailRule(allowed=frozenset({"example.com"}), severity=Severity.WARNING),
    )
    assert policies.names == POLICY_NAMES
    assert bool(policies)


def test_config_policies_default_to_none_and_severity_to_error() -> None:
    assert Config().policies == Policies()
    assert not Config().policies
    assert Config().policies.names == ()
    text = "policies: {review_interval_days: {days: 30}, separation_of_duties: []}\n"
    parsed = parse_yaml(text.encode(), "pisync.yaml")
    issues = validate_config(parsed, config_schema=load_schema("pisync-config"))
    assert [(i.pos.line, i.pos.col, i.message) for i in issues if i.pos] == [
        (1, 46, "separation_of_duties must list at least one entry")
    ]
    text = "policies: {review_interval_days: {days: 30}}\n"
    policies = config_from_document(parse_yaml(text.encode(), "pisync.yaml")).policies
    assert policies == Policies(review_interval_days=ReviewRule(days=30, severity=Severity.ERROR))
    assert policies.names == ("review_interval_days",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "policies: {administrators: {severity: fatal, min: 1}}\n",
            'severity must be one of error, warning; found "fatal"',
        ),
        (
            "policies: {administrators: {severity: error}}\n",
            "administrators needs at least one of min, max",
        ),
        (
            "policies: {mfa_required_for: {types: [root]}}\n",
            "a user type must be one of administrator, designer, chart-explorer, user,"
            ' chart-viewer; found "root"',
        ),
        (
            "policies: {max_access_days: {severity: warning}}\n",
            "max_access_days needs at least one of administrator, designer, chart-explorer,"
            " user, chart-viewer",
        ),
        (
            "policies: {escalation_requires: {keys: [why]}}\n",
            'a grant metadata key must be one of reason, ticket, owner, review_by; found "why"',
        ),
        (
            "policies: {separation_of_duties: [{roles: [A], reason: x}]}\n",
            "roles must list at least 2 entries",
        ),
        (
            "policies: {email_domains: {allowed: [example]}}\n",
            'a domain "example" is not valid: it must be a domain like example.com',
        ),
    ],
)
def test_config_policies_are_checked(text: str, message: str) -> None:
    parsed = parse_yaml(text.encode(), "pisync.yaml")
    issues = validate_config(parsed, config_schema=load_schema("pisync-config"))
    assert [(i.severity, i.message) for i in issues] == [("error", message)]
