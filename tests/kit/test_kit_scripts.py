"""The workflow scripts end to end against a fake GitHub REST API on 127.0.0.1.

Each script runs as the workflows run it (a subprocess with ``GITHUB_TOKEN``,
``GITHUB_REPOSITORY``, ``GITHUB_API_URL`` and ``GITHUB_OUTPUT``); the fake records every request
and keeps the comments, labels, issues, runs and artifacts, so these tests stand in for GitHub's
API: the exact request sequences and bodies, the state after each run, and the messages.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, SCRIPTS, run_script
from gh_fake import REPO, TOKEN, FakeGitHub

R = f"/repos/{REPO}"
PR = 7
HEAD = "0123456789abcdef0123456789abcdef01234567"
RUN_URL = "https://github.com/acme/pi-users/actions/runs/42"
FOOTER = (
    "<sub>pisync plan of `0123456` · [workflow run](https://github.com/acme/pi-users/actions/runs/42)"
    " · this comment is updated on every push</sub>\n"
)
ESCALATION_HEAD = """\
<!-- pisync-plan -->
### ⚠️ Privilege escalation: 3 users gain access

This pull request is labelled `access-escalation`: it needs a review by the owners of access \
before it is merged.

- `GRANTED` gains privileges `editUsers`, `exportToCsv`
- `HOLDER` gains category `Finance`; gains privilege `editRoles`
- `PROMOTED` becomes `administrator` (was `designer`)

"""


def md(name: str) -> str:
    return (DATA / f"{name}.md").read_text()


def comment_args(name: str | None, exit_code: int, tmp: Path, *extra: str) -> list[str]:
    args = ["--pr", str(PR), "--exit-code", str(exit_code)]
    if name is not None:
        args += ["--plan", str(DATA / f"{name}.json"), "--markdown", str(DATA / f"{name}.md")]
    else:
        args += ["--plan", str(tmp / "plan.json"), "--markdown", str(tmp / "plan.md")]
    return [*args, "--head-sha", HEAD, "--run-url", RUN_URL, *extra]


def plain_body(name: str) -> str:
    return f"<!-- pisync-plan -->\n{md(name).strip()}\n\n{FOOTER}"


def escalation_body() -> str:
    return f"{ESCALATION_HEAD}{md('access_escalation').strip()}\n\n{FOOTER}"


# --- upsert_comment.py ----------------------------------------------------------------------


def test_first_plan_creates_the_comment_and_later_pushes_update_it(
    github: FakeGitHub, tmp_path: Path
) -> None:
    first = run_script(
        "upsert_comment.py",
        comment_args("spec_example", 2, tmp_path),
        api_url=github.url,
        tmp=tmp_path,
    )
    assert first.code == 0, first.stderr
    assert first.stdout == (
        "created comment 9001 on pull request #7\n"
        "label access-escalation: not present\n"
        "comment_id=9001\nescalation=false\n"
    )
    assert first.outputs == {"comment_id": "9001", "escalation": "false"}
    assert github.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert github.requests[0].headers["accept"] == "application/vnd.github+json"
    assert github.requests[0].headers["x-github-api-version"] == "2022-11-28"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues/7/comments?per_page=100", None),
        ("POST", f"{R}/issues/7/comments", {"body": plain_body("spec_example")}),
        ("GET", f"{R}/issues/7/labels?per_page=100", None),
    ]

    github.requests.clear()
    second = run_script(
        "upsert_comment.py",
        comment_args("access_escalation", 2, tmp_path),
        api_url=github.url,
        tmp=tmp_path,
    )
    assert second.code == 0, second.stderr
    assert second.stdout == (
        "updated comment 9001 on pull request #7\n"
        "label access-escalation: added\n"
        "comment_id=9001\nescalation=true\n"
    )
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues/7/comments?per_page=100", None),
        ("PATCH", f"{R}/issues/comments/9001", {"body": escalation_body()}),
        ("GET", f"{R}/issues/7/labels?per_page=100", None),
        ("POST", f"{R}/issues/7/labels", {"labels": ["access-escalation"]}),
    ]
    assert [c["body"] for c in github.comments[PR]] == [escalation_body()]
    assert github.labels == {PR: ["access-escalation"]}

    # "No changes" on a later push: the same comment says so, and the label goes.
    github.requests.clear()
    third = run_script(
        "upsert_comment.py", comment_args("empty", 0, tmp_path), api_url=github.url, tmp=tmp_path
    )
    assert third.code == 0, third.stderr
    assert third.stdout == (
        "updated comment 9001 on pull request #7\n"
        "label access-escalation: removed\n"
        "comment_id=9001\nescalation=false\n"
    )
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues/7/comments?per_page=100", None),
        ("PATCH", f"{R}/issues/comments/9001", {"body": plain_body("empty")}),
        ("GET", f"{R}/issues/7/labels?per_page=100", None),
        ("DELETE", f"{R}/issues/7/labels/access-escalation", None),
    ]
    assert [c["body"] for c in github.comments[PR]] == [plain_body("empty")]
    assert "No changes. Panintelligence matches the desired state." in plain_body("empty")
    assert github.labels == {PR: []}


def test_the_marked_comment_is_found_on_a_later_page_among_others(
    github: FakeGitHub, tmp_path: Path
) -> None:
    for i in range(230):
        github.add_comment(PR, f"comment {i} mentions <!-- pisync-plan --> but not first")
    ours = github.add_comment(PR, "<!-- pisync-plan -->\nold plan", "github-actions[bot]")
    for i in range(5):
        github.add_comment(PR, f"later {i}")
    github.labels[PR] = ["bug", "access-escalation"]
    result = run_script(
        "upsert_comment.py",
        comment_args("spec_example", 2, tmp_path),
        api_url=github.url,
        tmp=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert github.lines() == [
        ("GET", f"{R}/issues/7/comments?per_page=100"),
        ("GET", f"{R}/issues/7/comments?per_page=100&page=2"),
        ("GET", f"{R}/issues/7/comments?per_page=100&page=3"),
        ("PATCH", f"{R}/issues/comments/{ours['id']}"),
        ("GET", f"{R}/issues/7/labels?per_page=100"),
        ("DELETE", f"{R}/issues/7/labels/access-escalation"),
    ]
    assert len(github.comments[PR]) == 236
    assert ours["body"] == plain_body("spec_example")
    assert github.labels[PR] == ["bug"]


def test_a_failed_plan_replaces_the_old_plan_and_leaves_the_label(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.add_comment(PR, "<!-- pisync-plan -->\nold plan", "github-actions[bot]")
    github.labels[PR] = ["access-escalation"]
    (tmp_path / "pisync.log").write_text("error: cannot reach https://pi.example.com: timed out\n")
    result = run_script(
        "upsert_comment.py",
        comment_args(None, 1, tmp_path, "--log", str(tmp_path / "pisync.log")),
        api_url=github.url,
        tmp=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "updated comment 9001 on pull request #7\n"
        "label access-escalation: left as it is (no plan to read)\n"
        "comment_id=9001\nescalation=false\n"
    )
    assert github.lines() == [
        ("GET", f"{R}/issues/7/comments?per_page=100"),
        ("PATCH", f"{R}/issues/comments/9001"),
    ]
    assert github.comments[PR][0]["body"] == (
        "<!-- pisync-plan -->\n"
        "> [!CAUTION]\n"
        "> **pisync plan failed (exit 1).** pisync plan failed with a runtime error (network, "
        "server or unexpected); see the log of the plan step, then re-run this job.\n\n"
        "<details open><summary>pisync said</summary>\n\n"
        "```text\nerror: cannot reach https://pi.example.com: timed out\n```\n\n"
        "</details>\n\n" + FOOTER
    )
    assert github.labels[PR] == ["access-escalation"]


def test_invalid_desired_state_shows_the_validation_messages(
    github: FakeGitHub, tmp_path: Path
) -> None:
    log = tmp_path / "pisync.log"
    log.write_text(
        "users/a.yaml:5:5: error: type must be one of administrator, designer, chart-explorer, "
        'user, chart-viewer; found "wizard" (at users[0].type)\n1 error in 1 of 1 file.\n'
    )
    result = run_script(
        "upsert_comment.py",
        comment_args(None, 3, tmp_path, "--log", str(log), "--label", ""),
        api_url=github.url,
        tmp=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "created comment 9001 on pull request #7\ncomment_id=9001\nescalation=false\n"
    )
    assert github.writes() == [
        (
            "POST",
            f"{R}/issues/7/comments",
            {
                "body": "<!-- pisync-plan -->\n"
                "> [!CAUTION]\n"
                "> **pisync plan failed (exit 3).** The desired state or pisync.yaml is invalid; "
                "see the annotations on the changed lines and the log of the validate step, fix "
                "them and push again.\n\n"
                "<details open><summary>pisync said</summary>\n\n"
                "```text\n" + log.read_text().strip() + "\n```\n\n</details>\n\n" + FOOTER
            },
        )
    ]


def test_a_guarded_plan_leads_with_the_guard_and_still_sets_the_label(
    github: FakeGitHub, tmp_path: Path
) -> None:
    (tmp_path / "pisync.log").write_text("guard: would disable 30 users (limit 25); --force\n")
    result = run_script(
        "upsert_comment.py",
        comment_args("access_escalation", 4, tmp_path, "--log", str(tmp_path / "pisync.log")),
        api_url=github.url,
        tmp=tmp_path,
    )
    assert result.code == 0, result.stderr
    body = github.comments[PR][0]["body"]
    caution = body.index("> [!CAUTION]\n> **pisync plan failed (exit 4).** A safety guard")
    assert body.index("### ⚠️ Privilege escalation") < caution < body.index("## pisync plan")
    assert body.endswith(
        "<details open><summary>pisync said</summary>\n\n```text\n"
        "guard: would disable 30 users (limit 25); --force\n```\n\n</details>\n\n" + FOOTER
    )
    assert github.labels[PR] == ["access-escalation"]


def test_huge_plans_and_hostile_names_stay_within_a_comment(
    github: FakeGitHub, tmp_path: Path
) -> None:
    plan = json.loads((DATA / "access_escalation.json").read_text())
    entry = dict(plan["access"][0], usercode="EVIL`<b>x</b>\nNEXT", gained_privileges=["a``b"])
    plan["access"] = [entry] * 60
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    details = "<details><summary>x</summary>\n\n```diff\n" + '+ privileges: "p"\n' * 20_000
    (tmp_path / "plan.md").write_text("## pisync plan\n\n| 1 |\n\n" + details)
    result = run_script(
        "upsert_comment.py", comment_args(None, 2, tmp_path), api_url=github.url, tmp=tmp_path
    )
    assert result.code == 0, result.stderr
    body = github.comments[PR][0]["body"]
    assert len(body.encode()) <= 65_000 < 65_536
    assert body.startswith(
        "<!-- pisync-plan -->\n### ⚠️ Privilege escalation: 60 users gain access\n"
    )
    assert "- ``EVIL`<b>x</b> NEXT`` gains privilege ```a``b```" in body
    assert body.count("gains privilege") == 50
    assert "- … and 10 more (see the plan below)\n" in body
    assert body.endswith(
        "\n```\n\n</details>\n\n_… truncated to fit a GitHub comment; the whole plan is in the "
        "job summary and the plan artifact._\n\n" + FOOTER
    )
    assert body.count("```diff") == 1


def test_api_errors_exit_1_with_the_api_message_and_never_the_token(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.fail(
        "POST",
        f"{R}/issues/7/comments",
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://x"},
    )
    result = run_script(
        "upsert_comment.py", comment_args("empty", 0, tmp_path), api_url=github.url, tmp=tmp_path
    )
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"::error::GitHub API POST {R}/issues/7/comments failed (HTTP 403): "
        "Resource not accessible by integration\n"
    )
    assert result.outputs == {}
    assert TOKEN not in result.stdout + result.stderr


def test_a_pagination_link_to_another_host_is_refused(github: FakeGitHub, tmp_path: Path) -> None:
    for i in range(101):
        github.add_comment(PR, f"c{i}")
    github.foreign_next = "https://evil.example/steal?page=2"
    result = run_script(
        "upsert_comment.py", comment_args("empty", 0, tmp_path), api_url=github.url, tmp=tmp_path
    )
    assert result.code == 1
    assert result.stderr == (
        "::error::GitHub API GET /steal?page=2 failed (no response): pagination link leaves "
        "GITHUB_API_URL\n"
    )
    assert github.lines() == [("GET", f"{R}/issues/7/comments?per_page=100")]


def test_an_unreachable_api_and_missing_variables(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = run_script(
        "upsert_comment.py", comment_args("empty", 0, tmp_path), api_url=url, tmp=tmp_path
    )
    assert result.code == 1
    assert result.stderr == (
        f"::error::GitHub API GET {R}/issues/7/comments?per_page=100 failed (no response): "
        f"cannot reach {url}: [Errno 111] Connection refused\n"
    )
    missing = run_script(
        "upsert_comment.py",
        comment_args("empty", 0, tmp_path),
        api_url=url,
        tmp=tmp_path,
        env={"GITHUB_TOKEN": None},
    )
    assert missing.code == 2
    assert missing.stderr == (
        "::error::GITHUB_TOKEN is not set (pass env: GITHUB_TOKEN: ${{ github.token }})\n"
    )
    bad_repo = run_script(
        "upsert_comment.py",
        comment_args("empty", 0, tmp_path),
        api_url=url,
        tmp=tmp_path,
        env={"GITHUB_REPOSITORY": "no-slash"},
    )
    assert bad_repo.code == 2
    assert bad_repo.stderr == "::error::GITHUB_REPOSITORY must be OWNER/NAME; found 'no-slash'\n"


# --- upsert_issue.py ------------------------------------------------------------------------

ISSUE_TITLE = "pisync: Panintelligence has drifted from the desired state in git"
SHA = "fedcba9876543210fedcba9876543210fedcba98"


def drift_args(exit_code: int, markdown: Path | None = None) -> list[str]:
    args = ["--exit-code", str(exit_code), "--sha", SHA, "--run-url", RUN_URL]
    return [*args, "--markdown", str(markdown)] if markdown else args


def drift_body(markdown: str) -> str:
    return (
        "<!-- pisync-drift -->\n"
        "The live Panintelligence server no longer matches the desired state on the default "
        "branch: the scheduled pisync plan of `fedcba9` ([workflow run]("
        f"{RUN_URL})) would make the changes below.\n\n"
        "Either the server was changed by hand (put the change into git with a pull request, "
        "or let pisync undo it: run the pisync apply workflow by hand with full_apply), or a "
        "merged change was not applied (a failed or stale apply). This issue is updated by "
        "every drift check and closed by the first one that finds no drift.\n\n"
        f"{markdown.strip()}\n"
    )


def test_drift_opens_one_issue_updates_it_and_closes_it(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_issue("a pull request", "<!-- pisync-drift -->", ["pisync-drift"], pull_request={})
    github.add_issue("someone else's", "drift talk", ["pisync-drift"])
    github.add_issue("closed one", "<!-- pisync-drift -->\nold", ["pisync-drift"], state="closed")
    plan = tmp_path / "drift.md"
    plan.write_text(md("spec_example"))
    opened = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert opened.code == 0, opened.stderr
    assert opened.stdout == "opened drift issue #4\naction=opened\nissue=4\n"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues?per_page=100&state=open&labels=pisync-drift", None),
        (
            "POST",
            f"{R}/issues",
            {
                "title": ISSUE_TITLE,
                "body": drift_body(md("spec_example")),
                "labels": ["pisync-drift"],
            },
        ),
    ]

    github.requests.clear()
    plan.write_text(md("access_escalation"))
    updated = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert updated.code == 0, updated.stderr
    assert updated.stdout == "updated drift issue #4\naction=updated\nissue=4\n"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues?per_page=100&state=open&labels=pisync-drift", None),
        ("PATCH", f"{R}/issues/4", {"body": drift_body(md("access_escalation"))}),
    ]
    assert [n for n, i in github.issues.items() if i["state"] == "open"] == [1, 2, 4]

    github.requests.clear()
    closed = run_script("upsert_issue.py", drift_args(0), api_url=github.url, tmp=tmp_path)
    assert closed.code == 0, closed.stderr
    assert closed.stdout == "closed drift issue #4\naction=closed\nissue=4\n"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues?per_page=100&state=open&labels=pisync-drift", None),
        (
            "POST",
            f"{R}/issues/4/comments",
            {
                "body": "No drift any more: the scheduled pisync plan of `fedcba9` ([workflow "
                f"run]({RUN_URL})) found no changes. Closing."
            },
        ),
        ("PATCH", f"{R}/issues/4", {"state": "closed", "state_reason": "completed"}),
    ]
    assert github.issues[4]["state"] == "closed"

    github.requests.clear()
    again = run_script("upsert_issue.py", drift_args(0), api_url=github.url, tmp=tmp_path)
    assert again.code == 0, again.stderr
    assert again.stdout == "no drift, and no open drift issue\naction=none\nissue=\n"
    assert github.lines() == [("GET", f"{R}/issues?per_page=100&state=open&labels=pisync-drift")]


def test_the_drift_issue_is_found_on_a_later_page(github: FakeGitHub, tmp_path: Path) -> None:
    ours = github.add_issue("drift", "<!-- pisync-drift -->\nold", ["pisync-drift"])
    for i in range(150):
        github.add_issue(f"other {i}", "", ["pisync-drift"])
    plan = tmp_path / "drift.md"
    plan.write_text(md("spec_example"))
    result = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert result.code == 0, result.stderr
    assert github.lines() == [
        ("GET", f"{R}/issues?per_page=100&state=open&labels=pisync-drift"),
        ("GET", f"{R}/issues?per_page=100&state=open&labels=pisync-drift&page=2"),
        ("PATCH", f"{R}/issues/{ours['number']}"),
    ]
    assert ours["body"] == drift_body(md("spec_example"))


@pytest.mark.parametrize("exit_code", [1, 3, 4])
def test_a_failed_drift_check_leaves_the_issue_alone(
    github: FakeGitHub, tmp_path: Path, exit_code: int
) -> None:
    result = run_script("upsert_issue.py", drift_args(exit_code), api_url=github.url, tmp=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout == (
        f"pisync plan exited {exit_code}: the drift issue is left as it is\naction=none\nissue=\n"
    )
    assert github.requests == []


def test_an_issue_api_error_names_the_details(github: FakeGitHub, tmp_path: Path) -> None:
    github.fail(
        "POST",
        f"{R}/issues",
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "code": "invalid", "message": "labels are invalid"}],
        },
    )
    plan = tmp_path / "drift.md"
    plan.write_text(md("spec_example"))
    result = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert result.code == 1
    assert result.stderr == (
        f"::error::GitHub API POST {R}/issues failed (HTTP 422): Validation Failed "
        "(labels are invalid)\n"
    )


# --- find_plan_artifact.py ------------------------------------------------------------------

MERGE = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
PR_HEAD = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
OTHER_HEAD = "cccccccccccccccccccccccccccccccccccccccc"
WF = "pisync-plan.yml"
RUNS = f"{R}/actions/workflows/{WF}/runs"
ARTIFACT = f"pisync-plan-pr12-{PR_HEAD}"


def pull(number: int, head: str, merged_at: str | None, merge_sha: str | None) -> dict[str, Any]:
    return {
        "number": number,
        "head": {"sha": head},
        "merged_at": merged_at,
        "merge_commit_sha": merge_sha,
    }


def run(
    run_id: int, head: str, conclusion: str, created: str, event: str = "pull_request"
) -> dict[str, Any]:
    return {
        "id": run_id,
        "head_sha": head,
        "status": "completed",
        "conclusion": conclusion,
        "event": event,
        "created_at": created,
        "run_started_at": created,
        "html_url": f"https://github.com/{REPO}/actions/runs/{run_id}",
    }


def artifact(artifact_id: int, name: str, expired: bool = False) -> dict[str, Any]:
    return {"id": artifact_id, "name": name, "expired": expired}


def seed_runs(github: FakeGitHub) -> None:
    github.commit_pulls[MERGE] = [
        pull(13, OTHER_HEAD, None, None),  # an open pull request that contains the commit
        pull(11, OTHER_HEAD, "2026-01-01T09:00:00Z", "dddddddddddddddddddddddddddddddddddddddd"),
        pull(12, PR_HEAD, "2026-01-02T10:00:00Z", MERGE),
    ]
    github.runs[WF] = [
        run(501, PR_HEAD, "success", "2026-01-02T08:00:00Z"),
        run(503, PR_HEAD, "success", "2026-01-02T09:00:00Z"),
        run(504, PR_HEAD, "failure", "2026-01-02T09:30:00Z"),
        run(505, OTHER_HEAD, "success", "2026-01-02T09:45:00Z"),
        run(506, PR_HEAD, "success", "2026-01-02T09:50:00Z", event="push"),
    ]
    github.artifacts = {
        501: [artifact(71, ARTIFACT)],
        503: [artifact(73, ARTIFACT), artifact(74, "something-else")],
        504: [artifact(75, ARTIFACT)],
    }


def test_the_plan_of_the_merged_pull_requests_latest_successful_run_is_found(
    github: FakeGitHub, tmp_path: Path
) -> None:
    seed_runs(github)
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 0, result.stderr
    assert result.outputs == {
        "pr": "12",
        "head_sha": PR_HEAD,
        "run_id": "503",
        "run_url": f"https://github.com/{REPO}/actions/runs/503",
        "artifact_id": "73",
        "artifact_name": ARTIFACT,
    }
    assert result.stdout.splitlines()[:2] == [
        f"commit aaaaaaa merged pull request #12 (head {PR_HEAD})",
        f"plan artifact {ARTIFACT} of run 503",
    ]
    assert github.lines() == [
        ("GET", f"{R}/commits/{MERGE}/pulls?per_page=100"),
        ("GET", f"{RUNS}?per_page=100&head_sha={PR_HEAD}&status=success&event=pull_request"),
        ("GET", f"{R}/actions/runs/503/artifacts?per_page=100&name={ARTIFACT}"),
    ]


def test_an_expired_artifact_falls_back_to_the_previous_successful_run(
    github: FakeGitHub, tmp_path: Path
) -> None:
    seed_runs(github)
    github.artifacts[503] = [artifact(73, ARTIFACT, expired=True)]
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 0, result.stderr
    assert (result.outputs["run_id"], result.outputs["artifact_id"]) == ("501", "71")
    assert github.lines()[2:] == [
        ("GET", f"{R}/actions/runs/503/artifacts?per_page=100&name={ARTIFACT}"),
        ("GET", f"{R}/actions/runs/501/artifacts?per_page=100&name={ARTIFACT}"),
    ]


def test_runs_are_read_across_pages(github: FakeGitHub, tmp_path: Path) -> None:
    seed_runs(github)
    github.runs[WF] = [
        run(1000 + i, PR_HEAD, "success", f"2026-01-02T{i // 60:02d}:{i % 60:02d}:00Z")
        for i in range(130)
    ]
    github.runs[WF][5]["run_started_at"] = "2026-01-03T00:00:00Z"  # re-run latest
    github.artifacts = {1005: [artifact(99, ARTIFACT)]}
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 0, result.stderr
    assert (result.outputs["run_id"], result.outputs["artifact_id"]) == ("1005", "99")
    query = f"per_page=100&head_sha={PR_HEAD}&status=success&event=pull_request"
    assert github.lines()[1:3] == [("GET", f"{RUNS}?{query}"), ("GET", f"{RUNS}?{query}&page=2")]


def test_a_squash_merge_without_a_matching_merge_sha_takes_the_last_merged(
    github: FakeGitHub, tmp_path: Path
) -> None:
    seed_runs(github)
    github.commit_pulls[MERGE] = [
        pull(11, OTHER_HEAD, "2026-01-01T09:00:00Z", None),
        pull(12, PR_HEAD, "2026-01-02T10:00:00Z", None),
    ]
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 0, result.stderr
    assert result.outputs["pr"] == "12"


NOTHING_APPLIED = (
    "Nothing was applied. Changes reach Panintelligence only through a reviewed pull request "
    "plan: open a pull request for them, or run this workflow by hand with full_apply to plan "
    "and apply the whole desired state."
)


def test_a_direct_push_has_no_plan(github: FakeGitHub, tmp_path: Path) -> None:
    github.commit_pulls[MERGE] = [pull(13, OTHER_HEAD, None, None)]
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 3
    assert result.stdout == ""
    assert result.stderr == (
        "::error::Commit aaaaaaa did not come from a merged pull request (a direct push?). "
        f"{NOTHING_APPLIED}\n"
    )
    assert result.outputs == {}


def test_a_pull_request_whose_plan_never_passed(github: FakeGitHub, tmp_path: Path) -> None:
    seed_runs(github)
    github.runs[WF] = [run(504, PR_HEAD, "failure", "2026-01-02T09:30:00Z")]
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 3
    assert result.stderr == (
        "::error::Pull request #12 has no successful pisync-plan.yml run for its head commit "
        "bbbbbbb: its plan never passed review (the check failed, was cancelled or was "
        f"skipped). {NOTHING_APPLIED}\n"
    )


def test_no_unexpired_artifact(github: FakeGitHub, tmp_path: Path) -> None:
    seed_runs(github)
    github.artifacts = {503: [artifact(73, ARTIFACT, expired=True)]}
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 3
    assert result.stderr == (
        f"::error::No unexpired artifact {ARTIFACT} in the successful pisync-plan.yml runs of "
        "pull request #12 (runs 503, 501); artifacts expire after the repository's retention "
        f"period. {NOTHING_APPLIED}\n"
    )


def test_an_api_error_while_finding_the_plan(github: FakeGitHub, tmp_path: Path) -> None:
    seed_runs(github)
    github.fail("GET", RUNS, 403, {"message": "Resource not accessible by integration"})
    result = run_script(
        "find_plan_artifact.py", ["--commit", MERGE], api_url=github.url, tmp=tmp_path
    )
    assert result.code == 1
    assert result.stderr == (
        f"::error::GitHub API GET {RUNS}?per_page=100&head_sha={PR_HEAD}&status=success"
        "&event=pull_request failed (HTTP 403): Resource not accessible by integration\n"
    )
    assert TOKEN not in result.stdout + result.stderr


# --- plan_summary.py and exit_status.py -----------------------------------------------------


def test_plan_summary_names_the_escalations(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    result = run_script(
        "plan_summary.py",
        [
            str(DATA / "access_escalation.json"),
            "--annotate",
            "--markdown",
            "--title",
            "Applying #12",
        ],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "Plan: 1 to create, 4 to update, 0 to disable, 0 to delete.\n"
        "::warning title=pisync::Privilege escalation for 3 users: GRANTED, HOLDER, PROMOTED\n"
        "summary=Plan: 1 to create, 4 to update, 0 to disable, 0 to delete.\n"
        "changes=5\nescalations=3\nescalation=true\n"
    )
    assert result.outputs == {
        "summary": "Plan: 1 to create, 4 to update, 0 to disable, 0 to delete.",
        "changes": "5",
        "escalations": "3",
        "escalation": "true",
    }
    assert summary.read_text() == (
        "## Applying #12\n\nPlan: 1 to create, 4 to update, 0 to disable, 0 to delete.\n\n"
        "- ⚠️ `GRANTED` gains privileges `editUsers`, `exportToCsv`\n"
        "- ⚠️ `HOLDER` gains category `Finance`; gains privilege `editRoles`\n"
        "- ⚠️ `PROMOTED` becomes `administrator` (was `designer`)\n\n"
    )


def test_plan_summary_without_escalation_and_without_a_plan(tmp_path: Path) -> None:
    result = run_script(
        "plan_summary.py", [str(DATA / "empty.json")], api_url="http://127.0.0.1:9", tmp=tmp_path
    )
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "Plan: 0 to create, 0 to update, 0 to disable, 0 to delete.\nNo privilege escalation.\n"
        "summary=Plan: 0 to create, 0 to update, 0 to disable, 0 to delete.\n"
        "changes=0\nescalations=0\nescalation=false\n"
    )
    missing = run_script(
        "plan_summary.py", [str(tmp_path / "nope.json")], api_url="http://127.0.0.1:9", tmp=tmp_path
    )
    assert (missing.code, missing.stderr) == (2, f"::error::no plan in {tmp_path / 'nope.json'}\n")
    (tmp_path / "bad.json").write_text('{"changes": []}')
    bad = run_script(
        "plan_summary.py", [str(tmp_path / "bad.json")], api_url="http://127.0.0.1:9", tmp=tmp_path
    )
    assert (bad.code, bad.stderr) == (
        2,
        f"::error::{tmp_path / 'bad.json'} is not a pisync plan (no summary object)\n",
    )


#: SPEC §4 exit codes, and whether each workflow's check passes on them.
PASSING = {"plan": {0, 2}, "apply": {0}, "drift": {0, 2}}


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
@pytest.mark.parametrize("code", [0, 1, 2, 3, 4, 5, 6, 64, 99])
def test_exit_status_passes_exactly_the_codes_that_pass(
    tmp_path: Path, command: str, code: int
) -> None:
    result = run_script(
        "exit_status.py", [command, str(code)], api_url="http://127.0.0.1:9", tmp=tmp_path
    )
    if code in PASSING[command]:
        assert (result.code, result.stderr) == (0, "")
        assert result.stdout.startswith(f"::notice title=pisync {command}::")
    else:
        assert (result.code, result.stdout) == (1, "")
        assert result.stderr.startswith(f"::error title=pisync {command} (exit {code})::")
        assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["plan", "3"],
            "::error title=pisync plan (exit 3)::The desired state or pisync.yaml is invalid; see "
            "the annotations on the changed lines and the log of the validate step, fix them "
            "and push again.",
        ),
        (
            ["plan", "1"],
            "::error title=pisync plan (exit 1)::pisync plan failed with a runtime error "
            "(network, server or unexpected); see the log of the plan step, then re-run this job.",
        ),
        (
            ["apply", "5", "--pr", "12"],
            "::error title=pisync apply (exit 5)::Pull request #12: The reviewed plan is stale: "
            "an object it touches changed on the server after it was planned, or an object it "
            "creates appeared meanwhile. Nothing was applied. To re-plan: run the pisync drift "
            "workflow to see how the server differs from the default branch now, then open a "
            "follow-up pull request that touches the affected files (its plan is reviewed and "
            "applied on merge), or run this workflow by hand with full_apply to plan and apply "
            "the whole desired state.",
        ),
        (
            ["apply", "6"],
            "::error title=pisync apply (exit 6)::Some changes failed (listed in the log and in "
            "the apply-report artifact); the others were applied. Fix the cause, then converge "
            "with a full apply (run this workflow by hand with full_apply) or a follow-up pull "
            "request; re-running this job would find the plan stale.",
        ),
        (
            ["apply", "64"],
            "::error title=pisync apply (exit 64)::pisync was called with a wrong option (exit "
            "64, usage error); see the log.",
        ),
        (
            ["drift", "99"],
            "::error title=pisync drift (exit 99)::pisync plan exited with unexpected code 99; "
            "see the log.",
        ),
        (
            ["drift", "2"],
            "::notice title=pisync drift::Panintelligence has drifted from the desired state in "
            "git: see the open issue labelled pisync-drift.",
        ),
    ],
)
def test_exit_status_messages(tmp_path: Path, args: list[str], line: str) -> None:
    result = run_script("exit_status.py", args, api_url="http://127.0.0.1:9", tmp=tmp_path)
    assert (result.stdout + result.stderr) == line + "\n"


def test_every_script_is_stdlib_only() -> None:
    allowed = {
        "__future__",
        "argparse",
        "collections",
        "json",
        "os",
        "pathlib",
        "re",
        "sys",
        "typing",
        "urllib",
        "ghkit",
    }
    for script in sorted(SCRIPTS.glob("*.py")):
        imported = set()
        for line in script.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                imported.add(line.split()[1].split(".")[0])
        assert imported <= allowed, (script.name, imported - allowed)


def test_the_scripts_pass_mypy_strict(tmp_path: Path) -> None:
    """``make lint`` type-checks the packages only; the scripts are held to the same bar here."""
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "mypy"),
            "--strict",
            "--python-version",
            "3.11",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            *sorted(str(p) for p in SCRIPTS.glob("*.py")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, "Success: no issues found in 6 source files\n")
