"""The access review's model and renderers: one scenario with every kind of user, grant,
commit and decision (``scenario.py``), its JSON asserted whole, every format pinned by golden
files, and what must never be in any of them (a secret, a digest, an unescaped name, a formula
a spreadsheet would run, a bare CR that splits a CSV row).

Refresh the golden files on purpose only (``make golden``), then review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import jsonschema
import pytest

from reconciler.core.model.config import Config
from reconciler.core.model.values import DesiredState, LiveState
from reconciler.core.render.markup import csv_value
from reconciler.core.review.build import Inputs, Rows, Tally, build_review
from reconciler.core.review.formats import (
    CSV,
    CSV_COLUMNS,
    GRANTS,
    JSON,
    TEMPLATE_CSV,
    TEMPLATE_JSON,
    Format,
    manifest_csv,
    render,
)
from reconciler.core.review.html import CSP, HTML, render_html
from reconciler.core.review.markdown import MARKDOWN
from reconciler.core.review.model import History, Review
from reconciler.schemas import load_schema
from tests.core.review.scenario import (
    LIVE_SECRET,
    SECRET,
    TODAY,
    URL,
    A,
    B,
    scenario,
    scenario_inputs,
    sha,
)

FORMATS: dict[str, Format] = {
    "review.json": JSON,
    "review.csv": CSV,
    "review_grants.csv": GRANTS,
    "review.md": MARKDOWN,
    "review.html": HTML,
    "review_template.csv": TEMPLATE_CSV,
    "review_template.json": TEMPLATE_JSON,
}
REVIEW_ID = "2026-03-01-0badc0de"


def rendered(name: str, review: Review | None = None) -> str:
    return render(FORMATS[name], review or scenario(), REVIEW_ID)


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        load_schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_the_review_as_json_is_whole_and_schema_valid() -> None:
    data = json.loads(rendered("review.json"))
    validator("review").validate(data)
    assert data["summary"] == {
        "users": 7,
        "enabled": 6,
        "by_type": {"administrator": 2, "designer": 1, "user": 4},
        "by_role": {"User Admins": 1, "Viewers": 1},
        "administrators": ["ADMIN", "CARL"],
        "unmanaged": ["ADMIN", "STRAY"],
        "ignored": ["SVC_BOT"],
        "drifted": ["EVIL"],
        "declared_missing": ["GHOST"],
        "expired_but_enabled": ["BEN"],
        "reviews_overdue": ["BEN"],
        "expiring": {"30": 1, "60": 1, "90": 1},
        "policy_violations": {
            "error": 2,
            "warning": 4,
            "by_policy": {"mfa_required_for": 2, "review_interval_days": 3, "email_domains": 1},
        },
        "privileged": 4,
        "grants": 28,
    }
    ana = next(u for u in data["users"] if u["usercode"] == "ANA")
    assert ana == {
        "usercode": "ANA",
        "name": "Ana =Alvarez",
        "type": "designer",
        "enabled": True,
        "expires": None,
        "super_admin": False,
        "roles": ["User Admins"],
        "categories": ["Budgets", "Finance", "HR"],
        "privileges": ["editUsers", "exportToCsv", "pdf"],
        "direct": {"categories": ["Budgets", "Finance"], "privileges": ["exportToCsv"]},
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
        "privileged": ["editUsers (via User Admins)"],
        "findings": [],
        "grants": [
            {"resource": "type:designer", "via": None, "commit": A, "note": None},
            {
                "resource": "enabled:true",
                "via": None,
                "commit": None,
                "note": "the entry does not declare enabled: the server's value",
            },
            {
                "resource": "login:external",
                "via": None,
                "commit": None,
                "note": "the entry does not declare login: the server's value",
            },
            {"resource": "role:User Admins", "via": None, "commit": B, "note": None},
            {
                "resource": "privilege:exportToCsv",
                "via": None,
                "commit": None,
                "note": "the entry does not declare privileges: the server's value",
            },
            {"resource": "category:Budgets", "via": None, "commit": A, "note": None},
            {"resource": "category:Finance", "via": "parent of Budgets", "commit": A, "note": None},
        ],
        "last_change": "c" * 40,
        "last_change_note": None,
        "last_review": B,
    }
    assert data["commits"][B] == {
        "author": "Bob Stone",
        "email": "bob@example.com",
        "date": "2026-02-01T09:00:00+00:00",
        "subject": "Give ANA user admin (#12)",
        "pull_request": 12,
        "approvals": {
            "approvers": [{"login": "carol", "at": "2026-02-01T10:00:00Z"}],
            "author": "bstone",
            "merged_by": "carol",
            "merged_at": "2026-02-01T10:05:00Z",
            "note": None,
        },
    }
    by_code = {u["usercode"]: u for u in data["users"]}
    assert [(c, u["drift"], u["last_change_note"]) for c, u in by_code.items()] == [
        ("ADMIN", None, "not declared in the repository"),
        ("ANA", [], None),
        ("BEN", [], "its entry has changes that are not committed yet"),
        ("CARL", [], None),
        ("EVIL", ["email"], "its file is not committed"),
        ("STRAY", None, "not declared in the repository"),
        ("SVC_BOT", None, "not declared in the repository"),
    ]
    assert [(g["resource"], g["commit"], g["note"]) for g in by_code["BEN"]["grants"]] == [
        ("type:user", None, "the entry does not declare type: the server's value"),
        ("enabled:true", A, None),
        ("login:external", None, "the entry does not declare login: the server's value"),
        ("role:Viewers", None, "its line has changes that are not committed yet"),
    ]
    assert {g["note"] for g in by_code["SVC_BOT"]["grants"]} == {"pisync ignores this user"}
    assert by_code["STRAY"]["secure_variables"] == ["token"]


def test_the_manifest_records_origin_filters_counts_checks_and_inputs() -> None:
    manifest = json.loads(rendered("review.json"))["manifest"]
    assert manifest == {
        "server": URL,
        "read_started": "2026-03-01T08:00:00Z",
        "read_finished": "2026-03-01T08:00:02Z",
        "pisync": {"version": "0.1.0", "commit": "d" * 40},
        "repository": {"commit": "c" * 40, "uncommitted": ["users/team.yaml"]},
        "note": None,
        "filters": {
            "scope": "every user the server lists (nothing is filtered out of the rows)",
            "ignore": ["SVC_*"],
            "protected": ["ADMIN"],
            "login_via_idp": [],
            "ignored_users": 1,
            "unmanaged_users": 2,
        },
        "counts": {
            "server_count": 7,
            "read": 7,
            "listed": 7,
            "unlisted": 0,
            "reported": 7,
            "managed": 4,
            "ignored": 1,
            "unmanaged": 2,
            "declared": 5,
            "declared_on_server": 4,
            "declared_missing": 1,
            "grants": 28,
        },
        "checks": [
            {
                "name": "server count",
                "ok": True,
                "detail": "the server counts 7 users; its list gave 7",
            },
            {"name": "every user read is reported", "ok": True, "detail": "7 read, 7 reported"},
            {
                "name": "rows add up",
                "ok": True,
                "detail": "4 managed + 1 ignored + 2 unmanaged = 7 (reported 7)",
            },
            {
                "name": "declared users add up",
                "ok": True,
                "detail": "4 on the server + 1 missing = 5 (declared 5)",
            },
        ],
        "inputs": [
            {"path": "pisync.yaml", "sha256": sha("config"), "bytes": 6},
            {"path": "users/team.yaml", "sha256": sha("team"), "bytes": 4},
        ],
    }


def test_the_privileged_track_lists_administrators_and_escalating_privileges() -> None:
    data = json.loads(rendered("review.json"))
    assert [
        (p["usercode"], p["because"], p["reason"], p["last_review"]) for p in data["privileged"]
    ] == [
        ("ADMIN", ["super admin", "administrator"], None, None),
        ("ANA", ["editUsers (via User Admins)"], 'Runs =HYPERLINK("x") user admin', B),
        ("CARL", ["administrator"], None, None),
        ("STRAY", ["editRoles"], None, None),
    ]
    ana = data["privileged"][1]
    assert (ana["ticket"], ana["owner"], ana["expires"], ana["review_by"]) == (
        "SEC-1",
        "ashah",
        None,
        "2026-06-30",
    )


def test_what_changed_since_the_previous_review() -> None:
    since = json.loads(rendered("review.json"))["since"]
    assert since == {
        "previous": {
            "file": "reviews/2025-12.json",
            "server": URL,
            "date": "2025-12-01",
            "read_finished": "2025-12-01T08:00:00Z",
        },
        "joined": ["ADMIN", "CARL", "EVIL", "STRAY", "SVC_BOT"],
        "left": ["OLD"],
        "grants_added": [
            {"principal": "ANA", "resource": "category:Budgets"},
            {"principal": "ANA", "resource": "category:Finance"},
            {"principal": "ANA", "resource": "login:external"},
            {"principal": "ANA", "resource": "role:User Admins"},
        ],
        "grants_removed": [{"principal": "ANA", "resource": "role:Viewers"}],
        "note": None,
    }


def test_each_decision_has_who_applied_it_when_and_the_result() -> None:
    decisions = json.loads(rendered("review.json"))["decisions"]
    assert decisions == [
        {
            "reviewId": "2025-12-01-1a2b3c4d",
            "principal": "STRAY",
            "resource": "privilege:editRoles",
            "decision": "Deny",
            "justification": "=cmd|' /C calc'!A0 no longer needed",
            "reviewedBy": "alice@example.com",
            "reviewedDateTime": "2026-02-10T10:00:00Z",
            "commit": "e" * 40,
            "pullRequest": 20,
            "appliedBy": None,
            "appliedDateTime": None,
            "applyResult": "AppliedWithUnknownFailure",
            "detail": "the server still holds it; apply.json says failed (400: no)",
        },
        {
            "reviewId": "2025-12-01-1a2b3c4d",
            "principal": "OLD",
            "resource": "role:Viewers",
            "decision": "Deny",
            "justification": "",
            "reviewedBy": "alice@example.com",
            "reviewedDateTime": "2026-02-10",
            "commit": "e" * 40,
            "pullRequest": 20,
            "appliedBy": "Carl Merger",
            "appliedDateTime": "2026-02-11T09:00:00+00:00",
            "applyResult": "AppliedSuccessfullyButObjectNotFound",
            "detail": "the server no longer has OLD; not in the apply reports given",
        },
    ]


def test_streamed_rows_make_the_same_head_as_a_whole_review() -> None:
    """The command writes each row as it is made and the head after the last; the head must
    be the same as that of the whole review the goldens pin."""
    inputs = scenario_inputs()
    rows = Rows(inputs)
    tally = Tally(inputs)
    for row in rows:
        tally.add(row)
    streamed = tally.head(rows.server_findings())
    assert streamed.rows == ()
    assert streamed.head_dict() == scenario().head_dict()


def test_a_secret_is_drift_only_when_the_environment_holds_another_value() -> None:
    def ana(review: Review) -> tuple[str, ...] | None:
        return next(r for r in review.rows if r.usercode == "ANA").drift

    assert ana(scenario()) == ()
    assert ana(scenario(secrets={})) == ()  # unknown here: cannot be compared, never drift
    assert ana(scenario(secrets={"WAREHOUSE": "another value"})) == ("variables",)


def test_outside_git_no_grant_has_a_commit_and_the_report_says_why() -> None:
    note = "/tmp/x is not inside a git repository, so there is no provenance"
    review = scenario(history=History(available=False, note=note))
    data = json.loads(render(JSON, review))
    assert data["provenance"] == {"available": False, "note": note}
    assert data["commits"] == {}
    assert {u["usercode"]: u["last_change"] for u in data["users"]} == dict.fromkeys(
        ["ADMIN", "ANA", "BEN", "CARL", "EVIL", "STRAY", "SVC_BOT"]
    )
    declared = [u for u in data["users"] if u["declared"] and not u["ignored"]]
    assert {g["note"] for u in declared for g in u["grants"]} == {note}
    for fmt in (MARKDOWN, HTML):
        assert note in render(fmt, review)


@pytest.mark.parametrize("name", FORMATS)
def test_review_golden(name: str, golden: Any) -> None:
    golden(name, rendered(name))


def test_manifest_csv_golden(golden: Any) -> None:
    manifest = scenario().manifest
    assert manifest is not None
    golden("review_manifest.csv", manifest_csv(manifest.to_dict()))


@pytest.mark.parametrize("name", FORMATS)
def test_no_secret_and_no_digest_in_any_format(name: str) -> None:
    text = rendered(name)
    for secret in (SECRET, LIVE_SECRET):
        assert secret not in text
        assert sha(secret) not in text


@pytest.mark.parametrize("name", ["review.csv", "review_grants.csv", "review_template.csv"])
def test_csv_cells_never_run_as_formulas_and_a_cr_never_splits_a_row(name: str) -> None:
    text = rendered(name)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    width = len(rows[0])
    assert {len(r) for r in rows} == {width}  # the CR in EVIL's name did not split a row
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    evil = next(r for r in rows if "EVIL" in r)
    name_column = (
        rows[0].index("name" if name == "review.csv" else "principalName")
        if (name != "review_grants.csv")
        else None
    )
    if name_column is not None:
        assert evil[name_column] == "'@here\r User"
        assert csv_value(evil[name_column]) == "@here\r User"


def test_the_users_csv_columns_and_the_formula_in_a_reason() -> None:
    rows = list(csv.reader(io.StringIO(rendered("review.csv"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    ana = next(r for r in rows if r[0] == "ANA")
    assert ana[CSV_COLUMNS.index("reason")] == 'Runs =HYPERLINK("x") user admin'


def test_an_empty_server_is_a_header_only_csv_and_valid_json() -> None:
    nobody = build_review(
        Inputs(
            live=LiveState(users={}, roles={}, categories={}),
            desired=DesiredState(),
            config=Config(),
            server=URL,
            today=TODAY,
        )
    )
    assert render(CSV, nobody) == ",".join(CSV_COLUMNS) + "\n"
    data = json.loads(render(JSON, nobody))
    assert (data["users"], data["manifest"]) == ([], None)
    validator("review").validate(data)
    template = json.loads(render(TEMPLATE_JSON, nobody))
    assert template["decisions"] == []


def test_the_worksheet_json_is_valid_against_the_decisions_schema() -> None:
    data = json.loads(rendered("review_template.json"))
    validator("decisions").validate(data)
    assert data["decisions"][0] == {
        "reviewId": REVIEW_ID,
        "principal": "ADMIN",
        "principalName": "Test User",
        "resource": "type:administrator",
        "accessVia": "direct",
        "managed": "unmanaged",
        "grantedBy": "",
        "grantedIn": "not declared in the repository",
        "decision": "",
        "justification": "",
        "reviewedBy": "",
        "reviewedDateTime": "",
    }
    assert len(data["decisions"]) == 28


def test_html_is_self_contained_and_escapes_user_data() -> None:
    page = render_html(scenario())
    assert page.startswith("<!doctype html>\n")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|x" in page
    assert "Eve &lt;b&gt;Adams&lt;/b&gt;" in page
    # nothing that could make the browser fetch: no src/href/action, no CSS url() or import
    assert re.findall(r"\b(?:src|href|action|srcset|poster|data)\s*=", page) == []
    assert "url(" not in page
    assert "@import" not in page
    assert page.count("<script>") == 1
    assert page.count("<tr data-flags=") == 7


def test_markdown_tables_cannot_be_broken_by_a_name() -> None:
    text = rendered("review.md")
    line = next(r for r in text.splitlines() if r.startswith("| `EVIL`"))
    assert line.count(" | ") == 12  # 13 cells: the pipe in the role name is escaped
    assert "`<script>alert(1)</script>\\|x`" in line
    assert "Eve \\<b\\>Adams\\</b\\>" in text


@pytest.mark.parametrize("name", ["review", "decisions"])
def test_the_schemas_are_valid_closed_and_documented(name: str) -> None:
    schema = load_schema(name)
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
