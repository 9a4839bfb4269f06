"""The apply queue (scripts/apply_queue.py) against the fake GitHub API, a fake pisync and a real
git repository of merges: every merged pull request's reviewed plan is applied, in merge order,
on its own merge commit; "applied" is the commit status ``pisync/apply``; a stale or missing plan
stops the queue there, tells the pull request, and later merges wait until a full apply.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import FakePisync, Result, run_script
from gh_fake import BOT, REPO, TOKEN, FakeGitHub
from kitdata import APPLY, History, git, plan_data, plan_run, plan_zip, pull, review

R = f"/repos/{REPO}"
RUN_URL = "https://github.com/acme/pi-users/actions/runs/99"
URL = "https://pi.example.com:8224/pi/api/v2"


@pytest.fixture
def history(tmp_path: Path, github: FakeGitHub) -> History:
    return History(tmp_path / "repo", github)


def queue(
    history: History, pisync: FakePisync, tmp: Path, *extra: str, head: str | None = None
) -> Result:
    return run_script(
        "apply_queue.py",
        [
            "--head",
            head or history.head,
            "--run-url",
            RUN_URL,
            "--reports",
            str(tmp / "reports"),
            *extra,
        ],
        api_url=history.github.url,
        tmp=tmp,
        env={**pisync.env(), "PISYNC_URL": URL, "PISYNC_USERNAME": "writer"},
        cwd=history.repo,
    )


def applied_heads(pisync: FakePisync) -> list[str]:
    return [e["head"] for e in pisync.entries() if "apply" in e["args"]]


def apply_states(github: FakeGitHub, sha: str) -> list[str]:
    return github.status_states(sha, APPLY)


CHANGES = plan_data("spec_example")


def test_the_queue_applies_every_merge_in_order_each_on_its_merge_commit(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    for pr in (11, 12, 13):
        history.merge(pr, CHANGES)
    m = history.merges
    result = queue(history, pisync, tmp_path)
    assert result.code == 0, result.stderr
    assert applied_heads(pisync) == [m[11], m[12], m[13]]
    reports = tmp_path / "reports"
    assert [c for c in pisync.calls() if "apply" in c] == [
        [
            "--url",
            URL,
            "apply",
            f"{reports}/pr{pr}/plan.json",
            "--report",
            f"{reports}/apply-report-{m[pr]}.json",
        ]
        for pr in (11, 12, 13)
    ]
    assert all((reports / f"pr{pr}" / "plan.json").is_file() for pr in (11, 12, 13))
    for pr in (11, 12, 13):
        assert apply_states(history.github, m[pr]) == ["pending", "success"]
        assert history.github.statuses[m[pr]][0] == {
            "id": history.github.statuses[m[pr]][0]["id"],
            "creator": BOT,
            "state": "success",
            "context": APPLY,
            "description": f"Applied the reviewed plan of #{pr}",
            "target_url": RUN_URL,
        }
    assert result.outputs == {"applied": "11 12 13"}
    short = {pr: m[pr][:7] for pr in m}
    assert result.stdout.splitlines() == [
        f"3 commits to apply, oldest first: {short[11]} {short[12]} {short[13]}",
        f"{short[11]}: pull request #11, its plan reviewed in run 511",
        f"{short[11]}: applied the reviewed plan of pull request #11",
        f"{short[12]}: pull request #12, its plan reviewed in run 512",
        f"{short[12]}: applied the reviewed plan of pull request #12",
        f"{short[13]}: pull request #13, its plan reviewed in run 513",
        f"{short[13]}: applied the reviewed plan of pull request #13",
        "Applied the reviewed plans of 3 pull requests: #11, #12, #13",
        "applied=11 12 13",
    ]
    summary = (tmp_path / "step_summary.md").read_text()
    assert summary.startswith(
        f"## Pull request #11, merged as `{short[11]}`\n\n"
        f"Reviewed in run [511](https://github.com/{REPO}/actions/runs/511).\n\n"
        "## plan of #11\n\n"
    )
    assert [int(x) for x in re.findall(r"^## Pull request #(\d+)", summary, re.M)] == [11, 12, 13]
    # the plans were read through pisync show, never by the script
    assert [c[0] for c in pisync.calls() if c[0] == "show"] == ["show"] * 6

    # nothing left: a second run applies nothing
    pisync.log.unlink()
    again = queue(history, pisync, tmp_path)
    assert again.code == 0, again.stderr
    assert again.stdout == f"Nothing to apply: {short[13]} is applied.\napplied=\n"
    assert pisync.calls() == []


def test_a_stale_plan_stops_the_queue_later_merges_wait_and_a_full_apply_goes_on(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, CHANGES)
    history.merge(12, {**CHANGES, "fake_apply_exit": 5})
    history.merge(13, CHANGES)
    m = history.merges
    result = queue(history, pisync, tmp_path)
    assert result.code == 1
    assert applied_heads(pisync) == [m[11], m[12]]  # 13 is never applied before 12
    assert apply_states(history.github, m[11]) == ["pending", "success"]
    assert apply_states(history.github, m[12]) == ["pending", "failure"]
    assert apply_states(history.github, m[13]) == []
    reason = (
        "pisync apply exited 5: The reviewed plan is stale: the server changed after it was "
        "planned, or the merged commit no longer produces it (the default branch moved under "
        "the pull request); nothing of it was applied."
    )
    assert history.github.statuses[m[12]][0]["description"] == (
        "Not applied: pisync apply exited 5: The reviewed plan is stale: the server changed after "
        "it was planned, or the merged commit no longer pro…"
    )
    assert result.stderr == (
        f"::error::The apply queue stopped at pull request #12 (merge {m[12][:7]}): {reason} "
        "1 later commit of the default branch wait. To go on, an administrator runs the pisync "
        "apply workflow by hand with full_apply (it plans the whole default branch, shows the "
        "plan, and applies it once the pisync-apply environment is approved).\n"
    )
    comment = (
        "<!-- pisync-apply -->\n"
        "> [!CAUTION]\n"
        f"> **pisync apply stopped at this pull request** (merged as `{m[12][:7]}`): nothing of "
        "its plan was applied, and the pull requests merged after it wait.\n\n"
        f"{reason}\n\n"
        "**To go on**, an administrator runs **pisync apply** by hand with **full_apply** "
        "(Actions → pisync apply → Run workflow, on the default branch): it plans the whole "
        "default branch, which holds this pull request and every one merged after it, shows "
        "that plan in the job summary, and applies it once the `pisync-apply` environment is "
        "approved; the queue goes on from there. This pull request is merged: a new push to it "
        "cannot re-plan it.\n\n"
        f"<sub>pisync apply · [workflow run]({RUN_URL})</sub>\n"
    )
    assert [c["body"] for c in history.github.comments[12]] == [comment]
    assert 11 not in history.github.comments
    assert 13 not in history.github.comments

    # Another merge lands: the next run starts again at #12 (still stale), the comment is
    # updated in place, and neither #13 nor #14 is applied.
    history.merge(14, CHANGES)
    pisync.log.unlink()
    history.github.requests.clear()
    again = queue(history, pisync, tmp_path)
    assert again.code == 1
    assert applied_heads(pisync) == [m[12]], again.stdout + again.stderr
    assert len(history.github.comments[12]) == 1
    assert ("PATCH", f"{R}/issues/comments/{history.github.comments[12][0]['id']}") in (
        history.github.lines()
    )
    assert "2 later commits of the default branch wait." in again.stderr

    # The way on: a full apply of the default branch marks its head applied ...
    full = tmp_path / "full-plan.json"
    full.write_text(json.dumps(CHANGES))
    pisync.log.unlink()
    done = queue(history, pisync, tmp_path, "--full-plan", str(full), "--force")
    assert done.code == 0, done.stderr
    assert pisync.calls()[-1] == [
        "--url",
        URL,
        "apply",
        str(full),
        "--report",
        f"{tmp_path}/reports/apply-report-{m[14]}.json",
        "--force",
    ]
    assert applied_heads(pisync) == [m[14]]
    assert apply_states(history.github, m[14]) == ["success"]
    assert history.github.statuses[m[14]][0]["description"] == (
        f"Applied the whole default branch at {m[14][:7]}"
    )
    # ... and the queue goes on from there with the next merge only.
    history.merge(15, CHANGES)
    pisync.log.unlink()
    after = queue(history, pisync, tmp_path)
    assert after.code == 0, after.stderr
    assert applied_heads(pisync) == [history.merges[15]]


def test_a_full_apply_that_fails_marks_nothing(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, None)
    full = tmp_path / "full-plan.json"
    full.write_text(json.dumps({**CHANGES, "fake_apply_exit": 4}))
    result = queue(history, pisync, tmp_path, "--full-plan", str(full))
    assert result.code == 1
    assert result.stderr == (
        f"::error::Full apply of {history.head[:7]}: pisync apply exited 4: A safety guard "
        "blocked the apply; nothing was applied. The queue still starts where it stopped.\n"
    )
    assert apply_states(history.github, history.head) == []
    forced = queue(history, pisync, tmp_path, "--force")
    assert forced.code == 2
    assert "--force is for a full apply (--full-plan) only" in forced.stderr


def test_a_plan_from_any_other_run_is_not_a_reviewed_plan(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    """An artifact with the right name is not enough: it must come from a successful
    pull_request_target run of pisync-plan.yml (a branch's own workflow runs on pull_request
    or push), and be unexpired."""
    history.merge(11, None)
    history.plan(11, CHANGES, 601, event="pull_request", created="2026-01-03T00:00:00Z")
    history.plan(11, CHANGES, 602, path=".github/workflows/evil.yml")
    history.plan(11, CHANGES, 603, conclusion="failure")
    name = f"pisync-plan-pr11-{history.heads[11]}"
    history.github.add_artifact(name, plan_run(604), plan_zip(CHANGES), expired=True)
    result = queue(history, pisync, tmp_path)
    assert result.code == 1
    merge = history.merges[11]
    reason = (
        f"It has no reviewed plan: pull request #11 has no reviewed plan for its head commit "
        f"{history.heads[11][:7]}: no successful pisync-plan.yml run on pull_request_target "
        f"uploaded an unexpired artifact {name} (run 601 ran on pull_request, not "
        "pull_request_target; run 603 did not succeed (failure); run 602 is of "
        ".github/workflows/evil.yml). The plan check failed, was cancelled or never ran, or the "
        "artifact expired."
    )
    assert result.stderr.startswith(
        f"::error::The apply queue stopped at pull request #11 (merge {merge[:7]}): {reason} To "
        "go on"
    )
    assert applied_heads(pisync) == []
    assert apply_states(history.github, merge) == ["failure"]
    assert history.github.comments[11][0]["body"].count(reason) == 1

    # the reviewed plan appears (a re-run of the plan before merge): the queue takes it
    history.plan(11, CHANGES, 605)
    ok = queue(history, pisync, tmp_path)
    assert ok.code == 0, ok.stderr
    assert applied_heads(pisync) == [merge]


def test_a_direct_push_stops_the_queue_without_a_pull_request_to_tell(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, CHANGES)
    pushed = history.direct_push()
    history.merge(12, CHANGES)
    result = queue(history, pisync, tmp_path)
    assert result.code == 1
    assert applied_heads(pisync) == [history.merges[11]]
    assert apply_states(history.github, pushed) == ["failure"]
    assert result.stderr.startswith(
        f"::error::The apply queue stopped at commit (merge {pushed[:7]}): this commit did not "
        "come from a merged pull request (a direct push), so it has no reviewed plan. 1 later "
        "commit of the default branch wait."
    )
    assert history.github.comments == {}


def test_a_rebase_merge_is_applied_on_its_last_commit(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    repo = history.repo
    commits = []
    for i in (1, 2):
        (repo / f"rebased{i}.yaml").write_text("users: []\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"rebased {i}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    history.heads[16] = "e" * 40
    for sha in commits:
        history.github.commit_pulls[sha] = [pull(16, "e" * 40, merge_sha=commits[-1])]
    history.plan(16, CHANGES)
    result = queue(history, pisync, tmp_path)
    assert result.code == 0, result.stderr
    assert applied_heads(pisync) == [commits[-1]]
    assert (
        f"{commits[0][:7]}: part of pull request #16, applied with its merge commit "
        f"{commits[1][:7]}"
    ) in result.stdout
    assert apply_states(history.github, commits[0]) == []
    assert apply_states(history.github, commits[1]) == ["pending", "success"]


def test_without_an_applied_commit_the_queue_does_not_start(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.github.statuses.clear()
    history.merge(11, CHANGES)
    result = queue(history, pisync, tmp_path)
    assert result.code == 1
    assert result.stderr == (
        "::error::No commit among the last 2 of the default branch is marked applied (commit "
        "status pisync/apply), so the queue does not know where to start. Once, when the server "
        "matches the default branch (pisync plan says no changes), an administrator runs the "
        "pisync apply workflow by hand with full_apply: it marks the default branch applied, and "
        "every later merge is applied from there.\n"
    )
    assert pisync.calls() == []
    # a failed status is no start either; only success is "applied"
    history.github.statuses[history.root] = [{"id": 1, "context": APPLY, "state": "failure"}]
    assert queue(history, pisync, tmp_path).code == 1


def test_an_escalation_merged_without_an_approvers_approval_is_not_applied(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    """The approval status can be forged by anyone who can push a workflow; the queue checks
    the reviews itself before it applies an escalation."""
    history.merge(11, plan_data("access_escalation"))
    head = history.heads[11]
    history.github.reviews[11] = [review("bob", "APPROVED", head)]
    result = queue(history, pisync, tmp_path, "--approvers", "alice")
    assert result.code == 1
    assert applied_heads(pisync) == []
    assert (
        "Its plan escalates access (`GRANTED`, `HOLDER`, `PROMOTED`), and it was merged without "
        f"the approval this needs: Needs an approving review of {head[:7]} from alice."
    ) in history.github.comments[11][0]["body"]

    history.github.reviews[11].append(review("alice", "APPROVED", head, 2))
    ok = queue(history, pisync, tmp_path, "--approvers", "alice")
    assert ok.code == 0, ok.stderr
    assert applied_heads(pisync) == [history.merges[11]]


def test_a_plan_pisync_show_refuses_stops_the_queue(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, {**CHANGES, "fake_show_exit": 3})
    result = queue(history, pisync, tmp_path)
    assert result.code == 1
    assert applied_heads(pisync) == []
    assert (
        f"Its plan artifact is refused: pisync show {tmp_path}/reports/pr11/plan.json refused "
        "the plan (exit 3)."
    ) in result.stderr
    assert "::stop-commands::" in result.stdout  # pisync's own words, inert


def test_the_artifact_is_fetched_from_storage_without_the_token_and_only_the_plan_kept(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, None)
    name = f"pisync-plan-pr11-{history.heads[11]}"
    extra = {"../../escape.txt": "x", "plan.sh": "rm -rf /"}
    history.github.add_artifact(name, plan_run(511), plan_zip(CHANGES, extra=extra))
    result = queue(history, pisync, tmp_path)
    assert result.code == 0, result.stderr
    blobs = [r for r in history.github.requests if r.path.startswith("/blob/")]
    assert len(blobs) == 1
    assert "authorization" not in blobs[0].headers
    api = [r for r in history.github.requests if not r.path.startswith("/blob/")]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in api)
    assert sorted(p.name for p in (tmp_path / "reports" / "pr11").iterdir()) == [
        "plan.json",
        "plan.md",
    ]
    assert sorted(p.name for p in tmp_path.rglob("*escape*")) == []
    assert TOKEN not in result.stdout + result.stderr


def test_without_pisync_url_nothing_runs(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, CHANGES)
    result = run_script(
        "apply_queue.py",
        ["--head", history.head, "--reports", str(tmp_path / "reports")],
        api_url=history.github.url,
        tmp=tmp_path,
        env=pisync.env(),
        cwd=history.repo,
    )
    assert (result.code, result.stderr) == (
        2,
        "::error::PISYNC_URL is not set: set the repository (or pisync-apply environment) "
        "variable PISYNC_URL to the Panintelligence API address\n",
    )
    assert history.github.requests == []
    assert pisync.calls() == []


def test_a_fleets_bundle_is_applied_with_each_servers_url_from_the_variable(
    history: History, pisync: FakePisync, tmp_path: Path
) -> None:
    history.merge(11, CHANGES)
    urls = "prod=https://prod.example.com/pi/api/v2 staging=https://staging.example.com/pi/api/v2"
    result = run_script(
        "apply_queue.py",
        ["--head", history.head, "--run-url", RUN_URL, "--reports", str(tmp_path / "reports")],
        api_url=history.github.url,
        tmp=tmp_path,
        env={**pisync.env(), "PISYNC_SERVER_URLS": urls},
        cwd=history.repo,
    )
    assert result.code == 0, result.stderr
    reports = tmp_path / "reports"
    assert [c for c in pisync.calls() if "apply" in c] == [
        [
            "--server-urls",
            urls,
            "apply",
            f"{reports}/pr11/plan.json",
            "--report",
            f"{reports}/apply-report-{history.merges[11]}.json",
        ]
    ]
