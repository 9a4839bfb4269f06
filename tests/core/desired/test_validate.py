"""validate: every schema rule kind and cross-file rule, with exact messages and places;
the two validators agree; the issue renderers' exact formats."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.core.desired import schema as schema_check
from reconciler.core.desired.analysis import analyse, undeclared_refs
from reconciler.core.desired.references import unknown_role_issues
from reconciler.core.desired.rules import RoleRef, unchecked_roles_note
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.desired.validate import (
    CrossFile,
    all_issues,
    cross_file,
    validate_config,
    validate_files,
)
from reconciler.core.model.config import Config, RolePrune
from reconciler.core.model.issues import Issue, Stats, error, warning
from reconciler.core.model.privileges import PRIVILEGES
from reconciler.core.model.suggest import misspelling_of
from reconciler.core.model.values import SourcePos
from reconciler.core.render.issues import render_github, render_json, render_text, summary_line
from reconciler.core.yamlfile.keypaths import format_path
from reconciler.core.yamlfile.read import ParsedFile, parse_yaml
from reconciler.schemas import load_schema

FILE_SCHEMA = load_schema("pisync-file")
CONFIG_SCHEMA = load_schema("pisync-config")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "users"


def parsed(name: str, text: str) -> ParsedFile:
    return parse_yaml(text.encode("utf-8"), name)


def check(*files: tuple[str, str]) -> list[Issue]:
    return validate_files([parsed(n, t) for n, t in files], file_schema=FILE_SCHEMA)


def flat(issues: list[Issue]) -> list[tuple[str, int, int, str, str, str]]:
    """(file, line, col, severity, message, key path) per issue, for exact comparison."""
    return [
        (i.pos.file, i.pos.line, i.pos.col, i.severity, i.message, i.key_path)
        for i in issues
        if i.pos is not None
    ]


def one_user(body: str) -> str:
    return "users:\n  - usercode: jsmith\n" + body


# --- schema rules: (name, document, line, col, message, key path) -------------------------

ALLOWED_USER_KEYS = (
    "usercode, forenames, surname, email, type, enabled, lite, parent, organisation, theme, "
    "expires, login, privileges, roles, categories, variables, restrictions, pisync"
)
VARIABLE_SHAPE = 'text, {env: NAME, secure: true|false} or {value: "text", secure: false}'

SCHEMA_CASES: list[tuple[str, str, int, int, str, str]] = [
    (
        "unknown key, did you mean",
        one_user("    surenme: Smith\n"),
        3,
        5,
        'unknown key "surenme" in this user; did you mean "surname"?',
        "users[0].surenme",
    ),
    (
        "unknown key, allowed keys",
        one_user("    colour: red\n"),
        3,
        5,
        f'unknown key "colour" in this user; allowed keys: {ALLOWED_USER_KEYS}',
        "users[0].colour",
    ),
    (
        "unknown top-level key",
        "user:\n  - usercode: a\n",
        1,
        1,
        'unknown key "user" at the top level; did you mean "users"?',
        "user",
    ),
    (
        "unknown login key",
        one_user("    login: {password: true, sso: true}\n"),
        3,
        29,
        'unknown key "sso" in login; allowed keys: password, external, mfa',
        "users[0].login.sso",
    ),
    (
        "missing usercode",
        "users:\n  - forenames: Ann\n",
        2,
        5,
        'this user is missing the required key "usercode"',
        "users[0]",
    ),
    (
        "missing restriction keys",
        one_user("    restrictions:\n      - connection: Sales DB\n"),
        4,
        9,
        'this restriction is missing the required keys "column" and "values"',
        "users[0].restrictions[0]",
    ),
    (
        "missing role name",
        "roles:\n  - description: nameless\n",
        2,
        5,
        'this role is missing the required key "name"',
        "roles[0]",
    ),
    (
        "user type, did you mean",
        one_user("    type: admin\n"),
        3,
        5,
        "type must be one of administrator, designer, chart-explorer, user, chart-viewer; "
        'found "admin"; did you mean "administrator"?',
        "users[0].type",
    ),
    (
        "user type, case",
        one_user("    type: Designer\n"),
        3,
        5,
        "type must be one of administrator, designer, chart-explorer, user, chart-viewer; "
        'found "Designer"; did you mean "designer"?',
        "users[0].type",
    ),
    (
        "user type, no match",
        one_user("    type: boss\n"),
        3,
        5,
        "type must be one of administrator, designer, chart-explorer, user, chart-viewer; "
        'found "boss"',
        "users[0].type",
    ),
    (
        "unknown privilege, did you mean",
        one_user("    privileges: [pdf, exportCsv]\n"),
        3,
        23,
        f'unknown privilege "exportCsv"; did you mean "exportToCsv"? (`pisync schema` lists '
        f"all {len(PRIVILEGES)})",
        "users[0].privileges[1]",
    ),
    (
        "unknown privilege on a role",
        "roles:\n  - name: R\n    privileges: [fly]\n",
        3,
        18,
        f'unknown privilege "fly" (`pisync schema` lists all {len(PRIVILEGES)})',
        "roles[0].privileges[0]",
    ),
    (
        "boolean written as yes",
        one_user("    enabled: yes\n"),
        3,
        5,
        'enabled must be true or false, found the text "yes" (YAML 1.2 reads yes/no/on/off '
        "as text: write true or false)",
        "users[0].enabled",
    ),
    (
        "number for text",
        one_user("    forenames: 12\n"),
        3,
        5,
        "forenames must be text, found the number 12 (quote it to make it text)",
        "users[0].forenames",
    ),
    (
        "numeric usercode",
        "users:\n  - usercode: 12345\n",
        2,
        5,
        "usercode must be 1 to 64 of A-Z a-z 0-9 . _ @ -, found the number 12345 (quote it to "
        "make it text)",
        "users[0].usercode",
    ),
    (
        "text for a list",
        one_user("    roles: Finance Viewer\n"),
        3,
        5,
        'roles must be a list, found the text "Finance Viewer"',
        "users[0].roles",
    ),
    (
        "list item of the wrong type",
        one_user("    categories: [Sales, 7]\n"),
        3,
        25,
        "a category name must be text, found the number 7 (quote it to make it text)",
        "users[0].categories[1]",
    ),
    (
        "users not a list",
        "users:\n  jsmith: {}\n",
        1,
        1,
        "users must be a list, found a mapping",
        "users",
    ),
    (
        "user not a mapping",
        "users: [jsmith]\n",
        1,
        9,
        'a user must be a mapping of keys, found the text "jsmith"',
        "users[0]",
    ),
    (
        "usercode pattern",
        'users:\n  - usercode: "j smith"\n',
        2,
        5,
        'usercode "j smith" is not valid: it must be 1 to 64 of A-Z a-z 0-9 . _ @ -',
        "users[0].usercode",
    ),
    (
        "usercode with a final newline",
        'users:\n  - usercode: "jsmith\\n"\n',
        2,
        5,
        'usercode "jsmith\\n" is not valid: it must be 1 to 64 of A-Z a-z 0-9 . _ @ -',
        "users[0].usercode",
    ),
    (
        "email pattern",
        one_user("    email: john.example.com\n"),
        3,
        5,
        'email "john.example.com" is not valid: it must be an email address like name@example.com',
        "users[0].email",
    ),
    (
        "not a calendar date",
        one_user("    expires: 2027-02-30\n"),
        3,
        5,
        'expires "2027-02-30" is not a real date: write YYYY-MM-DD',
        "users[0].expires",
    ),
    (
        "date in another format",
        one_user("    expires: 31/01/2027\n"),
        3,
        5,
        'expires "31/01/2027" is not valid: it must be a date YYYY-MM-DD, or null for never',
        "users[0].expires",
    ),
    (
        "number for a date",
        one_user("    expires: 2027\n"),
        3,
        5,
        "expires must be a date YYYY-MM-DD, or null for never, found the number 2027",
        "users[0].expires",
    ),
    (
        "empty list of values",
        one_user("    restrictions:\n      - {connection: a, column: b, values: []}\n"),
        4,
        36,
        "values must list at least one entry",
        "users[0].restrictions[0].values",
    ),
    (
        "empty role name",
        'roles:\n  - name: ""\n',
        2,
        5,
        "name must not be empty",
        "roles[0].name",
    ),
    (
        "variable of the wrong type",
        one_user("    variables: {region: 5}\n"),
        3,
        17,
        f'variable "region" must be {VARIABLE_SHAPE}; found the number 5',
        "users[0].variables.region",
    ),
    (
        "env variable without secure",
        one_user("    variables:\n      db: {env: DB_PASSWORD}\n"),
        4,
        7,
        'variable "db" is missing the required key "secure"',
        "users[0].variables.db",
    ),
    (
        "variable with env and value",
        one_user("    variables:\n      db: {env: X, value: y, secure: true}\n"),
        4,
        7,
        f'variable "db" must be {VARIABLE_SHAPE}; found a mapping',
        "users[0].variables.db",
    ),
    (
        "variable with an unknown key",
        one_user("    variables:\n      db: {env: X, secure: true, note: hi}\n"),
        4,
        34,
        'unknown key "note" in variable "db"; allowed keys: env, secure',
        "users[0].variables.db.note",
    ),
    (
        "bad environment variable name",
        one_user("    variables:\n      db: {env: 1-BAD, secure: true}\n"),
        4,
        12,
        'env "1-BAD" is not valid: it must be an environment variable name: letters, digits '
        "and _, not starting with a digit",
        "users[0].variables.db.env",
    ),
    (
        "odd variable name in the key path",
        one_user('    variables: {"my var": [1]}\n'),
        3,
        17,
        f'variable "my var" must be {VARIABLE_SHAPE}; found a list',
        'users[0].variables["my var"]',
    ),
    (
        "pisync controls",
        one_user("    pisync: {prune: no}\n"),
        3,
        14,
        'prune must be true or false, found the text "no" (YAML 1.2 reads yes/no/on/off as '
        "text: write true or false)",
        "users[0].pisync.prune",
    ),
    (
        "grant ticket must be text",
        one_user("    pisync: {ticket: 123}\n"),
        3,
        14,
        "ticket must be text, found the number 123 (quote it to make it text)",
        "users[0].pisync.ticket",
    ),
    (
        "grant reason must not be empty",
        one_user('    pisync: {reason: ""}\n'),
        3,
        14,
        "reason must not be empty",
        "users[0].pisync.reason",
    ),
    (
        "grant owner is a usercode or an email",
        one_user("    pisync: {owner: Anika Shah}\n"),
        3,
        14,
        'owner "Anika Shah" is not valid: it must be a usercode or an email address',
        "users[0].pisync.owner",
    ),
    (
        "grant review_by is a date",
        one_user("    pisync: {review_by: 31/03/2027}\n"),
        3,
        14,
        'review_by "31/03/2027" is not valid: it must be a date YYYY-MM-DD',
        "users[0].pisync.review_by",
    ),
    (
        "grant review_by is a real date",
        one_user("    pisync: {review_by: 2027-02-30}\n"),
        3,
        14,
        'review_by "2027-02-30" is not a real date: write YYYY-MM-DD',
        "users[0].pisync.review_by",
    ),
    (
        "unknown pisync key",
        one_user("    pisync: {reasn: x}\n"),
        3,
        14,
        'unknown key "reasn" in pisync; did you mean "reason"?',
        "users[0].pisync.reasn",
    ),
]


@pytest.mark.parametrize(
    ("document", "line", "col", "message", "key_path"),
    [c[1:] for c in SCHEMA_CASES],
    ids=[c[0] for c in SCHEMA_CASES],
)
def test_schema_rule(document: str, line: int, col: int, message: str, key_path: str) -> None:
    assert flat(check(("users/a.yaml", document))) == [
        ("users/a.yaml", line, col, "error", message, key_path)
    ]


def test_a_valid_file_has_no_issues() -> None:
    document = one_user(
        "    forenames: John\n    surname: Smith\n    email: j@example.com\n"
        "    type: designer\n    enabled: true\n    lite: false\n    parent: ADMIN\n"
        "    organisation: Dashboard\n    theme: piBerry\n    expires: 2027-01-31\n"
        "    login: {password: false, external: true, mfa: false}\n"
        "    privileges: [exportToCsv, pdf]\n    roles: [Finance Viewer]\n"
        "    categories: [Sales]\n"
        "    variables: {region: North, db: {env: DB, secure: true}, x: {value: y}}\n"
        "    restrictions: [{connection: a, column: b, values: [c]}]\n"
        "    pisync: {prune: false, ignore: false, reason: Month-end close, ticket: SEC-1,\n"
        "             owner: anika.shah@example.com, review_by: 2027-03-31}\n"
        "roles:\n  - name: Finance Viewer\n    description: d\n    categories: [Finance]\n"
        "    privileges: [pdf]\n"
    )
    assert check(("users/a.yaml", document)) == []


def test_expires_may_be_null() -> None:
    assert check(("users/a.yaml", one_user("    expires: null\n"))) == []


def test_every_problem_in_a_file_is_reported_sorted() -> None:
    document = one_user("    type: boss\n    enabled: yes\n    surenme: x\n") + (
        "  - usercode: JSMITH\n"
    )
    issues = check(("users/a.yaml", document))
    assert [(i.pos.line, i.pos.col) for i in issues if i.pos] == [(3, 5), (4, 5), (5, 5), (6, 5)]
    assert issues[-1].message == 'duplicate usercode "JSMITH"; first declared at users/a.yaml:2:5'


def test_yaml_problems_come_through_and_stop_only_that_file() -> None:
    issues = check(("users/a.yaml", "users: [a\n"), ("users/b.yaml", one_user("    type: x\n")))
    assert [(i.file, i.pos.line if i.pos else 0) for i in issues] == [
        ("users/a.yaml", 2),
        ("users/b.yaml", 3),
    ]


# --- cross-file rules --------------------------------------------------------------------


def test_duplicate_usercode_is_reported_at_the_later_file_naming_the_first() -> None:
    # given in reverse order: the rule works in sorted file order
    issues = check(
        ("users/b.yaml", "users:\n  - usercode: JSmith\n"),
        ("users/a.yaml", "users:\n  - usercode: other\n  - usercode: jsmith\n"),
    )
    assert flat(issues) == [
        (
            "users/b.yaml",
            2,
            5,
            "error",
            'duplicate usercode "JSMITH"; first declared at users/a.yaml:3:5',
            "users[0].usercode",
        )
    ]


def test_duplicate_role_names_ignore_case() -> None:
    issues = check(
        ("users/roles.yaml", "roles:\n  - name: Finance Viewer\n"),
        ("users/x.yaml", "roles:\n  - name: finance viewer\n  - name: Finance Viewer\n"),
    )
    assert flat(issues) == [
        (
            "users/x.yaml",
            2,
            5,
            "error",
            'duplicate role "finance viewer"; first declared at users/roles.yaml:2:5 as '
            '"Finance Viewer" (role names are compared ignoring case)',
            "roles[0].name",
        ),
        (
            "users/x.yaml",
            3,
            5,
            "error",
            'duplicate role "Finance Viewer"; first declared at users/roles.yaml:2:5',
            "roles[1].name",
        ),
    ]


def test_duplicate_email_is_a_warning() -> None:
    issues = check(
        ("users/a.yaml", one_user("    email: J@Example.com\n")),
        ("users/b.yaml", "users:\n  - usercode: other\n    email: j@example.com\n"),
    )
    assert flat(issues) == [
        (
            "users/b.yaml",
            3,
            5,
            "warning",
            'duplicate email "j@example.com"; also used by JSMITH at users/a.yaml:3:5',
            "users[0].email",
        )
    ]


def test_both_login_methods_off() -> None:
    issues = check(("users/a.yaml", one_user("    login: {password: false, external: false}\n")))
    assert flat(issues) == [
        (
            "users/a.yaml",
            3,
            5,
            "error",
            "login: password and external are both false, so nobody could sign in as this "
            "user; set one of them to true",
            "users[0].login",
        )
    ]


def test_one_login_method_off_is_fine() -> None:
    assert check(("users/a.yaml", one_user("    login: {password: false}\n"))) == []


IDP_FILE = """\
users:
  - usercode: sso_amy
    login: {password: true, external: false, mfa: true}
  - usercode: sso_bo
    login: {password: false, external: true}
  - usercode: local
    login: {password: true}
  - usercode: sso_cy
    login:
      password: true
"""


def test_login_flags_an_idp_sign_in_overrides_are_warned_at_their_keys() -> None:
    checker = SchemaChecker(FILE_SCHEMA)
    results = [analyse(parsed("users/a.yaml", IDP_FILE), checker)]
    said = (
        "signs in through the identity provider (users.login_via_idp), which sets"
        " login.password: false and login.external: true at each sign-in, so pisync plans"
        " those; remove {}, or take the user out of users.login_via_idp"
    )
    issues = all_issues(results, Config(login_via_idp=("sso_*",)))
    assert flat(issues) == [
        (
            "users/a.yaml",
            3,
            13,
            "warning",
            "user SSO_AMY " + said.format("login.password: true"),
            "users[0].login.password",
        ),
        (
            "users/a.yaml",
            3,
            29,
            "warning",
            "user SSO_AMY " + said.format("login.external: false"),
            "users[0].login.external",
        ),
        (
            "users/a.yaml",
            10,
            7,
            "warning",
            "user SSO_CY " + said.format("login.password: true"),
            "users[3].login.password",
        ),
    ]
    # LOCAL is not an IdP user; three users writing password: true are no "duplicate"
    assert all_issues(results, Config()) == []
    assert all_issues(results) == []


def test_a_secure_literal_is_an_error() -> None:
    issues = check(
        ("users/a.yaml", one_user("    variables:\n      db: {value: hunter2, secure: true}\n"))
    )
    assert flat(issues) == [
        (
            "users/a.yaml",
            4,
            7,
            "error",
            'variable "db" has a literal value marked secure: true, but secrets never live in '
            "git: use {env: NAME, secure: true} and set NAME when you apply",
            "users[0].variables.db",
        )
    ]


def test_a_user_who_is_their_own_parent() -> None:
    issues = check(("users/a.yaml", one_user("    parent: JSmith\n")))
    assert flat(issues) == [
        (
            "users/a.yaml",
            3,
            5,
            "error",
            'parent "JSMITH" is this user itself; a user cannot be its own parent',
            "users[0].parent",
        )
    ]


def test_undeclared_roles_are_not_an_error_offline_but_are_listed() -> None:
    files = [
        parsed("users/roles.yaml", "roles:\n  - name: Finance Viewer\n"),
        parsed("users/a.yaml", one_user("    roles: [finance viewer, Sales Editor]\n")),
    ]
    assert validate_files(files, file_schema=FILE_SCHEMA) == []
    refs = undeclared_refs([analyse(f, SchemaChecker(FILE_SCHEMA)) for f in files])
    assert refs == [
        RoleRef.at(
            SourcePos(file="users/a.yaml", line=3, col=29),
            role="Sales Editor",
            usercode="JSMITH",
            key_path="users[0].roles[1]",
        )
    ]
    assert unknown_role_issues(refs, ["sales editor"]) == []
    assert flat(unknown_role_issues(refs, ["Sales Editors", "Admins"])) == [
        (
            "users/a.yaml",
            3,
            29,
            "error",
            'role "Sales Editor" is neither declared in a desired-state file nor defined on the '
            'server; declare it under roles:, or did you mean "Sales Editors"?',
            "users[0].roles[1]",
        )
    ]


ROLES_FILE = "roles:\n  - name: Sales Viewer\n  - name: Finance Viewer\n"


def cross(*files: tuple[str, str], config: Config | None = None, whole: bool = True) -> CrossFile:
    checker = SchemaChecker(FILE_SCHEMA)
    return cross_file([analyse(parsed(n, t), checker) for n, t in files], config, whole=whole)


def test_a_misspelt_declared_role_is_an_error_offline_with_did_you_mean() -> None:
    found = cross(
        ("users/roles.yaml", ROLES_FILE),
        ("users/a.yaml", one_user("    roles: [Sales Viewr, sales viewer, Legacy Admins]\n")),
    )
    assert flat(found.issues) == [
        (
            "users/a.yaml",
            3,
            13,
            "error",
            'role "Sales Viewr" is not declared in any desired-state file; did you mean'
            ' "Sales Viewer"? If the server has a role of exactly this name, declare it under'
            " roles: with its name alone (that leaves it as it is)",
            "users[0].roles[0]",
        )
    ]
    # far from every declared name: it may exist only on the server, which plan checks
    assert [r.role for r in found.unchecked_roles] == ["Legacy Admins"]


def test_a_role_unlike_any_declared_one_is_left_to_the_plan() -> None:
    found = cross(
        ("users/roles.yaml", ROLES_FILE),
        ("users/a.yaml", one_user("    roles: [Sales Editor, Sales, HR]\n")),
    )
    assert found.issues == []
    assert [r.role for r in found.unchecked_roles] == ["Sales Editor", "Sales", "HR"]


def test_with_roles_prune_delete_every_undeclared_role_is_an_error() -> None:
    config = Config(roles_prune=RolePrune.DELETE)
    user = one_user("    roles: [Sales Viewers, Legacy Admins]\n")
    found = cross(("users/roles.yaml", ROLES_FILE), ("users/a.yaml", user), config=config)
    said = (
        " is not declared in any desired-state file, and roles.prune: delete means the files"
        " declare every role; declare it under roles:"
    )
    assert flat(found.issues) == [
        (
            "users/a.yaml",
            3,
            13,
            "error",
            'role "Sales Viewers"' + said + ', or did you mean "Sales Viewer"?',
            "users[0].roles[0]",
        ),
        ("users/a.yaml", 3, 28, "error", 'role "Legacy Admins"' + said, "users[0].roles[1]"),
    ]
    assert found.unchecked_roles == ()
    # a part of the files (PATHs, --changed-since) may not show every declaration
    partial = cross(
        ("users/roles.yaml", ROLES_FILE), ("users/a.yaml", user), config=config, whole=False
    )
    assert [i.message.split(";")[0] for i in partial.issues] == [  # still a misspelling
        'role "Sales Viewers" is not declared in any desired-state file'
    ]
    assert [r.role for r in partial.unchecked_roles] == ["Legacy Admins"]


def test_the_note_counts_references_and_roles_once() -> None:
    found = cross(
        ("users/a.yaml", one_user("    roles: [Legacy, legacy, Other]\n")),
        ("users/b.yaml", "users:\n  - usercode: b\n    roles: [Legacy]\n"),
    )
    assert unchecked_roles_note(found.unchecked_roles) == (
        "4 role references name 2 roles that no file declares; they may exist only on the"
        " server, so validate cannot check them offline: pisync plan checks them"
    )
    assert unchecked_roles_note(found.unchecked_roles[:1]) == (
        "1 role reference names a role that no file declares; it may exist only on the"
        " server, so validate cannot check it offline: pisync plan checks it"
    )
    assert unchecked_roles_note(()) is None


def test_misspelling_of_is_stricter_than_did_you_mean() -> None:
    declared = ["Sales Viewer", "Finance Viewer"]
    assert misspelling_of("Sales Viewr", declared) == "Sales Viewer"
    assert misspelling_of("SalesViewer", declared) == "Sales Viewer"
    assert misspelling_of("Sales Editor", declared) is None  # did_you_mean says Sales Viewer
    assert misspelling_of("Sales", declared) is None  # a prefix is a name of its own
    assert misspelling_of("R1", ["R0"]) is None


# --- the config --------------------------------------------------------------------------

CONFIG = """\
sources: []
server: {url: "ftp://pi", timeout: 0, concurrency: 100, verifytls: true}
defaults:
  usercode: x
  login: {password: false, external: false}
users: {prune: yes, protected: ADMIN}
roles: {prune: disable}
safety: {max_prune_percent: 150}
plan: {expiring_days: -1}
"""


def test_config_problems_all_at_once() -> None:
    issues = validate_config(parsed("pisync.yaml", CONFIG), config_schema=CONFIG_SCHEMA)
    assert [(i.pos.line, i.pos.col, i.message) for i in issues if i.pos] == [
        (1, 1, "sources must list at least one entry"),
        (
            2,
            10,
            'url "ftp://pi" is not valid: it must be a URL that starts with https:// or http://',
        ),
        (2, 27, "timeout must be greater than 0, found 0"),
        (2, 39, "concurrency must be at most 64, found 100"),
        (2, 57, 'unknown key "verifytls" in server; did you mean "verify_tls"?'),
        (
            4,
            3,
            'unknown key "usercode" in defaults; allowed keys: forenames, surname, email, type, '
            "enabled, lite, parent, organisation, theme, expires, login, privileges, roles, "
            "categories, variables, restrictions",
        ),
        (
            5,
            3,
            "login: password and external are both false, so nobody could sign in as a new "
            "user; set one of them to true",
        ),
        (6, 9, 'prune must be one of off, disable, delete, false; found "yes"'),
        (6, 21, 'protected must be a list, found the text "ADMIN"'),
        (7, 9, 'prune must be one of off, delete, false; found "disable"'),
        (8, 10, "max_prune_percent must be at most 100, found 150"),
        (9, 8, "expiring_days must be at least 0, found -1"),
    ]


def test_an_empty_config_is_valid() -> None:
    empty = parse_yaml(b"# nothing\n", "pisync.yaml", allow_empty=True)
    assert validate_config(empty, config_schema=CONFIG_SCHEMA) == []


# --- the two validators agree ------------------------------------------------------------

USER_SCHEMA = {"$schema": FILE_SCHEMA["$schema"], "$defs": FILE_SCHEMA["$defs"]} | {
    "$ref": "#/$defs/user"
}
AGREEMENT: list[tuple[bool, dict[str, Any]]] = [
    (True, {"usercode": "a"}),
    (True, {"usercode": "a.b@c-d_e", "type": "chart-viewer", "expires": None}),
    (True, {"usercode": "a", "expires": "2028-02-29", "privileges": list(PRIVILEGES)}),
    (True, {"usercode": "a", "variables": {"x": "y", "s": {"env": "S", "secure": True}}}),
    (True, {"usercode": "a", "variables": {"v": {"value": "w", "secure": False}}}),
    (
        True,
        {"usercode": "a", "restrictions": [{"connection": "c", "column": "d", "values": ["e"]}]},
    ),
    (True, {"usercode": "a", "email": "x@y", "login": {"mfa": True}, "pisync": {"ignore": True}}),
    (False, {}),
    (False, {"usercode": ""}),
    (False, {"usercode": "a" * 65}),
    (False, {"usercode": "a b"}),
    (False, {"usercode": "jsmith\n"}),
    (False, {"usercode": 5}),
    (False, {"usercode": "a", "type": "admin"}),
    (False, {"usercode": "a", "enabled": "yes"}),
    (False, {"usercode": "a", "expires": "2027-02-30"}),
    (False, {"usercode": "a", "expires": "2027-1-5"}),
    (False, {"usercode": "a", "expires": "2027-01-31\n"}),
    (False, {"usercode": "a", "email": "no-at-sign"}),
    (False, {"usercode": "a", "email": "a@b\n"}),
    (False, {"usercode": "a", "privileges": ["exportCsv"]}),
    (False, {"usercode": "a", "roles": [""]}),
    (False, {"usercode": "a", "variables": {"x": 1}}),
    (False, {"usercode": "a", "variables": {"x": {"env": "X"}}}),
    (False, {"usercode": "a", "variables": {"x": {"env": "X", "value": "y", "secure": True}}}),
    (False, {"usercode": "a", "restrictions": [{"connection": "c", "column": "d", "values": []}]}),
    (False, {"usercode": "a", "login": {"sso": True}}),
    (False, {"usercode": "a", "surename": "x"}),
    (False, {"usercode": "a", "pisync": {"prune": "no"}}),
]


@pytest.mark.parametrize(("valid", "user"), AGREEMENT)
def test_jsonschema_rs_and_jsonschema_agree(valid: bool, user: dict[str, Any]) -> None:
    fast = schema_check._fast_validator(USER_SCHEMA)
    slow = schema_check._slow_validator(USER_SCHEMA)
    assert fast is not None
    assert fast.is_valid(user) is valid
    assert (not list(slow.iter_errors(user))) is valid


class _Disagreeing:
    """A stand-in fast validator that rejects what jsonschema accepts."""

    class _Error:
        instance_path = ("users", 0, "usercode")
        message = "rejected by the fast validator"

    def is_valid(self, instance: Any) -> bool:
        return False

    def iter_errors(self, instance: Any) -> list[Any]:
        return [self._Error()]


def test_if_the_validators_ever_disagree_the_fast_ones_errors_are_reported() -> None:
    checker = SchemaChecker(FILE_SCHEMA)
    checker._fast = _Disagreeing()
    doc = parsed("users/a.yaml", "users:\n  - usercode: a\n").data
    assert doc is not None
    assert checker.check(doc) == [
        error(
            SourcePos(file="users/a.yaml", line=2, col=5),
            "rejected by the fast validator",
            "users[0].usercode",
        )
    ]


def test_a_schema_the_fast_validator_cannot_compile_still_validates() -> None:
    # "\\Z" is a Python regex but not an ECMA-262 one: jsonschema_rs refuses the schema
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^a\\Z"}}}
    checker = SchemaChecker(schema)
    assert checker._fast is None
    doc = parsed("f.yaml", "a: 1\n").data
    assert doc is not None
    assert [i.message for i in checker.check(doc)] == ["a must be text, found the number 1"]


# --- never raises ------------------------------------------------------------------------

KEYS = st.sampled_from(
    ["usercode", "type", "login", "variables", "roles", "privileges", "expires", "x", "pisync"]
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)
DOCS = st.dictionaries(
    st.sampled_from(["users", "roles", "other"]),
    st.lists(st.dictionaries(KEYS | st.sampled_from(["name", "env", "secure"]), VALUES)) | VALUES,
    max_size=3,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DOCS, min_size=1, max_size=3))
def test_validation_of_any_document_returns_issues(docs: list[dict[str, Any]]) -> None:
    files = []
    for i, doc in enumerate(docs):
        out = io.StringIO()
        YAML(typ="safe").dump(doc, out)
        files.append(parsed(f"users/{i}.yaml", out.getvalue()))
    issues = validate_files(files, file_schema=FILE_SCHEMA)
    assert all(isinstance(i, Issue) for i in issues)
    assert issues == sorted(issues, key=Issue.sort_key)


@settings(max_examples=200, deadline=2000)
@given(
    st.lists(
        st.sampled_from(
            [
                *("users:", "roles:", "\n  - ", "usercode: ", "a", "name: ", "[", "]", "{", "}"),
                *(", ", "\n    ", "login: ", "variables: ", "x: ", "true", "5", "*a", "&a ", ": "),
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_validation_of_any_text_returns_issues(text: str) -> None:
    issues = validate_files([parsed("users/a.yaml", text)], file_schema=FILE_SCHEMA)
    assert all(isinstance(i, Issue) for i in issues)


# --- examples ----------------------------------------------------------------------------


def test_the_examples_validate() -> None:
    paths = sorted(EXAMPLES.glob("**/*.y*ml")) if EXAMPLES.is_dir() else []
    if not paths:
        pytest.skip("examples/users/ has no YAML yet")
    files = [parse_yaml(p.read_bytes(), p.name) for p in paths]
    issues = validate_files(files, file_schema=FILE_SCHEMA)
    assert [i for i in issues if i.severity == "error"] == []


# --- key paths ---------------------------------------------------------------------------


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("users", 3, "roles", 0)) == "users[3].roles[0]"
    assert format_path(("users", 0, "variables", 'a "b"')) == 'users[0].variables["a \\"b\\""]'


# --- rendering ---------------------------------------------------------------------------

A = SourcePos(file="users/a.yaml", line=4, col=5)
B = SourcePos(file="users/b,c.yaml", line=2, col=7)
ISSUES = [
    warning(B, 'duplicate email "j@x.com"; also used by JSMITH at users/a.yaml:6:5', "users[0]"),
    error(
        A, 'duplicate usercode "JSMITH"; first declared at users/a.yaml:1:5', "users[1].usercode"
    ),
    error(None, "no desired-state files found: somewhere"),
    error(B, "100% broken:\nsecond line", ""),
]
STATS = Stats(files=3, users=120, roles=4)


def test_render_text_exact() -> None:
    assert render_text(ISSUES, STATS) == (
        "error: no desired-state files found: somewhere\n"
        'users/a.yaml:4:5: error: duplicate usercode "JSMITH"; first declared at '
        "users/a.yaml:1:5 (at users[1].usercode)\n"
        # a line break inside a message cannot start a line of its own
        "users/b,c.yaml:2:7: error: 100% broken:\\u000asecond line\n"
        'users/b,c.yaml:2:7: warning: duplicate email "j@x.com"; also used by JSMITH at '
        "users/a.yaml:6:5 (at users[0])\n"
        "3 errors, 1 warning in 2 of 3 files.\n"
    )


@pytest.mark.parametrize(
    ("issues", "stats", "line"),
    [
        ([], STATS, "All 3 files valid: 120 users, 4 roles."),
        ([], Stats(files=1, users=1, roles=0), "1 file valid: 1 user, 0 roles."),
        (ISSUES[:1], STATS, "All 3 files valid (1 warning): 120 users, 4 roles."),
        (ISSUES[2:3], Stats(), "1 error."),
        (ISSUES[1:2], Stats(files=1), "1 error in 1 of 1 file."),
    ],
)
def test_summary_line(issues: list[Issue], stats: Stats, line: str) -> None:
    assert summary_line(issues, stats) == line


def test_render_json_exact() -> None:
    doc = json.loads(render_json(ISSUES, STATS))
    assert doc == {
        "format_version": 1,
        "valid": False,
        "counts": {
            "errors": 3,
            "warnings": 1,
            "files": 3,
            "files_with_issues": 2,
            "users": 120,
            "roles": 4,
        },
        "issues": [
            {
                "severity": "error",
                "file": None,
                "line": None,
                "col": None,
                "key_path": "",
                "message": "no desired-state files found: somewhere",
            },
            {
                "severity": "error",
                "file": "users/a.yaml",
                "line": 4,
                "col": 5,
                "key_path": "users[1].usercode",
                "message": 'duplicate usercode "JSMITH"; first declared at users/a.yaml:1:5',
            },
            {
                "severity": "error",
                "file": "users/b,c.yaml",
                "line": 2,
                "col": 7,
                "key_path": "",
                "message": "100% broken:\nsecond line",
            },
            {
                "severity": "warning",
                "file": "users/b,c.yaml",
                "line": 2,
                "col": 7,
                "key_path": "users[0]",
                "message": 'duplicate email "j@x.com"; also used by JSMITH at users/a.yaml:6:5',
            },
        ],
        "notes": [],
    }
    assert render_json([], STATS).startswith('{\n  "format_version": 1,\n  "valid": true,')
    assert json.loads(render_json([], STATS, notes=["n"]))["notes"] == ["n"]


def test_notes_come_before_the_summary_line_and_not_with_quiet() -> None:
    issues = [warning(SourcePos(file="users/a.yaml", line=1, col=1), "w")]
    assert render_text(issues, STATS, notes=["it could not check 2 things"]) == (
        "users/a.yaml:1:1: warning: w\n"
        "note: it could not check 2 things\n"
        "All 3 files valid (1 warning): 120 users, 4 roles.\n"
    )
    assert render_github(issues, STATS, notes=["n"]).splitlines()[1:] == [
        "note: n",
        "All 3 files valid (1 warning): 120 users, 4 roles.",
    ]
    assert render_text(issues, STATS, quiet=True, notes=["n"]) == (
        "All 3 files valid (1 warning): 120 users, 4 roles.\n"
    )


def test_render_github_exact_and_escaped() -> None:
    assert render_github(ISSUES, STATS) == (
        "::error title=pisync::no desired-state files found: somewhere\n"
        '::error file=users/a.yaml,line=4,col=5,title=pisync::duplicate usercode "JSMITH"; '
        "first declared at users/a.yaml:1:5 (at users[1].usercode)\n"
        "::error file=users/b%2Cc.yaml,line=2,col=7,title=pisync::100%25 broken:%0Asecond line\n"
        "::warning file=users/b%2Cc.yaml,line=2,col=7,title=pisync::duplicate email "
        '"j@x.com"; also used by JSMITH at users/a.yaml:6:5 (at users[0])\n'
        "3 errors, 1 warning in 2 of 3 files.\n"
    )


def test_render_github_annotates_at_most_ten_per_severity() -> None:
    issues = [error(SourcePos(file="f.yaml", line=n, col=1), f"e{n}") for n in range(1, 13)]
    issues.append(warning(SourcePos(file="f.yaml", line=99, col=1), "w"))
    lines = render_github(issues, Stats(files=1)).splitlines()
    assert lines[:10] == [
        f"::error file=f.yaml,line={n},col=1,title=pisync::e{n}" for n in range(1, 11)
    ]
    assert lines[10:] == [
        "f.yaml:11:1: error: e11",
        "f.yaml:12:1: error: e12",
        "::warning file=f.yaml,line=99,col=1,title=pisync::w",
        "2 more issues were printed without annotations (GitHub shows at most 10 errors and "
        "10 warnings per step).",
        "12 errors, 1 warning in 1 of 1 file.",
    ]


def test_property_escaping_covers_colons() -> None:
    issue = error(SourcePos(file="C:/x,y.yaml", line=1, col=1), "m")
    assert render_github([issue], Stats(files=1)).splitlines()[0] == (
        "::error file=C%3A/x%2Cy.yaml,line=1,col=1,title=pisync::m"
    )


@pytest.mark.parametrize(
    "name",
    ["PISYNC_PASSWORD", "PISYNC_PROD_TOKEN", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "GH_TOKEN"],
)
def test_a_variable_never_reads_pisyncs_or_the_runners_own_environment(name: str) -> None:
    issues = check(
        ("users/a.yaml", one_user(f"    variables:\n      x: {{env: {name}, secure: true}}\n"))
    )
    assert flat(issues) == [
        (
            "users/a.yaml",
            4,
            16,
            "error",
            f'variable "x" reads {name}, an environment variable of pisync\'s own or of the CI'
            " runner (PISYNC_*, GITHUB_*, ACTIONS_*, RUNNER_*): its value, a credential perhaps,"
            " would be sent to the server; read the secret from a variable of its own, e.g."
            " {env: FINANCE_DB_PASSWORD, secure: true}",
            "users[0].variables.x.env",
        )
    ]


def test_the_names_import_gives_secure_variables_are_not_reserved() -> None:
    text = one_user("    variables:\n      x: {env: PISYNC_VAR_JSMITH_X, secure: true}\n")
    assert check(("users/a.yaml", text)) == []
