"""Policies and grant metadata through the real CLI: validate reports violations like every
other problem (text, JSON, GitHub annotations; errors exit 3, warnings 0 unless --strict);
plan shows each user's why beside its access change and the policy results (JSON too), exits 3
on a policy error without writing a plan file; apply refuses such a plan before any write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.schemas import load_schema
from tests.e2e.conftest import pisync

pytestmark = pytest.mark.e2e

SYNC = "/pi/api/v2/users/sync"
SEED: dict[str, Any] = {
    "roles": [{"name": "User Admins", "description": "", "categories": [], "privileges": []}],
    "users": [
        {"user": {"usercode": "OPS", "forenames": "O", "surname": "Ps", "email": "ops@example.com"}}
    ],
}
CONFIG = """\
policies:
  escalation_requires: {keys: [ticket, reason]}
  email_domains: {allowed: [example.com], severity: warning}
"""
USERS = """\
users:
  - usercode: ops
    forenames: O
    surname: Ps
    email: ops@example.com
    privileges: [editUsers]
    pisync: {reason: Runs the service desk, ticket: SEC-42, owner: ashah, review_by: 2027-03-31}
  - usercode: guest
    forenames: G
    surname: Uest
    email: guest@gmail.com
  - usercode: root
    forenames: R
    surname: Oot
    type: administrator
"""


def repo_with(tmp_path: Path, users: str, config: str = CONFIG) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    (root / "users" / "team.yaml").write_text(users, encoding="utf-8")
    return root


ROOT_ERROR = (
    "policy escalation_requires: ROOT has escalating access (type administrator) without"
    " pisync: ticket and reason; record why under the user's pisync: key"
)
GUEST_WARNING = (
    "policy email_domains: GUEST's email domain gmail.com is not allowed (allowed:"
    " example.com); use an allowed address, or record why under pisync: {reason: …}"
)


def test_validate_reports_policy_violations_in_every_format(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, USERS)
    text = pisync(["validate"], cwd=repo)
    assert (text.code, text.err) == (3, "")
    assert text.out == (
        f"users/team.yaml:8:5: warning: {GUEST_WARNING} (at users[1])\n"
        f"users/team.yaml:12:5: error: {ROOT_ERROR} (at users[2])\n"
        "1 error, 1 warning in 1 of 2 files.\n"
    )
    as_json = pisync(["validate", "--format", "json"], cwd=repo)
    assert as_json.code == 3
    assert json.loads(as_json.out)["issues"] == [
        {
            "severity": "warning",
            "file": "users/team.yaml",
            "line": 8,
            "col": 5,
            "key_path": "users[1]",
            "message": GUEST_WARNING,
        },
        {
            "severity": "error",
            "file": "users/team.yaml",
            "line": 12,
            "col": 5,
            "key_path": "users[2]",
            "message": ROOT_ERROR,
        },
    ]
    github = pisync(["validate"], cwd=repo, env={"GITHUB_ACTIONS": "true"})
    assert github.code == 3
    assert github.out.splitlines()[:2] == [
        "::warning file=users/team.yaml,line=8,col=5,title=pisync::"
        + GUEST_WARNING
        + " (at users[1])",
        "::error file=users/team.yaml,line=12,col=5,title=pisync::" + ROOT_ERROR + " (at users[2])",
    ]


def test_warnings_pass_validate_unless_strict(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, USERS.split("  - usercode: root")[0])
    assert pisync(["validate"], cwd=repo).code == 0
    strict = pisync(["validate", "--strict"], cwd=repo)
    assert strict.code == 3
    assert strict.out.endswith("All 2 files valid (1 warning): 2 users, 0 roles.\n")


def test_plan_shows_the_why_and_the_policy_results(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = repo_with(tmp_path, USERS.split("  - usercode: root")[0])
    r = pisync(["plan"], cwd=repo, url=emu.url)
    assert r.code == 0, r.all
    section = r.out[r.out.index("Effective access changes:") :]
    assert section == (
        "Effective access changes:\n"
        "  ! OPS gains privilege editUsers; loses privileges accessAccount, audit,"
        " clientExcludePasswordExpiry, editOwnPassword, logoutEnabled, pdf  (privilege"
        " escalation)\n"
        '      why: "Runs the service desk"; ticket SEC-42; owner ashah; review by 2027-03-31\n'
        "\n"
        "Policy warnings (they do not block the plan):\n"
        f"    users/team.yaml:8:5: warning: {GUEST_WARNING}\n"
        "\n"
        "Plan: 1 to create, 1 to update, 0 to disable, 0 to delete.\n"
    )
    out = tmp_path / "plan.json"
    as_json = pisync(["plan", "--format", "json", "--out", str(out)], cwd=repo, url=emu.url)
    assert as_json.code == 0, as_json.all
    document = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema("plan")).validate(document)
    assert document["policy"] == {
        "checked": ["escalation_requires", "email_domains"],
        "findings": [
            {
                "policy": "email_domains",
                "severity": "warning",
                "usercode": "GUEST",
                "message": GUEST_WARNING.removeprefix("policy email_domains: "),
                "source": "users/team.yaml:8:5",
                "key_path": "users[GUEST]",
            }
        ],
    }
    (ops,) = [a for a in document["access"] if a["usercode"] == "OPS"]
    assert ops["grant"] == {
        "reason": "Runs the service desk",
        "ticket": "SEC-42",
        "owner": "ashah",
        "review_by": "2027-03-31",
    }


def test_a_policy_error_fails_the_plan_and_apply_writes_nothing(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    repo = repo_with(tmp_path, USERS)
    out = tmp_path / "plan.json"
    r = pisync(["plan", "--out", str(out)], cwd=repo, url=emu.url)
    assert r.code == 3, r.all
    assert (
        "Policy violations (1 error; pisync apply refuses this plan and --force does not"
        " override them):\n"
        f"  ! users/team.yaml:12:5: error: policy escalation_requires: ROOT gains escalating"
        " access (type administrator) without pisync: ticket and reason; record why under the"
        " user's pisync: key\n"
        f"    users/team.yaml:8:5: warning: {GUEST_WARNING}\n"
    ) in r.out
    assert r.err == (
        "Error: the plan breaks 1 policy of pisync.yaml (listed above); fix the desired state"
        " (or the policies): --force does not override a policy; no plan file was written\n"
    )
    assert not out.exists()
    forced = pisync(["plan", "--force"], cwd=repo, url=emu.url)
    assert forced.code == 3
    github = pisync(["plan", "--format", "github"], cwd=repo, url=emu.url)
    assert github.code == 3
    assert (
        "::error file=users/team.yaml,line=12,col=5,title=pisync::policy escalation_requires:"
        " ROOT gains escalating access"
    ) in github.out
    emu.clear_requests()
    applied = pisync(["apply", "--auto-approve"], cwd=repo, url=emu.url)
    assert applied.code == 3, applied.all
    assert applied.err.startswith("Error: the plan breaks 1 policy of pisync.yaml")
    assert applied.err.endswith("; nothing was applied\n")
    assert [q for q in emu.requests() if q["method"] != "GET" and "/tokens" not in q["path"]] == []
