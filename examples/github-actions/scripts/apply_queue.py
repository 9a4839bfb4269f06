"""Apply every merged pull request's reviewed plan on the default branch, in merge order, each
on its own merge commit: the apply queue.

Which merges are applied is recorded on GitHub itself, as the commit status ``pisync/apply`` of
each commit of the default branch (success: applied). A run walks the default branch's
first-parent history back from ``--head`` to the newest commit marked applied; every commit
after it is pending. Oldest first, for each pending commit:

1. its pull request: the merged pull request into ``--branch`` whose merge commit it is (a
   commit that a later pending merge commit brought in, as a rebase merge does, is applied
   with that one); a commit from no pull request (a direct push) has no reviewed plan;
2. that pull request's reviewed plan: the artifact ``pisync-plan-pr<N>-<head sha>`` of a
   successful ``pull_request_target`` run of the plan workflow (plans.py), downloaded;
3. the merge commit checked out, the plan shown (``pisync show``, into the job summary), its
   escalations checked against the approvers when they are configured (approvals.py);
4. ``pisync --url "$PISYNC_URL" apply PLANFILE``: pisync refuses (exit 5, nothing applied) a
   plan that this commit no longer produces or that the server outgrew;
5. applied: the commit is marked ``pisync/apply`` success, and the next one follows.

Anything else — no pull request, no plan, a plan refused or stale, an unapproved escalation, a
failed apply — stops the queue at that commit: it is marked failure, its pull request gets a
comment (``<!-- pisync-apply -->``) saying why and what to do, and the job fails. Later merges
are never applied before it: they wait, and the next run starts again at that commit. The way
on is a full apply (``--full-plan``): the whole default branch planned (and shown, for the
approval of the pisync-apply environment) and applied at once, after which ``--head`` is
marked applied and the queue starts from there. A full apply also starts the queue the first
time.

    apply_queue.py --head SHA --reports DIR [--branch main] [--approvers …] [--run-url URL]
    apply_queue.py --head SHA --reports DIR --full-plan plan.json [--force] [--run-url URL]

Runs git in the current folder (a checkout of the default branch with its history, which it
moves from merge commit to merge commit: keep ``--reports`` outside it) and pisync with
``--url "$PISYNC_URL"``. Reads ``GITHUB_TOKEN`` (contents: read, pull-requests: write,
actions: read, statuses: write) and, for teams, ``PISYNC_TEAMS_TOKEN``. Exit 0 when everything
pending was applied (or nothing was), 1 when the queue stopped or the API failed, 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import approvals
import ghkit
import plans

#: How far back the walk looks for the newest applied commit.
DEFAULT_MAX_COMMITS: Final = 200

GO_ON: Final = (
    "**To go on**, an administrator runs **pisync apply** by hand with **full_apply** "
    "(Actions → pisync apply → Run workflow, on the default branch): it plans the whole "
    "default branch, which holds this pull request and every one merged after it, shows that "
    "plan in the job summary, and applies it once the `pisync-apply` environment is "
    "approved; the queue goes on from there. This pull request is merged: a new push to it "
    "cannot re-plan it."
)
GO_ON_TEXT: Final = (
    "To go on, an administrator runs the pisync apply workflow by hand with full_apply (it "
    "plans the whole default branch, shows the plan, and applies it once the pisync-apply "
    "environment is approved)."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", required=True, help="the pushed commit (github.sha)")
    parser.add_argument("--branch", default="main", help="the default branch")
    parser.add_argument("--full-plan", help="apply this plan of the whole --head (full_apply)")
    parser.add_argument("--force", action="store_true", help="pisync apply --force (full_apply)")
    parser.add_argument(
        "--reports",
        required=True,
        help="folder for the plans and apply reports (not in the checkout)",
    )
    parser.add_argument("--approvers", default="", help="who may approve an escalation")
    parser.add_argument("--author", default=ghkit.DEFAULT_AUTHOR, help="the token's identity")
    parser.add_argument("--run-url", default="", help="link to this workflow run")
    parser.add_argument("--workflow", default=plans.DEFAULT_WORKFLOW, help="the plan workflow")
    parser.add_argument("--prefix", default=plans.DEFAULT_PREFIX, help="plan artifact prefix")
    parser.add_argument(
        "--max-commits", type=int, default=DEFAULT_MAX_COMMITS, help="how far back to look"
    )
    args = parser.parse_args(argv)
    if args.force and not args.full_plan:
        parser.error("--force is for a full apply (--full-plan) only")
    return args


def git(*args: str) -> str:
    proc = subprocess.run(  # noqa: S603 - fixed git subcommands, arguments as a list
        ["git", *args],  # noqa: S607 - the runner's git
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ghkit.UsageError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def pisync_url() -> list[str]:
    """Where pisync sends the credentials: ``--url "$PISYNC_URL"``, or for a fleet (servers:
    in pisync.yaml, the variable PISYNC_SERVER_URLS set instead) ``--server-urls``."""
    fleet = os.environ.get("PISYNC_SERVER_URLS", "")
    if fleet:
        return ["--server-urls", fleet]
    url = os.environ.get("PISYNC_URL", "")
    if not url:
        raise ghkit.UsageError(
            "PISYNC_URL is not set: set the repository (or pisync-apply environment) variable "
            "PISYNC_URL to the Panintelligence API address"
        )
    return ["--url", url]


def pisync_apply(planfile: Path, report: Path, force: bool) -> int:
    """``pisync --url "$PISYNC_URL" apply PLANFILE --report REPORT`` (a fleet's bundle: with
    ``--server-urls``); its output goes to the log."""
    command = ["pisync", *pisync_url(), "apply", str(planfile), "--report", str(report)]
    if force:
        command.append("--force")
    env = ghkit.pisync_environment()
    return subprocess.run(command, check=False, env=env).returncode  # noqa: S603 - a list


# --- which commits are pending ----------------------------------------------------------------


def pending_commits(gh: ghkit.GitHub, head: str, limit: int) -> list[str]:
    """The commits after the newest one marked applied, oldest first."""
    newest_first = git("rev-list", "--first-parent", f"--max-count={limit}", head).split()
    for index, sha in enumerate(newest_first):
        status = ghkit.latest_status(gh, sha, ghkit.APPLY_CONTEXT)
        if status is not None and status.get("state") == "success":
            return list(reversed(newest_first[:index]))
    raise ghkit.Stop(
        f"No commit among the last {len(newest_first)} of the default branch is marked applied "
        f"(commit status {ghkit.APPLY_CONTEXT}), so the queue does not know where to start. "
        "Once, when the server matches the default branch (pisync plan says no changes), an "
        "administrator runs the pisync apply workflow by hand with full_apply: it marks the "
        "default branch applied, and every later merge is applied from there.",
        code=ghkit.EXIT_API,
    )


@dataclass(frozen=True)
class Step:
    """A pending commit and what it is: the merge of ``pr``, part of a later merge, or a
    direct push."""

    sha: str
    kind: str  # merge | part | direct
    pr: Mapping[str, Any] | None


def classify(gh: ghkit.GitHub, pending: Sequence[str], branch: str) -> list[Step]:
    steps = []
    for index, sha in enumerate(pending):
        later = set(pending[index + 1 :])
        merged = [
            pr
            for pr in gh.paginate(gh.repo_path("commits", sha, "pulls"))
            if pr.get("merged_at") and (pr.get("base") or {}).get("ref") == branch
        ]
        exact = [pr for pr in merged if pr.get("merge_commit_sha") == sha]
        part = [pr for pr in merged if pr.get("merge_commit_sha") in later]
        if exact:
            steps.append(Step(sha, "merge", exact[0]))
        elif part:
            steps.append(Step(sha, "part", part[0]))
        else:
            steps.append(Step(sha, "direct", None))
    return steps


# --- the queue ---------------------------------------------------------------------------------


@dataclass
class Queue:
    gh: ghkit.GitHub
    args: argparse.Namespace
    approvers: approvals.Approvers
    teams_gh: ghkit.GitHub | None

    @property
    def reports(self) -> Path:
        return Path(self.args.reports)

    def mark(self, sha: str, state: str, description: str) -> None:
        ghkit.set_status(self.gh, sha, ghkit.APPLY_CONTEXT, state, description, self.args.run_url)

    def stop(self, step: Step, reason: str, waiting: int) -> ghkit.Stop:
        """Mark ``step`` not applied, tell its pull request, and the Stop to raise."""
        number = int(step.pr["number"]) if step.pr is not None else None
        where = f"pull request #{number}" if number is not None else "commit"
        self.mark(step.sha, "failure", f"Not applied: {reason}")
        if number is not None:
            ghkit.upsert_comment(
                self.gh, number, ghkit.APPLY_MARKER, self.comment(step, reason), self.args.author
            )
        later = (
            f" {ghkit.plural(waiting, 'later commit')} of the default branch wait."
            if waiting
            else ""
        )
        return ghkit.Stop(
            f"The apply queue stopped at {where} (merge {ghkit.short(step.sha)}): {reason}"
            f"{later} {GO_ON_TEXT}",
            code=ghkit.EXIT_API,
        )

    def comment(self, step: Step, reason: str) -> str:
        run = f" · [workflow run]({self.args.run_url})" if self.args.run_url else ""
        return (
            f"{ghkit.APPLY_MARKER}\n"
            "> [!CAUTION]\n"
            f"> **pisync apply stopped at this pull request** (merged as "
            f"{ghkit.md_code(ghkit.short(step.sha))}): nothing of its plan was applied, and "
            "the pull requests merged after it wait.\n\n"
            f"{reason}\n\n{GO_ON}\n\n<sub>pisync apply{run}</sub>\n"
        )

    def run(self) -> int:
        pending = pending_commits(self.gh, self.args.head, self.args.max_commits)
        if not pending:
            print(f"Nothing to apply: {ghkit.short(self.args.head)} is applied.")
            ghkit.set_outputs({"applied": ""})
            return 0
        print(
            f"{ghkit.plural(len(pending), 'commit')} to apply, oldest first: "
            + " ".join(ghkit.short(s) for s in pending)
        )
        applied: list[int] = []
        steps = classify(self.gh, pending, self.args.branch)
        for index, step in enumerate(steps):
            waiting = len(steps) - index - 1
            if step.kind == "part":
                assert step.pr is not None
                print(
                    f"{ghkit.short(step.sha)}: part of pull request #{step.pr['number']}, "
                    f"applied with its merge commit {ghkit.short(step.pr['merge_commit_sha'])}"
                )
                continue
            if step.kind == "direct":
                raise self.stop(
                    step,
                    "this commit did not come from a merged pull request (a direct push), so "
                    "it has no reviewed plan.",
                    waiting,
                )
            self.apply(step, waiting)
            applied.append(int(step.pr["number"]) if step.pr else 0)
        done = ", ".join(f"#{n}" for n in applied)
        print(f"Applied the reviewed plans of {ghkit.plural(len(applied), 'pull request')}: {done}")
        ghkit.set_outputs({"applied": " ".join(str(n) for n in applied)})
        return 0

    def apply(self, step: Step, waiting: int) -> None:
        assert step.pr is not None
        number, head_sha = int(step.pr["number"]), str(step.pr["head"]["sha"])
        try:
            artifact = plans.find_plan_artifact(
                self.gh, number, head_sha, workflow=self.args.workflow, prefix=self.args.prefix
            )
            planfile = plans.download_plan(self.gh, artifact, self.reports / f"pr{number}")
        except plans.PlanMissing as exc:
            raise self.stop(step, f"It has no reviewed plan: {exc}", waiting) from None
        git("checkout", "--quiet", "--detach", step.sha)
        print(
            f"{ghkit.short(step.sha)}: pull request #{number}, its plan reviewed in run "
            f"{artifact.run_id}"
        )
        try:
            summary = plans.show_summary(planfile)
            markdown = plans.show_markdown(planfile)
        except plans.PlanRefused as exc:
            ghkit.print_untrusted(exc.said)
            raise self.stop(step, f"Its plan artifact is refused: {exc}.", waiting) from None
        ghkit.append_summary(
            f"## Pull request #{number}, merged as {ghkit.md_code(ghkit.short(step.sha))}\n\n"
            f"Reviewed in run [{artifact.run_id}]({artifact.run_url}).\n\n{markdown.rstrip()}\n\n"
        )
        if summary.escalations and self.approvers:
            verdict = approvals.evaluate(self.gh, number, head_sha, self.approvers, self.teams_gh)
            if not verdict.approved:
                users = ", ".join(ghkit.md_code(u) for u in summary.escalations[:20])
                raise self.stop(
                    step,
                    f"Its plan escalates access ({users}), and it was merged without the "
                    f"approval this needs: {verdict.text(self.approvers, head_sha)}.",
                    waiting,
                )
        self.mark(step.sha, "pending", f"Applying the reviewed plan of #{number}")
        report = self.reports / f"apply-report-{step.sha}.json"
        code = pisync_apply(planfile, report, force=False)
        if code != 0:
            _passes, meaning = ghkit.exit_meaning("apply", code)
            raise self.stop(step, f"pisync apply exited {code}: {meaning}", waiting)
        self.mark(step.sha, "success", f"Applied the reviewed plan of #{number}")
        print(f"{ghkit.short(step.sha)}: applied the reviewed plan of pull request #{number}")

    def full_apply(self) -> int:
        head = self.args.head
        git("checkout", "--quiet", "--detach", head)
        planfile = Path(self.args.full_plan)
        try:
            markdown = plans.show_markdown(planfile)
        except plans.PlanRefused as exc:
            ghkit.print_untrusted(exc.said)
            raise ghkit.Stop(f"{exc}; nothing was applied.", code=ghkit.EXIT_API) from None
        ghkit.append_summary(
            f"## Full apply of {ghkit.md_code(ghkit.short(head))}\n\n{markdown.rstrip()}\n\n"
        )
        report = self.reports / f"apply-report-{head}.json"
        self.reports.mkdir(parents=True, exist_ok=True)
        code = pisync_apply(planfile, report, force=self.args.force)
        if code != 0:
            _passes, meaning = ghkit.exit_meaning("apply", code)
            raise ghkit.Stop(
                f"Full apply of {ghkit.short(head)}: pisync apply exited {code}: {meaning} The "
                "queue still starts where it stopped.",
                code=ghkit.EXIT_API,
            )
        self.mark(head, "success", f"Applied the whole default branch at {ghkit.short(head)}")
        print(
            f"Applied the whole default branch at {ghkit.short(head)}; the queue goes on from here."
        )
        ghkit.set_outputs({"applied": "full"})
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    gh = ghkit.GitHub.from_env()
    teams_token = os.environ.get("PISYNC_TEAMS_TOKEN", "")
    queue = Queue(
        gh,
        args,
        approvals.parse_approvers(args.approvers),
        gh.with_token(teams_token) if teams_token else None,
    )
    pisync_url()  # fail before anything when it is missing
    return queue.full_apply() if args.full_plan else queue.run()


if __name__ == "__main__":
    ghkit.run(main)
