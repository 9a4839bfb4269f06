"""The quarterly access review end to end, through the real CLI, a real emulator process, a
temporary git repository with several authors and merged pull requests, and a fake GitHub API
for the approvals: per-grant provenance and approvers, the evidence bundle and its
verification, the worksheet, the revocation as a commit on a branch, and after merge and apply
the next review with each decision's outcome and what changed since. No secret anywhere."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.core.review.decisions import parse_trailers
from reconciler.schemas import load_schema
from tests.e2e.conftest import SECRET, Result, pisync
from tests.e2e.github_fake import REPO, TOKEN, FakeGitHub, fake_github
from tests.gitrepo import Person, git_as

pytestmark = pytest.mark.e2e

LIVE_SECRET = "stray-live-token-that-must-never-print"
CONFIG = """\
users:
  ignore: ["SVC_*"]
policies:
  review_interval_days: {days: 180, severity: warning}
"""
TEAM = """\
# the team
users:
  - usercode: cjones
    forenames: Carol
    surname: Jnes
    type: designer
    roles: [Viewers]   # everyone views
  - usercode: dpatel
    forenames: Dev
    surname: Patel
    type: administrator
    roles:
      - Viewers
    login: {password: true, external: true, mfa: true}
    pisync: {reason: Runs the HR systems, ticket: SEC-101, review_by: 2026-06-30}
roles:
  - name: Viewers
  - name: Executive
    privileges: [editReports]
"""
SEED: dict[str, Any] = {
    "categories": [],
    "roles": [],
    "users": [
        {
            "user": {"usercode": "STRAY", "forenames": "S", "surname": "Tray"},
            "variables": [{"name": "token", "value": LIVE_SECRET, "isSecure": True}],
        }
    ],
}
ANIKA: Person = ("Anika Shah", "anika@example.com", "2026-01-05T10:00:00+00:00")
BOB: Person = ("Bob Stone", "bob@example.com", "2026-02-01T09:00:00+00:00")
CARL: Person = ("Carl Merger", "carl@example.com", "2026-02-02T09:00:00+00:00")
EVE: Person = ("Eve Adams", "eve@example.com", "2026-03-01T09:00:00+00:00")
DAN: Person = ("Dan Moss", "dan@example.com", "2026-04-01T09:00:00+00:00")
ALICE: Person = ("Alice Reviewer", "alice@example.com", "2026-11-20T10:00:00+00:00")


def git(repo: Path, who: Person, *args: str) -> str:
    return git_as(repo, who, *args)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Anika imports the team (#1); Bob gives CJONES the Executive role on a branch that Carl
    merges as pull request #12; Eve fixes CJONES's surname (#14); Dan reviews DPATEL (#15)."""
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(CONFIG, encoding="utf-8")
    team = root / "users" / "team.yaml"
    team.write_text(TEAM, encoding="utf-8")
    git(root, ANIKA, "init", "-q", "-b", "main")
    git(root, ANIKA, "add", "-A")
    git(root, ANIKA, "commit", "-q", "-m", "Import the team (#1)")
    git(root, BOB, "switch", "-q", "-c", "bob/exec")
    edit(team, "roles: [Viewers]", "roles: [Viewers, Executive]")
    git(root, BOB, "commit", "-q", "-am", "Give CJONES the Executive role")
    git(root, CARL, "switch", "-q", "main")
    git(
        root,
        CARL,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #12 from acme/bob-exec",
        "bob/exec",
    )
    edit(team, "surname: Jnes", "surname: Jones")
    git(root, EVE, "commit", "-q", "-am", "Fix CJONES's surname (#14)")
    edit(team, "review_by: 2026-06-30", "review_by: 2026-12-31")
    git(root, DAN, "commit", "-q", "-am", "Review DPATEL's access (#15)")
    return root


def subjects(repo: Path) -> dict[str, str]:
    """subject -> hash of every commit"""
    lines = git(repo, ANIKA, "log", "--all", "--format=%s%x00%H").splitlines()
    return dict(line.split("\0") for line in lines)


def github(fake: FakeGitHub) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO}


def no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (SECRET, LIVE_SECRET, TOKEN):
            assert secret not in text


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_quarterly_review_from_the_worksheet_to_the_applied_revocations(
    emulator_factory: Any, repo: Path, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    applied = pisync(["apply", "--auto-approve"], cwd=repo, url=emu.url)
    assert applied.code == 0, applied.all
    made = subjects(repo)
    bundle = tmp_path / "q4"
    outputs: list[Result] = []
    with fake_github() as fake:
        fake.pull(1, "anika-gh", "anika-gh", ("dave", "APPROVED"))
        fake.pull(12, "bob-gh", "carl-gh", ("carol", "APPROVED"))
        fake.pull(14, "eve-gh", "eve-gh", ("frank", "APPROVED"), ("frank", "CHANGES_REQUESTED"))
        fake.pull(20, "alice-gh", "carl-gh", ("dave", "APPROVED"))
        first = pisync(
            ["review", "--out", str(bundle), "--decisions-template", str(bundle / "decisions.csv")],
            cwd=repo,
            url=emu.url,
            env=github(fake),
        )
        outputs.append(first)
        assert first.code == 0, first.all
        assert first.out == ""
        assert first.err == (
            f"Wrote the access review of 4 users to {bundle}/ (review.json, review.csv,"
            " grants.csv, review.md, review.html, manifest.csv, manifest.json) (2 unmanaged,"
            " 0 drifted, 0 policy errors, 1 warnings).\n"
        )
        assert sorted({path for _, path, _ in fake.requests}) == sorted(
            {
                f"/repos/{REPO}/pulls/{n}{tail}"
                for n in (1, 12, 14)
                for tail in ("", "/reviews?per_page=100&page=1")
            }
            | {f"/repos/{REPO}/pulls/15"}
        )
        assert {auth for _, _, auth in fake.requests} == {f"token {TOKEN}"}

        review = json.loads((bundle / "review.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(
            load_schema("review"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(review)
        users = {u["usercode"]: u for u in review["users"]}
        bob = made["Give CJONES the Executive role"]
        imported = made["Import the team (#1)"]
        # Bob's role keeps Bob and #12 though Eve changed the entry later
        assert [(g["resource"], g["commit"]) for g in users["CJONES"]["grants"][:5]] == [
            ("type:designer", imported),
            ("enabled:true", None),
            ("login:external", None),
            ("role:Executive", bob),
            ("role:Viewers", imported),
        ]
        assert users["CJONES"]["last_change"] == made["Fix CJONES's surname (#14)"]
        assert review["commits"][bob] == {
            "author": "Bob Stone",
            "email": "bob@example.com",
            "date": "2026-02-01T09:00:00+00:00",
            "subject": "Give CJONES the Executive role",
            "pull_request": 12,
            "approvals": {
                "approvers": [{"login": "carol", "at": "2026-01-10T00:00:00Z"}],
                "author": "bob-gh",
                "merged_by": "carl-gh",
                "merged_at": "2026-04-15T12:00:00Z",
                "note": None,
            },
        }
        assert (
            review["commits"][made["Fix CJONES's surname (#14)"]]["approvals"]["approvers"] == []
        )  # frank asked for changes after approving
        assert review["commits"][made["Review DPATEL's access (#15)"]]["approvals"]["note"] == (
            "GitHub has no pull request #15 here"
        )
        assert review["approvals"] == {
            "asked": True,
            "forge": f"127.0.0.1/{REPO}",
            "note": None,
        }
        privileged = {p["usercode"]: p for p in review["privileged"]}
        assert privileged["DPATEL"] == {
            "usercode": "DPATEL",
            "enabled": True,
            "because": ["administrator"],
            "reason": "Runs the HR systems",
            "ticket": "SEC-101",
            "owner": None,
            "expires": None,
            "review_by": "2026-12-31",
            "last_review": made["Review DPATEL's access (#15)"],
            "managed": "declared",
            "findings": 0,
        }
        manifest = review["manifest"]
        assert [c["ok"] for c in manifest["checks"]] == [True] * 4
        assert manifest["counts"] == {
            "server_count": 4,
            "read": 4,
            "listed": 4,
            "unlisted": 0,
            "reported": 4,
            "managed": 2,
            "ignored": 0,
            "unmanaged": 2,
            "declared": 2,
            "declared_on_server": 2,
            "declared_missing": 0,
            "grants": manifest["counts"]["grants"],
        }
        assert manifest["repository"] == {
            "commit": git(repo, ANIKA, "rev-parse", "HEAD"),
            "uncommitted": [],
        }
        assert manifest["inputs"] == [
            {"path": p, "sha256": sha256(repo / p), "bytes": (repo / p).stat().st_size}
            for p in ("pisync.yaml", "users/team.yaml")
        ]

        # the bundle verifies, and any change to it is named
        verified = pisync(["review", "--verify", str(bundle)], cwd=repo)
        outputs.append(verified)
        assert verified.code == 0, verified.all
        head = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        assert verified.out.startswith(
            f"The bundle {bundle} is as recorded: 7 outputs match manifest.json (sha256"
            f" {head['sha256'][:12]}…), its counts reconcile (4 users in review.json, 4 users in"
            " review.csv, "
        )
        assert verified.out.endswith(
            f"2 inputs match commit {manifest['repository']['commit'][:12]} of the repository.\n"
        )
        tampered = tmp_path / "tampered"
        shutil.copytree(bundle, tampered)
        edit(tampered / "review.csv", "CJONES", "CJONEZ")
        (tampered / "notes.txt").write_text("added later", encoding="utf-8")
        bad = pisync(["review", "--verify", str(tampered)], cwd=repo)
        assert bad.code == 1
        assert "review.csv differs: sha256" in bad.err
        assert "notes.txt is not in manifest.json (added after the review)" in bad.err

        # the reviewer's decisions
        rows = list(csv.DictReader(io.StringIO((bundle / "decisions.csv").read_text("utf-8"))))
        assert all(r["decision"] == "" for r in rows)
        decide = {
            ("CJONES", "role:Executive"): ("Deny", "Moved to Sales; @security see #5"),
            ("DPATEL", "type:administrator"): ("Deny", "Left the HR team"),
            ("CJONES", "role:Viewers"): ("Approve", ""),
            ("STRAY", "type:user"): ("Deny", "Nobody knows STRAY"),
        }
        worksheet = tmp_path / "q4-decisions.csv"

        def fill(skip: set[tuple[str, str]]) -> None:
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            for r in rows:
                key = (r["principal"], r["resource"])
                if key in decide and key not in skip:
                    r = {
                        **r,
                        "decision": decide[key][0],
                        "justification": decide[key][1],
                        "reviewedBy": "alice@example.com",
                        "reviewedDateTime": "2026-11-20T10:00:00Z",
                    }
                writer.writerow(r)
            worksheet.write_text(out.getvalue(), encoding="utf-8")

        committer = {
            "GIT_AUTHOR_NAME": ALICE[0],
            "GIT_AUTHOR_EMAIL": ALICE[1],
            "GIT_AUTHOR_DATE": ALICE[2],
            "GIT_COMMITTER_NAME": ALICE[0],
            "GIT_COMMITTER_EMAIL": ALICE[1],
            "GIT_COMMITTER_DATE": ALICE[2],
        }
        fill(set())
        stray = next(
            i
            for i, r in enumerate(rows, 2)
            if r["principal"] == "STRAY" and r["resource"] == "type:user"
        )
        refused = pisync(["revoke", "--decisions", str(worksheet)], cwd=repo, env=committer)
        assert refused.code == 3
        assert refused.out.splitlines()[0] == (
            f"{worksheet}:{stray}:1: error: STRAY is not declared in the repository, so revoke"
            " cannot edit it: declare it first (pisync import writes its entry), or change it"
            " on the server by hand"
        )
        assert git(repo, ANIKA, "branch", "--show-current") == "main"  # nothing was made
        fill({("STRAY", "type:user")})
        revoked = pisync(
            ["revoke", "--decisions", str(worksheet), "--branch", "review/2026-q4"],
            cwd=repo,
            env=committer,
        )
        outputs.append(revoked)
        assert revoked.code == 0, revoked.all
        commit = git(repo, ANIKA, "rev-parse", "HEAD")
        assert revoked.out.splitlines()[0] == (
            f"Revoked 2 grants on the new branch review/2026-q4 (commit {commit[:10]}):"
        )
        assert git(repo, ANIKA, "branch", "--show-current") == "review/2026-q4"
        expected = (
            TEAM.replace("surname: Jnes", "surname: Jones")
            .replace("review_by: 2026-06-30", "review_by: 2026-12-31")
            .replace("  - usercode: dpatel\n", "  - usercode: dpatel\n    enabled: false\n")
        )
        assert (repo / "users" / "team.yaml").read_text(encoding="utf-8") == expected
        message = git(repo, ANIKA, "log", "-1", "--format=%B")
        assert message.splitlines()[0] == (
            "Revoke access denied in the access review (2 decisions)"
        )
        assert [(d.principal, d.resource, d.justification) for d in parse_trailers(message)] == [
            ("CJONES", "role:Executive", "Moved to Sales; @security see #5"),
            ("DPATEL", "type:administrator", "Left the HR team"),
        ]
        assert "@security" not in message.split("Pisync-Decision")[1]

        # merged as pull request #20 by Carl, applied on merge
        git(repo, CARL, "switch", "-q", "main")
        git(
            repo,
            CARL,
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #20 from acme/review-2026-q4",
            "review/2026-q4",
        )
        report = tmp_path / "apply-report.json"
        after = pisync(["apply", "--auto-approve", "--report", str(report)], cwd=repo, url=emu.url)
        assert after.code == 0, after.all

        second = pisync(
            ["review", "--format", "json", "--apply-report", str(report), "--since", str(bundle)],
            cwd=repo,
            url=emu.url,
            env=github(fake),
        )
        outputs.append(second)
        assert second.code == 0, second.all
    data = json.loads(second.out)
    merge = git(repo, ANIKA, "log", "-1", "--format=%cI", "HEAD")
    applied = {
        "reviewId": rows[0]["reviewId"],
        "decision": "Deny",
        "reviewedBy": "alice@example.com",
        "reviewedDateTime": "2026-11-20T10:00:00Z",
        "commit": commit,
        "pullRequest": 20,
        "appliedBy": "carl-gh",  # GitHub's word for who merged #20
        "appliedDateTime": merge,
        "applyResult": "AppliedSuccessfully",
        "detail": f"a fresh read shows it gone; {report} says applied",
    }
    assert data["decisions"] == [
        {
            **applied,
            "principal": "CJONES",
            "resource": "role:Executive",
            "justification": "Moved to Sales; @security see #5",
        },
        {
            **applied,
            "principal": "DPATEL",
            "resource": "type:administrator",
            "justification": "Left the HR team",
        },
    ]
    assert data["since"]["grants_removed"] == [
        {"principal": "CJONES", "resource": "role:Executive"},
        {"principal": "DPATEL", "resource": "enabled:true"},
    ]
    assert data["since"]["grants_added"] == [{"principal": "DPATEL", "resource": "enabled:false"}]
    assert (data["since"]["joined"], data["since"]["left"]) == ([], [])
    files = [p.read_text(encoding="utf-8") for p in bundle.iterdir()]
    no_secret(*files, *(r.out + r.err for r in outputs))
