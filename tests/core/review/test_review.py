"""The access review's model and renderers: one scenario with every kind of user, its JSON
structure asserted whole, its four renderings pinned by golden files, and what must never be
in any of them (a secret, a digest, an unescaped name, a formula a spreadsheet would run).

Refresh the golden files on purpose only (``make golden``), then review the diff.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from reconciler.core.model.config import (
    AdministratorsRule,
    Config,
    EmailRule,
    MfaRule,
    Policies,
    ReviewRule,
    Severity,
)
from reconciler.core.model.values import (
    Category,
    DesiredState,
    Grant,
    LiveRole,
    LiveState,
    LiveUser,
    RoleSpec,
    SourcePos,
    UserSpec,
    Variable,
)
from reconciler.core.review.build import build_review
from reconciler.core.review.formats import CSV_COLUMNS, render_csv, render_json, render_markdown
from reconciler.core.review.html import CSP, render_html
from reconciler.core.review.model import History, Provenance, Review
from reconciler.schemas import load_schema
from tests.core.builders import rec

TODAY = dt.date(2026, 3, 1)
URL = "https://pi.example.com:8224/pi/api/v2"
SECRET = "warehouse-s3cret"
LIVE_SECRET = "live-only-s3cret"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def at(line: int) -> SourcePos:
    return SourcePos(file="users/team.yaml", line=line, col=5)


def scenario(history: History | None = None, secrets: dict[str, str] | None = None) -> Review:
    admins = LiveRole(
        name="User Admins",
        id="r1",
        fields={
            "description": "Manage users",
            "categories": ("HR",),
            "privileges": ("editUsers", "pdf"),
        },
    )
    viewers = LiveRole(
        name="Viewers",
        id="r2",
        fields={"description": None, "categories": ("Sales",), "privileges": ("pdf",)},
    )
    users = [
        LiveUser(usercode="ADMIN", id="1", record=rec(type="administrator"), super_admin=True),
        LiveUser(
            usercode="ANA",
            id="2",
            record=rec(
                {"login.mfa": True},
                type="designer",
                email="ana@example.com",
                roles=("user admins",),
                categories=("Finance",),
                privileges=("exportToCsv",),
                variables=(
                    Variable(name="warehouse", secure=True, digest=sha(SECRET)),
                    Variable(name="region", value="North"),
                ),
            ),
        ),
        LiveUser(
            usercode="BEN",
            id="3",
            record=rec(email="ben@gmail.com", roles=("Viewers",), expires="2026-02-01"),
        ),
        LiveUser(
            usercode="CARL",
            id="4",
            record=rec(type="administrator", email="carl@example.com", expires="2026-03-20"),
        ),
        LiveUser(
            usercode="STRAY",
            id="5",
            record=rec(
                email="stray@example.com",
                privileges=("editRoles",),
                variables=(Variable(name="token", secure=True, digest=sha(LIVE_SECRET)),),
            ),
        ),
        LiveUser(usercode="SVC_BOT", id="6", record=rec(enabled=False)),
        LiveUser(
            usercode="EVIL",
            id="7",
            record=rec(email="e@example.com", roles=("<script>alert(1)</script>|x",)),
        ),
    ]
    live = LiveState(
        users={u.usercode: u for u in users},
        roles={r.name.casefold(): r for r in (admins, viewers)},
        categories={"hr": Category(name="HR", id="c1"), "sales": Category(name="Sales", id="c2")},
    )
    desired = DesiredState(
        users=(
            UserSpec(
                usercode="ANA",
                fields={
                    "email": "ana@example.com",
                    "roles": ("User Admins",),
                    "variables": (
                        Variable(name="warehouse", env="WAREHOUSE", secure=True),
                        Variable(name="region", value="North"),
                    ),
                },
                source=at(2),
                meta=Grant(
                    reason='Runs =HYPERLINK("x") user admin',
                    ticket="SEC-1",
                    owner="ashah",
                    review_by="2026-06-30",
                ),
            ),
            UserSpec(
                usercode="BEN",
                fields={"email": "ben@gmail.com", "roles": ()},
                source=at(9),
                meta=Grant(review_by="2026-01-31"),
            ),
            UserSpec(usercode="CARL", fields={"type": "administrator"}, source=at(14)),
            UserSpec(usercode="EVIL", fields={"email": "e@example.com"}, source=at(17)),
            UserSpec(usercode="GHOST", fields={"forenames": "G"}, source=at(20)),
        ),
        roles=(RoleSpec(name="Viewers", fields={"categories": ("Sales",)}, source=at(30)),),
    )
    config = Config(
        ignore=("SVC_*",),
        policies=Policies(
            mfa_required_for=MfaRule(types=frozenset({"administrator"})),
            administrators=AdministratorsRule(min=3),
            review_interval_days=ReviewRule(days=180, severity=Severity.WARNING),
            email_domains=EmailRule(allowed=frozenset({"example.com"}), severity=Severity.WARNING),
        ),
    )
    ana = Provenance(
        commit="a" * 40,
        author="Anika Shah",
        email="anika@example.com",
        date="2026-01-05T10:00:00+00:00",
        subject="Give ANA user admin (#12)",
        pull_request=12,
    )
    default = History(
        changes={"ANA": ana, "CARL": ana},
        missing={"BEN": "its entry has changes that are not committed yet"},
    )
    return build_review(
        live,
        desired,
        config,
        server=URL,
        today=TODAY,
        history=default if history is None else history,
        secrets={"WAREHOUSE": SECRET} if secrets is None else secrets,
    )


def test_the_review_as_json_is_whole_and_schema_valid() -> None:
    data = json.loads(render_json(scenario()))
    jsonschema.Draft202012Validator(
        load_schema("review"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    assert data["summary"] == {
        "users": 7,
        "enabled": 6,
        "by_type": {"administrator": 2, "designer": 1, "user": 4},
        "by_role": {"User Admins": 1, "Viewers": 1},
        "administrators": ["ADMIN", "CARL"],
        "unmanaged": ["ADMIN", "STRAY"],
        "ignored": ["SVC_BOT"],
        "drifted": ["BEN"],
        "declared_missing": ["GHOST"],
        "expired_but_enabled": ["BEN"],
        "reviews_overdue": ["BEN"],
        "expiring": {"30": 1, "60": 1, "90": 1},
        "policy_violations": {
            "error": 2,
            "warning": 4,
            "by_policy": {"mfa_required_for": 2, "review_interval_days": 3, "email_domains": 1},
        },
    }
    assert data["server_findings"] == [
        {
            "policy": "administrators",
            "severity": "error",
            "message": "the server has 2 enabled administrators (ADMIN, CARL), fewer than the"
            " minimum of 3; declare another",
        }
    ]
    ana = next(u for u in data["users"] if u["usercode"] == "ANA")
    assert ana == {
        "usercode": "ANA",
        "type": "designer",
        "enabled": True,
        "expires": None,
        "super_admin": False,
        "roles": ["User Admins"],
        "categories": ["Finance", "HR"],
        "privileges": ["editUsers", "exportToCsv", "pdf"],
        "direct": {"categories": ["Finance"], "privileges": ["exportToCsv"]},
        "through_roles": {
            "User Admins": {"categories": ["HR"], "privileges": ["editUsers", "pdf"]}
        },
        "secure_variables": ["warehouse"],
        "declared": True,
        "ignored": False,
        "source": "users/team.yaml:2:5",
        "drift": [],
        "reason": 'Runs =HYPERLINK("x") user admin',
        "ticket": "SEC-1",
        "owner": "ashah",
        "review_by": "2026-06-30",
        "findings": [],
        "last_change": {
            "commit": "a" * 40,
            "author": "Anika Shah",
            "email": "anika@example.com",
            "date": "2026-01-05T10:00:00+00:00",
            "subject": "Give ANA user admin (#12)",
            "pull_request": 12,
        },
        "last_change_note": None,
    }
    by_code = {u["usercode"]: u for u in data["users"]}
    assert [(c, u["drift"], u["last_change_note"]) for c, u in by_code.items()] == [
        ("ADMIN", None, "not declared in the repository"),
        ("ANA", [], None),
        ("BEN", ["roles"], "its entry has changes that are not committed yet"),
        ("CARL", [], None),
        ("EVIL", [], "no commit found for the entry"),
        ("STRAY", None, "not declared in the repository"),
        ("SVC_BOT", None, "not declared in the repository"),
    ]
    assert [f["message"] for f in by_code["STRAY"]["findings"]] == [
        "STRAY has escalating access (privilege editRoles) without pisync: review_by; set a"
        " review date on or before 2026-08-28 (every 180 days)"
    ]
    assert by_code["STRAY"]["secure_variables"] == ["token"]
    assert by_code["SVC_BOT"]["ignored"] is True


def test_a_secret_is_drift_only_when_the_environment_holds_another_value() -> None:
    def ana(review: Review) -> tuple[str, ...] | None:
        return next(r for r in review.rows if r.usercode == "ANA").drift

    assert ana(scenario()) == ()
    assert ana(scenario(secrets={})) == ()  # unknown here: cannot be compared, never drift
    assert ana(scenario(secrets={"WAREHOUSE": "another value"})) == ("variables",)


def test_outside_git_every_last_change_is_null_and_the_report_says_why() -> None:
    note = "/tmp/x is not inside a git repository, so there is no provenance"
    review = scenario(History(available=False, note=note))
    data = json.loads(render_json(review))
    assert data["provenance"] == {"available": False, "note": note}
    assert {u["usercode"]: u["last_change"] for u in data["users"]} == dict.fromkeys(
        ["ADMIN", "ANA", "BEN", "CARL", "EVIL", "STRAY", "SVC_BOT"]
    )
    assert {u["last_change_note"] for u in data["users"] if u["declared"]} == {note}
    for text in (render_markdown(review), render_html(review)):
        assert note in text


RENDERERS: dict[str, Callable[[Review], str]] = {
    "json": render_json,
    "csv": render_csv,
    "md": render_markdown,
    "html": render_html,
}


@pytest.mark.parametrize("ext", RENDERERS)
def test_review_golden(ext: str, golden: Callable[[str, str], None]) -> None:
    golden(f"review.{ext}", RENDERERS[ext](scenario()))


@pytest.mark.parametrize("ext", RENDERERS)
def test_no_secret_and_no_digest_in_any_format(ext: str) -> None:
    text = RENDERERS[ext](scenario())
    for secret in (SECRET, LIVE_SECRET):
        assert secret not in text
        assert sha(secret) not in text


def test_csv_cells_never_run_as_formulas() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(scenario()))))
    assert tuple(rows[0]) == CSV_COLUMNS
    ana = next(r for r in rows if r[0] == "ANA")
    assert ana[CSV_COLUMNS.index("reason")] == 'Runs =HYPERLINK("x") user admin'
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_an_empty_server_is_a_header_only_csv() -> None:
    nobody = build_review(
        LiveState(users={}, roles={}, categories={}),
        DesiredState(),
        Config(),
        server=URL,
        today=TODAY,
    )
    assert render_csv(nobody) == ",".join(CSV_COLUMNS) + "\n"


def test_html_is_self_contained_and_escapes_user_data() -> None:
    page = render_html(scenario())
    assert page.startswith("<!doctype html>\n")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|x" in page
    # nothing that could make the browser fetch: no src/href/action, no CSS url() or import
    assert re.findall(r"\b(?:src|href|action|srcset|poster|data)\s*=", page) == []
    assert "url(" not in page
    assert "@import" not in page
    assert page.count("<script>") == 1
    assert page.count("<tr data-flags=") == 7


def test_markdown_tables_cannot_be_broken_by_a_name() -> None:
    text = render_markdown(scenario())
    line = next(r for r in text.splitlines() if r.startswith("| `EVIL`"))
    assert line.count(" | ") == 11  # 12 cells: the pipe in the role name is escaped
    assert "`<script>alert(1)</script>\\|x`" in line


def test_the_review_schema_is_valid_closed_and_documented() -> None:
    schema = load_schema("review")
    jsonschema.Draft202012Validator.check_schema(schema)
    for path, obj in _objects(schema):
        if "properties" in obj:
            assert obj.get("additionalProperties") is False, path
            for key, prop in obj["properties"].items():
                assert prop.get("description"), f"{path}/properties/{key}"
    for example in schema["examples"]:
        jsonschema.Draft202012Validator(schema).validate(example)


def _objects(node: Any, path: str = "#") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for k, v in node.items():
            out += _objects(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _objects(v, f"{path}/{i}")
    return out
