"""``pisync review`` end to end: the real CLI against a real emulator, over a temporary git
repository with commits by different authors. Provenance is asserted exactly (commit, author,
date, subject, pull request), every format is produced, and no secret appears in any."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.schemas import load_schema
from tests.e2e.conftest import SECRET, pisync
from tests.gitrepo import Person, git_as

pytestmark = pytest.mark.e2e

LIVE_SECRET = "live-token-that-must-never-print"
SEED: dict[str, Any] = {
    "categories": [{"name": "Finance", "parent": None}, {"name": "HR", "parent": None}],
    "roles": [
        {
            "name": "Payroll",
            "description": "Pay runs",
            "categories": ["HR"],
            "privileges": ["editUsers"],
        }
    ],
    "users": [
        {
            "user": {
                "usercode": "ANA",
                "forenames": "Ana",
                "surname": "A",
                "email": "ana@example.com",
                "requireMfa": True,
            },
            "userRoles": [{"roleIdentifier": "Payroll"}],
            "variables": [{"name": "warehouse", "value": SECRET, "isSecure": True}],
        },
        {"user": {"usercode": "BEN", "forenames": "Ben", "surname": "B", "email": "b@gmail.com"}},
        {
            "user": {"usercode": "STRAY", "forenames": "S", "surname": "Tray"},
            "variables": [{"name": "token", "value": LIVE_SECRET, "isSecure": True}],
        },
    ],
}
CONFIG = """\
policies:
  email_domains: {allowed: [example.com], severity: warning}
  review_interval_days: {days: 180}
"""
TEAM = """\
users:
  - usercode: ana
    forenames: Ana
    surname: A
    email: ana@example.com
    roles: [Payroll]
    variables:
      warehouse: {env: FINANCE_DB_PASSWORD, secure: true}
    pisync: {reason: Runs payroll, ticket: SEC-1, owner: ashah, review_by: 2026-12-31}
  - usercode: ben
    forenames: Ben
    surname: B
    email: b@gmail.com
"""
ANIKA = ("Anika Shah", "anika@example.com", "2026-01-05T10:00:00+00:00")
DEV = ("Dev Patel", "dev@example.com", "2026-02-01T09:30:00+01:00")
LI = ("Li Chen", "li@example.com", "2026-03-02T08:15:00-05:00")


def git(repo: Path, *args: str, who: Person = ANIKA) -> str:
    return git_as(repo, who, *args)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "users" / "team.yaml").write_text(TEAM, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import the team (#1)")
    team = root / "users" / "team.yaml"
    team.write_text(TEAM.replace("email: b@gmail.com", "email: ben@gmail.com"), "utf-8")
    git(root, "commit", "-q", "-am", "Fix BEN's address (#4)", who=DEV)
    # a pull request merged with a merge commit: blame names the branch's commit
    git(root, "switch", "-q", "-c", "li/ana-review")
    team.write_text(team.read_text("utf-8").replace("2026-12-31", "2027-03-31"), "utf-8")
    git(root, "commit", "-q", "-am", "Review ANA's payroll access", who=LI)
    git(root, "switch", "-q", "main")
    git(
        root,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #12 from li/ana-review",
        "li/ana-review",
        who=ANIKA,
    )
    return root


def commits(repo: Path) -> dict[str, str]:
    """subject -> hash of every commit"""
    lines = git(repo, "log", "--format=%s%x00%H").splitlines()
    return dict(line.split("\0") for line in lines)


def test_review_json_with_exact_provenance(emulator_factory: Any, repo: Path) -> None:
    emu = emulator_factory(SEED)
    made = commits(repo)
    r = pisync(["review", "--format", "json"], cwd=repo, url=emu.url)
    assert (r.code, r.err) == (0, ""), r.all
    data = json.loads(r.out)
    jsonschema.Draft202012Validator(
        load_schema("review"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    users = {u["usercode"]: u for u in data["users"]}
    assert list(users) == ["ADMIN", "ANA", "BEN", "STRAY"]
    assert users["ANA"]["last_change"] == made["Review ANA's payroll access"]
    assert {
        "commit": users["ANA"]["last_change"],
        **data["commits"][made["Review ANA's payroll access"]],
    } == {
        "commit": made["Review ANA's payroll access"],
        "author": "Li Chen",
        "email": "li@example.com",
        "date": "2026-03-02T08:15:00-05:00",
        "subject": "Review ANA's payroll access",
        "pull_request": 12,  # from the merge that brought it in
        "approvals": None,  # the forge was not asked: no token
    }
    assert data["approvals"] == {
        "asked": False,
        "forge": None,
        "note": "the approvers of pull requests were not asked for: set GITHUB_TOKEN and"
        " GITHUB_REPOSITORY (or an origin remote on github.com) to read each pull request's"
        " approvals from GitHub",
    }
    assert {
        "commit": users["BEN"]["last_change"],
        **data["commits"][users["BEN"]["last_change"]],
    } == {
        "commit": made["Fix BEN's address (#4)"],
        "author": "Dev Patel",
        "email": "dev@example.com",
        "date": "2026-02-01T09:30:00+01:00",
        "subject": "Fix BEN's address (#4)",
        "pull_request": 4,
        "approvals": None,
    }
    assert (users["STRAY"]["last_change"], users["STRAY"]["last_change_note"]) == (
        None,
        "not declared in the repository",
    )
    ana = users["ANA"]
    assert (ana["roles"], ana["categories"], ana["privileges"]) == (
        ["Payroll"],
        ["HR"],
        [
            "accessAccount",
            "audit",
            "clientExcludePasswordExpiry",
            "editOwnPassword",
            "editUsers",
            "logoutEnabled",
            "pdf",
        ],
    )
    assert ana["through_roles"] == {"Payroll": {"categories": ["HR"], "privileges": ["editUsers"]}}
    assert (ana["reason"], ana["ticket"], ana["owner"], ana["review_by"]) == (
        "Runs payroll",
        "SEC-1",
        "ashah",
        "2027-03-31",
    )
    assert ana["secure_variables"] == ["warehouse"]
    assert (ana["drift"], ana["findings"]) == ([], [])
    assert users["BEN"]["drift"] == ["email"]  # the repository now says ben@gmail.com
    assert [f["policy"] for f in users["BEN"]["findings"]] == ["email_domains"]
    assert data["summary"]["unmanaged"] == ["ADMIN", "STRAY"]
    assert data["summary"]["drifted"] == ["BEN"]
    assert data["summary"]["policy_violations"] == {
        "error": 1,
        "warning": 1,
        "by_policy": {"review_interval_days": 1, "email_domains": 1},
    }
    assert data["provenance"] == {"available": True, "note": None}


def test_review_from_outside_the_repository_through_config(
    emulator_factory: Any, repo: Path, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(repo / "pisync.yaml")
    r = pisync(["--config", config, "review", "--format", "json"], cwd=elsewhere, url=emu.url)
    assert (r.code, r.err) == (0, ""), r.all
    data = json.loads(r.out)
    assert data["provenance"] == {"available": True, "note": None}
    made = commits(repo)
    assert {u["usercode"]: u["last_change"] for u in data["users"]} == {
        "ADMIN": None,
        "ANA": made["Review ANA's payroll access"],
        "BEN": made["Fix BEN's address (#4)"],
        "STRAY": None,
    }


def test_every_format_and_no_secret_in_any(
    emulator_factory: Any, repo: Path, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    for fmt in ("markdown", "csv", "json", "html"):
        out = tmp_path / f"review.{fmt}"
        r = pisync(["review", "--format", fmt, "--out", str(out)], cwd=repo, url=emu.url)
        assert r.code == 0, r.all
        assert r.out == ""
        assert r.err == (
            f"Wrote the access review of 4 users to {out} (2 unmanaged, 1 drifted, 1 policy"
            " errors, 1 warnings).\n"
        )
        text = out.read_text(encoding="utf-8")
        for secret in (SECRET, LIVE_SECRET):
            assert secret not in text, fmt
    manifest = (tmp_path / "review.manifest.csv").read_text("utf-8")  # a CSV's, beside it
    assert manifest.startswith("name,value\nserver,http://127.0.0.1:")
    assert "counts.reported,4\n" in manifest
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("review.")) == [
        "review.csv",
        "review.html",
        "review.json",
        "review.manifest.csv",
        "review.markdown",
    ]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "review.csv").read_text("utf-8"))))
    assert [(r["usercode"], r["pull_request"], r["author"]) for r in rows] == [
        ("ADMIN", "", ""),
        ("ANA", "12", "Li Chen"),
        ("BEN", "4", "Dev Patel"),
        ("STRAY", "", ""),
    ]
    markdown = (tmp_path / "review.markdown").read_text(encoding="utf-8")
    assert markdown.startswith("# pisync access review\n")
    assert "| Drifted users (the server differs from the repository) | 1 |" in markdown
    assert (tmp_path / "review.html").read_text("utf-8").startswith("<!doctype html>")


def test_outside_git_provenance_is_null_and_the_report_says_why(
    emulator_factory: Any, repo: Path, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    plain = tmp_path / "plain"
    shutil.copytree(repo, plain, ignore=shutil.ignore_patterns(".git"))
    r = pisync(["review", "--format", "json"], cwd=plain, url=emu.url)
    assert r.code == 0, r.all
    data = json.loads(r.out)
    note = (
        f"{plain.resolve().as_posix()} is not inside a git repository, so there is no"
        " provenance (last_change is null for every user)"
    )
    assert data["provenance"] == {"available": False, "note": note}
    assert [u["last_change"] for u in data["users"]] == [None] * 4
    md = pisync(["review"], cwd=plain, url=emu.url)
    assert "> **Provenance:** " + note.replace("_", "\\_") in md.out  # Markdown-escaped


def test_an_invalid_repository_is_refused(emulator_factory: Any, repo: Path) -> None:
    emu = emulator_factory(SEED)
    (repo / "users" / "broken.yaml").write_text("users:\n  - usercode: x\n    colour: red\n")
    r = pisync(["review"], cwd=repo, url=emu.url)
    assert r.code == 3
    assert 'unknown key "colour"' in r.out


def test_a_csv_cell_never_splits_its_row_or_runs_as_a_formula(
    emulator_factory: Any, repo: Path, tmp_path: Path
) -> None:
    """A live user's names are anyone's data: a bare carriage return must not end the row, and
    the text after it must not reach a spreadsheet as a formula."""
    hostile = {"user": {"usercode": "EVIL", "forenames": "@SUM(1+1)", "surname": "X\r=1+1\n-2"}}
    emu = emulator_factory({**SEED, "users": [*SEED["users"], hostile]})
    out = tmp_path / "review.csv"

    r = pisync(["review", "--format", "csv", "--out", str(out)], cwd=repo, url=emu.url)

    assert r.code == 0, r.all
    raw = out.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    header, body = rows[0], rows[1:]
    assert [row[header.index("usercode")] for row in body] == [
        "ADMIN",
        "ANA",
        "BEN",
        "EVIL",
        "STRAY",
    ]
    evil = dict(zip(header, body[3], strict=True))
    assert evil["name"] == "'@SUM(1+1) X\r=1+1\n-2"  # quoted whole, its formula start broken
    for row in body:  # no cell a spreadsheet would run
        assert not [c for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r", "\n")], row
    for line in raw.split("\r\n")[1:]:  # each physical line starts a row or continues a quoted cell
        assert not line.startswith(("=", "+", "@")), line
