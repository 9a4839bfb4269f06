"""The workflow scripts end to end against a fake GitHub REST API on 127.0.0.1 and a fake pisync.

Each script runs as the workflows run it (a subprocess with ``GITHUB_TOKEN``,
``GITHUB_REPOSITORY``, ``GITHUB_API_URL``, ``GITHUB_OUTPUT`` and ``pisync`` on PATH); the fake
records every request and keeps the comments, labels, issues, statuses, reviews and artifacts,
so these tests stand in for GitHub's API: the exact request sequences and bodies, the state after
each run, and the messages. The apply queue has its own file (test_kit_queue.py).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SCRIPTS, FakePisync, run_script
from gh_fake import BOT, REPO, TEAMS_TOKEN, TOKEN, FakeGitHub
from kitdata import DATA, md, plan_data, plan_run, plan_zip, pull, review

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

`GRANTED`, `HOLDER`, `PROMOTED` (see _Effective access_ in the plan below).

This pull request is labelled `access-escalation`: it needs a review by the owners of access \
before it is merged.

"""
STOP = re.compile(r"::stop-commands::([0-9a-f]{32})\n(.*?)\n::\1::\n", re.S)


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


def comment(
    github: FakeGitHub, pisync: FakePisync, tmp: Path, args: list[str], **env: str | None
) -> Any:
    return run_script(
        "upsert_comment.py", args, api_url=github.url, tmp=tmp, env={**pisync.env(), **env}
    )


# --- workflow commands and Markdown: nothing from user data is live ---------------------------

HOSTILE = "::set-output name=x::y\n##[error]boom\r::stop-commands::abc\n%0A"


def ghkit_module() -> Any:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import ghkit

        return ghkit
    finally:
        sys.path.remove(str(SCRIPTS))


def test_annotations_escape_data_and_properties() -> None:
    ghkit = ghkit_module()
    assert ghkit.annotation("warning", HOSTILE, "t:i,tle") == (
        "::warning title=t%3Ai%2Ctle::::set-output name=x::y%0A#\u2060#[error]boom%0D"
        "::stop-commands::abc%0A%250A"
    )
    assert "\n" not in ghkit.annotation("error", HOSTILE)


def test_untrusted_text_is_printed_between_fresh_stop_commands_tokens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ghkit = ghkit_module()
    ghkit.print_untrusted(HOSTILE)
    ghkit.print_untrusted(HOSTILE)
    out = capsys.readouterr().out
    blocks = STOP.findall(out)
    assert len(blocks) == 2
    assert blocks[0][0] != blocks[1][0]  # a fresh token each time
    assert blocks[0][1] == (
        "::set-output name=x::y\n#\u2060#[error]boom\n::stop-commands::abc\n%0A"
    )
    assert STOP.sub("", out) == ""


def test_markdown_text_carries_no_mention_html_comment_or_link() -> None:
    ghkit = ghkit_module()
    text = "@acme/admins <!-- x --> <img src=x> [a](https://e) *b* `c` a|b\nnext"
    assert ghkit.md_text(text) == (
        "@\u200dacme/admins &lt;\\!-- x --&gt; &lt;img src=x&gt; \\[a\\](https://e) \\*b\\* "
        "\\`c\\` a\\|b next"
    )
    assert ghkit.md_code("a``b @team") == "```a``b @team```"
    assert ghkit.md_fence("x\n```\n@y") == "````text\nx\n```\n@y\n````"


# --- upsert_comment.py ----------------------------------------------------------------------


def test_first_plan_creates_the_comment_and_later_pushes_update_it(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    first = comment(github, pisync, tmp_path, comment_args("spec_example", 2, tmp_path))
    assert first.code == 0, first.stderr
    assert first.stdout == (
        "created comment 9001 on pull request #7\n"
        "label access-escalation: not present\n"
        "comment_id=9001\nescalation=false\n"
    )
    assert first.outputs == {"comment_id": "9001", "escalation": "false"}
    assert pisync.calls() == [
        ["show", str(DATA / "spec_example.json"), "--summary", "--format", "json"]
    ]
    assert github.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert github.requests[0].headers["accept"] == "application/vnd.github+json"
    assert github.requests[0].headers["x-github-api-version"] == "2022-11-28"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues/7/comments?per_page=100", None),
        ("POST", f"{R}/issues/7/comments", {"body": plain_body("spec_example")}),
        ("GET", f"{R}/issues/7/labels?per_page=100", None),
    ]

    github.requests.clear()
    second = comment(github, pisync, tmp_path, comment_args("access_escalation", 2, tmp_path))
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
    third = comment(github, pisync, tmp_path, comment_args("empty", 0, tmp_path))
    assert third.code == 0, third.stderr
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", f"{R}/issues/7/comments?per_page=100", None),
        ("PATCH", f"{R}/issues/comments/9001", {"body": plain_body("empty")}),
        ("GET", f"{R}/issues/7/labels?per_page=100", None),
        ("DELETE", f"{R}/issues/7/labels/access-escalation", None),
    ]
    assert [c["body"] for c in github.comments[PR]] == [plain_body("empty")]
    assert "No changes. Panintelligence matches the desired state." in plain_body("empty")
    assert github.labels == {PR: []}


def test_only_its_own_comment_is_edited_a_hostile_marker_is_ignored(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    """Anyone can write a comment that starts with the marker; a person can even pick a login
    that reads like the bot's. Only a comment the bot account wrote is the kit's."""
    forged = [
        github.add_comment(PR, "<!-- pisync-plan -->\nApproved, merge now", "mallory"),
        github.add_comment(PR, "<!-- pisync-plan -->\nfake bot", "github-actions[bot]", "User"),
        github.add_comment(PR, "<!-- pisync-plan -->\nother app", "renovate[bot]", "Bot"),
    ]
    result = comment(github, pisync, tmp_path, comment_args("spec_example", 2, tmp_path))
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("created comment 9004 on pull request #7\n")
    assert [c["body"].split("\n")[1] for c in forged] == [
        "Approved, merge now",
        "fake bot",
        "other app",
    ]
    ours = github.comments[PR][-1]
    assert ours["user"] == BOT
    assert ours["body"] == plain_body("spec_example")

    github.requests.clear()
    again = comment(github, pisync, tmp_path, comment_args("empty", 0, tmp_path))
    assert again.code == 0, again.stderr
    assert github.writes()[0] == (
        "PATCH",
        f"{R}/issues/comments/9004",
        {"body": plain_body("empty")},
    )
    assert [c["body"].split("\n")[1] for c in forged] == [
        "Approved, merge now",
        "fake bot",
        "other app",
    ]
    # A token of another identity (a GitHub App's) names itself with --author.
    github.requests.clear()
    app = comment(
        github,
        pisync,
        tmp_path,
        comment_args("empty", 0, tmp_path, "--author", "renovate[bot]", "--label", ""),
    )
    assert app.code == 0, app.stderr
    assert github.writes() == [
        ("PATCH", f"{R}/issues/comments/{forged[2]['id']}", {"body": plain_body("empty")})
    ]


def test_the_marked_comment_is_found_on_a_later_page_among_others(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    for i in range(230):
        github.add_comment(PR, f"comment {i} mentions <!-- pisync-plan --> but not first")
    ours = github.add_comment(PR, "<!-- pisync-plan -->\nold plan", *BOT.values())
    for i in range(5):
        github.add_comment(PR, f"later {i}")
    github.labels[PR] = ["bug", "access-escalation"]
    result = comment(github, pisync, tmp_path, comment_args("spec_example", 2, tmp_path))
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
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    github.add_comment(PR, "<!-- pisync-plan -->\nold plan", *BOT.values())
    github.labels[PR] = ["access-escalation"]
    (tmp_path / "pisync.log").write_text("error: cannot reach https://pi.example.com: timed out\n")
    result = comment(
        github,
        pisync,
        tmp_path,
        comment_args(None, 1, tmp_path, "--log", str(tmp_path / "pisync.log")),
    )
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "updated comment 9001 on pull request #7\n"
        "label access-escalation: left as it is (no plan to read)\n"
        "comment_id=9001\nescalation=false\n"
    )
    assert pisync.calls() == []
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
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    log = tmp_path / "pisync.log"
    log.write_text(
        "users/a.yaml:5:5: error: type must be one of administrator, designer, chart-explorer, "
        'user, chart-viewer; found "wizard" (at users[0].type)\n1 error in 1 of 1 file.\n'
    )
    result = comment(
        github, pisync, tmp_path, comment_args(None, 3, tmp_path, "--log", str(log), "--label", "")
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
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    (tmp_path / "pisync.log").write_text("guard: would disable 30 users (limit 25); --force\n")
    result = comment(
        github,
        pisync,
        tmp_path,
        comment_args("access_escalation", 4, tmp_path, "--log", str(tmp_path / "pisync.log")),
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


def test_approvers_are_named_without_mentioning_them(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    args = comment_args("access_escalation", 2, tmp_path, "--approvers", "@acme/pi-owners, alice")
    result = comment(github, pisync, tmp_path, args)
    assert result.code == 0, result.stderr
    body = github.comments[PR][0]["body"]
    assert (
        "It needs an approving review of this commit from `@acme/pi-owners` or `@alice` (the "
        "status `pisync/escalation-approval`) before it is merged.\n"
    ) in body
    bad = comment(github, pisync, tmp_path, comment_args("empty", 0, tmp_path, "--approvers", "a!"))
    assert (bad.code, bad.stderr) == (
        2,
        "::error::PISYNC_ESCALATION_APPROVERS: 'a!' is neither a GitHub login nor ORG/TEAM\n",
    )


def test_huge_plans_and_hostile_names_stay_within_a_comment(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    plan = plan_data("access_escalation")
    entry = dict(plan["access"][0], usercode="EVIL`<b>x</b>\nNEXT @acme/admins")
    plan["access"] = [entry] * 60
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    details = "<details><summary>x</summary>\n\n```diff\n" + '+ privileges: "p"\n' * 20_000
    (tmp_path / "plan.md").write_text("## pisync plan\n\n| 1 |\n\n" + details)
    result = comment(github, pisync, tmp_path, comment_args(None, 2, tmp_path))
    assert result.code == 0, result.stderr
    body = github.comments[PR][0]["body"]
    assert len(body.encode()) <= 65_000 < 65_536
    assert body.startswith(
        "<!-- pisync-plan -->\n### ⚠️ Privilege escalation: 60 users gain access\n\n"
        + ", ".join(["``EVIL`<b>x</b> NEXT @acme/admins``"] * 50)
        + " and 10 more (see _Effective access_ in the plan below).\n"
    )
    assert body.endswith(
        "\n```\n\n</details>\n\n_… truncated to fit a GitHub comment; the whole plan is in the "
        "job summary and the plan artifact._\n\n" + FOOTER
    )
    assert body.count("```diff") == 1


def test_a_plan_that_pisync_show_refuses_fails_the_step(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    (tmp_path / "plan.json").write_text(json.dumps({**plan_data("empty"), "fake_show_exit": 3}))
    result = comment(github, pisync, tmp_path, comment_args(None, 2, tmp_path))
    assert result.code == 3
    assert STOP.sub("", result.stdout) == ""
    assert STOP.findall(result.stdout)[0][1] == (
        f"error: {tmp_path / 'plan.json'}: the plan file was changed after it was written"
    )
    assert result.stderr == (
        f"::error::pisync show {tmp_path / 'plan.json'} refused the plan (exit 3); see "
        "pisync's message above.\n"
    )
    assert github.requests == []


def test_api_errors_exit_1_with_the_api_message_and_never_the_token(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    github.fail(
        "POST",
        f"{R}/issues/7/comments",
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://x"},
    )
    result = comment(github, pisync, tmp_path, comment_args("empty", 0, tmp_path))
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"::error::GitHub API POST {R}/issues/7/comments failed (HTTP 403): "
        "Resource not accessible by integration\n"
    )
    assert result.outputs == {}
    assert TOKEN not in result.stdout + result.stderr


def test_a_pagination_link_to_another_host_is_refused(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    for i in range(101):
        github.add_comment(PR, f"c{i}")
    github.foreign_next = "https://evil.example/steal?page=2"
    result = comment(github, pisync, tmp_path, comment_args("empty", 0, tmp_path))
    assert result.code == 1
    assert result.stderr == (
        "::error::GitHub API GET /steal?page=2 failed (no response): pagination link leaves "
        "GITHUB_API_URL\n"
    )
    assert github.lines() == [("GET", f"{R}/issues/7/comments?per_page=100")]


def test_an_unreachable_api_and_missing_variables(pisync: FakePisync, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    args = comment_args("empty", 0, tmp_path)
    result = run_script("upsert_comment.py", args, api_url=url, tmp=tmp_path, env=pisync.env())
    assert result.code == 1
    assert result.stderr == (
        f"::error::GitHub API GET {R}/issues/7/comments?per_page=100 failed (no response): "
        f"cannot reach {url}: [Errno 111] Connection refused\n"
    )
    missing = run_script(
        "upsert_comment.py", args, api_url=url, tmp=tmp_path, env={"GITHUB_TOKEN": None}
    )
    assert missing.code == 2
    assert missing.stderr == (
        "::error::GITHUB_TOKEN is not set (pass env: GITHUB_TOKEN: ${{ github.token }})\n"
    )
    bad_repo = run_script(
        "upsert_comment.py", args, api_url=url, tmp=tmp_path, env={"GITHUB_REPOSITORY": "x"}
    )
    assert bad_repo.code == 2
    assert bad_repo.stderr == "::error::GITHUB_REPOSITORY must be OWNER/NAME; found 'x'\n"


# --- upsert_issue.py ------------------------------------------------------------------------

ISSUE_TITLE = "pisync: Panintelligence has drifted from the desired state in git"
SHA = "fedcba9876543210fedcba9876543210fedcba98"
ISSUES = f"{R}/issues?per_page=100&state=open&labels=pisync-drift"


def drift_args(exit_code: int, markdown: Path | None = None, *extra: str) -> list[str]:
    args = ["--exit-code", str(exit_code), "--sha", SHA, "--run-url", RUN_URL, *extra]
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


def blocked_body(markdown: str, said: str) -> str:
    return (
        "<!-- pisync-drift -->\n"
        "> [!CAUTION]\n"
        "> **BLOCKED: a safety guard stops pisync from applying the default branch.** The live "
        "Panintelligence server differs from the desired state on the default branch, and "
        "applying it would trip a safety guard: the scheduled pisync plan of `fedcba9` "
        f"([workflow run]({RUN_URL})) exited 4 (why: pisync's message below, and the plan). "
        "Until this is resolved, no merged pull request and no full apply can be applied "
        "without force. Look at the plan: either put the server's state into git with a pull "
        "request, or fix the server, or, if the change is intended, an administrator runs the "
        "pisync apply workflow by hand with full_apply and force.\n\n"
        "<details open><summary>pisync said</summary>\n\n"
        f"```text\n{said}\n```\n\n</details>\n\n"
        "This issue is updated by every drift check and closed by the first one that finds no "
        "drift.\n\n"
        f"{markdown.strip()}\n"
    )


def test_drift_opens_one_issue_updates_it_and_closes_it(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_issue(
        "a pull request", "<!-- pisync-drift -->", ["pisync-drift"], BOT, pull_request={}
    )
    github.add_issue("someone else's", "drift talk", ["pisync-drift"], BOT)
    github.add_issue(
        "closed one", "<!-- pisync-drift -->\nold", ["pisync-drift"], BOT, state="closed"
    )
    github.add_issue("a person's", "<!-- pisync-drift -->\nmine", ["pisync-drift"])
    plan = tmp_path / "drift.md"
    plan.write_text(md("spec_example"))
    opened = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert opened.code == 0, opened.stderr
    assert opened.stdout == "opened drift issue #5\naction=opened\nissue=5\nblocked=false\n"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", ISSUES, None),
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
    assert github.issues[4]["body"] == "<!-- pisync-drift -->\nmine"  # a person's: untouched

    github.requests.clear()
    plan.write_text(md("access_escalation"))
    updated = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert updated.code == 0, updated.stderr
    assert updated.stdout == "updated drift issue #5\naction=updated\nissue=5\nblocked=false\n"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", ISSUES, None),
        (
            "PATCH",
            f"{R}/issues/5",
            {"title": ISSUE_TITLE, "body": drift_body(md("access_escalation"))},
        ),
    ]
    assert [n for n, i in github.issues.items() if i["state"] == "open"] == [1, 2, 4, 5]

    github.requests.clear()
    closed = run_script("upsert_issue.py", drift_args(0), api_url=github.url, tmp=tmp_path)
    assert closed.code == 0, closed.stderr
    assert closed.stdout == "closed drift issue #5\naction=closed\nissue=5\nblocked=false\n"
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", ISSUES, None),
        (
            "POST",
            f"{R}/issues/5/comments",
            {
                "body": "No drift any more: the scheduled pisync plan of `fedcba9` ([workflow "
                f"run]({RUN_URL})) found no changes. Closing."
            },
        ),
        ("PATCH", f"{R}/issues/5", {"state": "closed", "state_reason": "completed"}),
    ]
    assert github.issues[5]["state"] == "closed"

    github.requests.clear()
    again = run_script("upsert_issue.py", drift_args(0), api_url=github.url, tmp=tmp_path)
    assert again.code == 0, again.stderr
    assert again.stdout == "no drift, and no open drift issue\naction=none\nissue=\n"
    assert github.lines() == [("GET", ISSUES)]


def test_a_blocked_drift_opens_the_issue_saying_blocked_and_why(
    github: FakeGitHub, tmp_path: Path
) -> None:
    plan = tmp_path / "drift.md"
    plan.write_text(md("spec_example"))
    log = tmp_path / "pisync.log"
    log.write_text("error: apply would disable 6 users (limit 5: safety.max_prune_count)\n")
    args = drift_args(4, plan, "--log", str(log))
    blocked = run_script("upsert_issue.py", args, api_url=github.url, tmp=tmp_path)
    assert blocked.code == 0, blocked.stderr
    assert blocked.stdout == (
        "opened (blocked) drift issue #1\naction=opened\nissue=1\nblocked=true\n"
    )
    said = "error: apply would disable 6 users (limit 5: safety.max_prune_count)"
    assert github.writes() == [
        (
            "POST",
            f"{R}/issues",
            {
                "title": f"BLOCKED: {ISSUE_TITLE}",
                "body": blocked_body(md("spec_example"), said),
                "labels": ["pisync-drift"],
            },
        )
    ]
    # the drift goes on, no longer blocked: the same issue, its title and body back to drift
    github.requests.clear()
    drift = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert drift.code == 0, drift.stderr
    assert github.writes() == [
        ("PATCH", f"{R}/issues/1", {"title": ISSUE_TITLE, "body": drift_body(md("spec_example"))})
    ]
    # and blocked again: the open issue is updated, not a second one opened
    github.requests.clear()
    again = run_script("upsert_issue.py", args, api_url=github.url, tmp=tmp_path)
    assert again.stdout.startswith("updated (blocked) drift issue #1\n")
    assert github.issues[1]["title"] == f"BLOCKED: {ISSUE_TITLE}"
    assert len(github.issues) == 1


def test_the_drift_issue_is_found_on_a_later_page(github: FakeGitHub, tmp_path: Path) -> None:
    ours = github.add_issue("drift", "<!-- pisync-drift -->\nold", ["pisync-drift"], BOT)
    for i in range(150):
        github.add_issue(f"other {i}", "", ["pisync-drift"])
    plan = tmp_path / "drift.md"
    plan.write_text(md("spec_example"))
    result = run_script("upsert_issue.py", drift_args(2, plan), api_url=github.url, tmp=tmp_path)
    assert result.code == 0, result.stderr
    assert github.lines() == [
        ("GET", ISSUES),
        ("GET", f"{ISSUES}&page=2"),
        ("PATCH", f"{R}/issues/{ours['number']}"),
    ]
    assert ours["body"] == drift_body(md("spec_example"))


@pytest.mark.parametrize("exit_code", [1, 3, 64])
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


# --- plan_summary.py ------------------------------------------------------------------------


def test_plan_summary_reads_the_plan_through_pisync_show(
    pisync: FakePisync, tmp_path: Path
) -> None:
    plan = {**plan_data("access_escalation"), "fake_markdown": "## shown by pisync\n"}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    result = run_script(
        "plan_summary.py",
        ["plan.json", "--annotate", "--markdown-out", "plan.md", "--summary", "--title", "#12 <b>"],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
        env=pisync.env(),
    )
    assert result.code == 0, result.stderr
    assert pisync.calls() == [
        ["show", "plan.json", "--summary", "--format", "json"],
        ["show", "plan.json", "--format", "markdown"],
    ]
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
    assert (tmp_path / "plan.md").read_text() == "## shown by pisync\n"
    assert (tmp_path / "step_summary.md").read_text() == (
        "## \\#12 &lt;b&gt;\n\n## shown by pisync\n\n"
    )


def test_plan_summary_never_lets_a_usercode_start_a_workflow_command(
    pisync: FakePisync, tmp_path: Path
) -> None:
    plan = plan_data("access_escalation")
    plan["access"][0]["usercode"] = "::set-output name=x::y"
    plan["access"][1]["usercode"] = "##[add-mask]x\n::error::forged"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    annotated = run_script(
        "plan_summary.py",
        ["plan.json", "--annotate"],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
        env=pisync.env(),
    )
    line = annotated.stdout.splitlines()[1]
    assert line == (
        "::warning title=pisync::Privilege escalation for 3 users: ::set-output name=x::y, "
        "#\u2060#[add-mask]x%0A::error::forged, PROMOTED"
    )
    plain = run_script(
        "plan_summary.py",
        ["plan.json"],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
        env=pisync.env(),
    )
    [(token, text)] = STOP.findall(plain.stdout)
    assert text == (
        "Privilege escalation for 3 users: ::set-output name=x::y, #\u2060#[add-mask]x\n"
        "::error::forged, PROMOTED"
    )
    assert token not in json.dumps(plan)
    outside = STOP.sub("", plain.stdout)
    assert not [x for x in outside.splitlines() if x.startswith("::") or "##[" in x]


def test_plan_summary_without_escalation_and_without_a_plan(
    pisync: FakePisync, tmp_path: Path
) -> None:
    result = run_script(
        "plan_summary.py",
        [str(DATA / "empty.json")],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
        env=pisync.env(),
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
    (tmp_path / "bad.json").write_text(json.dumps({**plan_data("empty"), "fake_show_exit": 3}))
    bad = run_script(
        "plan_summary.py",
        [str(tmp_path / "bad.json")],
        api_url="http://127.0.0.1:9",
        tmp=tmp_path,
        env=pisync.env(),
    )
    assert (bad.code, bad.stderr) == (
        3,
        f"::error::pisync show {tmp_path / 'bad.json'} refused the plan (exit 3); see pisync's "
        "message above.\n",
    )


# --- exit_status.py and commit_status.py ----------------------------------------------------

#: SPEC §4 exit codes, and whether each workflow's check passes on them.
PASSING = {"plan": {0, 2}, "apply": {0}, "drift": {0, 2}, "full": {0, 2}}


@pytest.mark.parametrize("command", ["plan", "apply", "drift", "full"])
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
            ["plan", "2", "--job-status", "failure"],
            "::error title=pisync plan (exit 2)::The plan has changes: review them in the pull "
            "request comment or the job summary; they are applied when the pull request is "
            "merged. But another step of the job failed (see the run), so the check fails.",
        ),
        (
            ["apply", "5", "--pr", "12"],
            "::error title=pisync apply (exit 5)::Pull request #12: The reviewed plan is stale: "
            "the server changed after it was planned, or the merged commit no longer produces it "
            "(the default branch moved under the pull request); nothing of it was applied.",
        ),
        (
            ["apply", "64"],
            "::error title=pisync apply (exit 64)::pisync was called with a wrong option (exit "
            "64, usage error); see the log.",
        ),
        (
            ["drift", "4"],
            "::error title=pisync drift (exit 4)::BLOCKED: a safety guard would refuse to apply "
            "the default branch's desired state; the drift is large or dangerous (see the issue "
            "labelled pisync-drift and the plan in the job summary). Look at it before anyone "
            "applies.",
        ),
        (
            ["drift", "99"],
            "::error title=pisync drift (exit 99)::pisync plan exited with unexpected code 99; "
            "see the log.",
        ),
        (
            ["full", "2"],
            "::notice title=pisync full::The plan of the whole default branch is in the job "
            "summary: the apply job applies exactly this plan once the pisync-apply environment "
            "is approved.",
        ),
    ],
)
def test_exit_status_messages(tmp_path: Path, args: list[str], line: str) -> None:
    result = run_script("exit_status.py", args, api_url="http://127.0.0.1:9", tmp=tmp_path)
    assert (result.stdout + result.stderr) == line + "\n"


def test_exit_status_sets_the_required_commit_status(github: FakeGitHub, tmp_path: Path) -> None:
    args = ["--status-sha", HEAD, "--target-url", RUN_URL]
    ok = run_script("exit_status.py", ["plan", "2", *args], api_url=github.url, tmp=tmp_path)
    assert ok.code == 0, ok.stderr
    failed = run_script("exit_status.py", ["plan", "4", *args], api_url=github.url, tmp=tmp_path)
    assert failed.code == 1
    assert github.writes() == [
        (
            "POST",
            f"{R}/statuses/{HEAD}",
            {
                "state": "success",
                "context": "pisync/plan",
                "description": "The plan has changes: review them in the pull request comment "
                "or the job summary; they are applied when the pull request is merged.",
                "target_url": RUN_URL,
            },
        ),
        (
            "POST",
            f"{R}/statuses/{HEAD}",
            {
                "state": "failure",
                "context": "pisync/plan",
                "description": "A safety guard would block apply (too many users pruned, an "
                "empty desired state, a protected user changed, the last administrator removed,…",
                "target_url": RUN_URL,
            },
        ),
    ]
    assert all(len(w[2]["description"]) <= 140 for w in github.writes())


def test_commit_status_marks_the_check_pending(github: FakeGitHub, tmp_path: Path) -> None:
    result = run_script(
        "commit_status.py",
        ["--sha", HEAD, "--state", "pending", "--description", "Planning\nnow"],
        api_url=github.url,
        tmp=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert result.stdout == "pisync/plan of 0123456: pending\n"
    assert github.statuses[HEAD][0] == {
        "id": 9001,
        "creator": BOT,
        "state": "pending",
        "context": "pisync/plan",
        "description": "Planning now",
    }


# --- escalation_check.py --------------------------------------------------------------------

OLD_HEAD = "1111111111111111111111111111111111111111"


def check_args(*extra: str, approvers: str = "alice") -> list[str]:
    return ["--approvers", approvers, "--target-url", RUN_URL, *extra]


def check_plan(
    github: FakeGitHub,
    pisync: FakePisync,
    tmp: Path,
    plan: Path,
    approvers: str = "alice",
    **env: str,
) -> Any:
    """escalation_check.py as the plan job runs it: pull request 7, its head, its saved plan."""
    args = check_args("--pr", "7", "--head-sha", HEAD, "--plan", str(plan), approvers=approvers)
    return run_script(
        "escalation_check.py", args, api_url=github.url, tmp=tmp, env={**pisync.env(), **env}
    )


def statuses(github: FakeGitHub, sha: str = HEAD) -> list[tuple[str, str]]:
    return [
        (s["state"], s["description"])
        for s in reversed(github.statuses.get(sha, []))
        if s["context"] == "pisync/escalation-approval"
    ]


def test_escalation_approval_is_off_without_approvers(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    result = check_plan(github, pisync, tmp_path, DATA / "access_escalation.json", approvers="")
    assert result.code == 0, result.stderr
    assert result.stdout == (
        "escalation approval is off (PISYNC_ESCALATION_APPROVERS is not set): no "
        "pisync/escalation-approval status is set\nchecked=0\n"
    )
    assert github.requests == []


@pytest.mark.parametrize(
    ("reviews", "state", "description"),
    [
        ([], "failure", "3 users gain access. Needs an approving review of 0123456 from alice"),
        (
            [review("bob", "APPROVED", HEAD)],
            "failure",
            "3 users gain access. Needs an approving review of 0123456 from alice",
        ),
        (
            [review("Alice", "APPROVED", HEAD)],
            "success",
            "3 users gain access. Escalation approved by Alice",
        ),
        (
            [review("alice", "APPROVED", OLD_HEAD)],
            "failure",
            "3 users gain access. Needs an approving review of 0123456 from alice (the approval "
            "of alice was of an earlier commit)",
        ),
        (
            [review("alice", "APPROVED", HEAD), review("alice", "CHANGES_REQUESTED", HEAD, 2)],
            "failure",
            "3 users gain access. Needs an approving review of 0123456 from alice",
        ),
        (
            [review("alice", "APPROVED", HEAD), review("alice", "COMMENTED", HEAD, 2)],
            "success",
            "3 users gain access. Escalation approved by alice",
        ),
    ],
)
def test_an_escalation_needs_an_approvers_approval_of_the_head_commit(
    github: FakeGitHub,
    pisync: FakePisync,
    tmp_path: Path,
    reviews: list[dict[str, Any]],
    state: str,
    description: str,
) -> None:
    github.reviews[PR] = reviews
    result = check_plan(github, pisync, tmp_path, DATA / "access_escalation.json")
    assert result.code == 0, result.stderr
    assert statuses(github) == [(state, description)]
    kind = "notice" if state == "success" else "warning"
    assert result.stdout.splitlines()[0] == (
        f"::{kind} title=pisync/escalation-approval of #7%3A {state}::{description}"
    )
    assert github.writes()[0][2]["target_url"] == RUN_URL


def test_no_escalation_passes_and_a_missing_plan_fails(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    result = check_plan(github, pisync, tmp_path, DATA / "spec_example.json")
    assert result.code == 0, result.stderr
    assert statuses(github) == [("success", "No privilege escalation in the plan of 0123456")]
    assert github.lines() == [("POST", f"{R}/statuses/{HEAD}")]  # no review read
    missing = check_plan(github, pisync, tmp_path, tmp_path / "none.json")
    assert missing.code == 0, missing.stderr
    assert statuses(github)[-1] == (
        "failure",
        "pisync plan made no plan of 0123456 (see pisync/plan)",
    )


def test_a_team_is_read_with_the_teams_token_and_fails_closed_without(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    github.teams[("acme", "pi-owners")] = ["carol", "dave"]
    github.reviews[PR] = [review("dave", "APPROVED", HEAD)]
    plan, approvers = DATA / "access_escalation.json", "@acme/pi-owners"
    without = check_plan(github, pisync, tmp_path, plan, approvers)
    assert without.code == 1
    assert without.stderr == (
        "::error::cannot read the members of the team acme/pi-owners (HTTP 403: Resource not "
        "accessible by integration). GITHUB_TOKEN cannot read an organization's teams: put a "
        "token that can (organization permission Members: read) in the secret "
        "PISYNC_TEAMS_TOKEN of the environment, or list the people in "
        "PISYNC_ESCALATION_APPROVERS instead.\n"
    )
    assert statuses(github) == []
    with_token = check_plan(
        github, pisync, tmp_path, plan, approvers, PISYNC_TEAMS_TOKEN=TEAMS_TOKEN
    )
    assert with_token.code == 0, with_token.stderr
    assert statuses(github) == [("success", "3 users gain access. Escalation approved by dave")]
    team_reads = [r for r in github.requests if r.path.startswith("/orgs/")]
    assert [r.headers["authorization"] for r in team_reads] == [
        f"Bearer {TOKEN}",
        f"Bearer {TEAMS_TOKEN}",
    ]
    assert TEAMS_TOKEN not in with_token.stdout + with_token.stderr


def test_after_a_review_the_plan_artifact_of_the_head_is_read(
    github: FakeGitHub, pisync: FakePisync, tmp_path: Path
) -> None:
    """The relay mode: the reviewed branch's open pull requests into the default branch, each
    checked against the plan artifact of its current head commit (downloaded, never run)."""
    github.pulls = [
        pull(7, HEAD, merged_at=None, head_owner="fork-owner", head_ref="main", state="open"),
        pull(
            8,
            HEAD,
            merged_at=None,
            head_owner="fork-owner",
            head_ref="main",
            state="open",
            base="dev",
        ),
        pull(9, OLD_HEAD, merged_at=None, head_owner="acme", head_ref="main", state="open"),
    ]
    github.add_artifact(
        f"pisync-plan-pr7-{HEAD}", plan_run(501), plan_zip(plan_data("access_escalation"))
    )
    github.reviews[PR] = [review("alice", "APPROVED", HEAD)]
    args = check_args(
        "--head-repo", "fork-owner/pi-users", "--head-branch", "main", "--base", "main"
    )
    result = run_script(
        "escalation_check.py", args, api_url=github.url, tmp=tmp_path, env=pisync.env()
    )
    assert result.code == 0, result.stderr
    assert statuses(github) == [("success", "3 users gain access. Escalation approved by alice")]
    assert github.lines()[:3] == [
        ("GET", f"{R}/pulls?per_page=100&state=open&head=fork-owner%3Amain"),
        ("GET", f"{R}/actions/artifacts?per_page=100&name=pisync-plan-pr7-{HEAD}"),
        ("GET", f"{R}/actions/runs/501"),
    ]
    blob = [r for r in github.requests if r.path.startswith("/blob/")]
    assert len(blob) == 1
    assert "authorization" not in blob[0].headers
    assert pisync.calls()[0][0] == "show"

    # no plan artifact for the head yet: the status fails, saying so
    github.repo_artifacts.clear()
    missing = run_script(
        "escalation_check.py", args, api_url=github.url, tmp=tmp_path, env=pisync.env()
    )
    assert missing.code == 0, missing.stderr
    assert missing.stdout.splitlines()[0] == (
        "::notice title=#7::pull request #7 has no reviewed plan for its head commit 0123456: no "
        "successful pisync-plan.yml run on pull_request_target uploaded an unexpired artifact "
        f"pisync-plan-pr7-{HEAD}. The plan check failed, was cancelled or never ran, or the "
        "artifact expired."
    )
    assert statuses(github)[-1] == (
        "failure",
        "No reviewed plan of 0123456 yet: pisync plan must pass first",
    )
    none = run_script(
        "escalation_check.py",
        check_args("--head-repo", "x/y", "--head-branch", "gone", "--base", "main"),
        api_url=github.url,
        tmp=tmp_path,
        env=pisync.env(),
    )
    assert none.stdout == (
        "no open pull request into main from that branch: nothing to check\nchecked=0\n"
    )


# --- the scripts themselves -----------------------------------------------------------------


def test_every_script_is_stdlib_only() -> None:
    allowed = {
        "__future__",
        "argparse",
        "collections",
        "dataclasses",
        "io",
        "json",
        "os",
        "pathlib",
        "re",
        "secrets",
        "subprocess",
        "sys",
        "tempfile",
        "typing",
        "urllib",
        "zipfile",
        "ghkit",
        "plans",
        "approvals",
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
    assert (proc.returncode, proc.stdout) == (0, "Success: no issues found in 10 source files\n")
