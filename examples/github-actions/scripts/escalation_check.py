"""Set the commit status ``pisync/escalation-approval`` of a pull request's head commit: success
when its plan escalates nobody's access, or when one of the configured approvers
(``PISYNC_ESCALATION_APPROVERS``, see approvals.py) approved that very commit; failure
otherwise. Make the status required, and an escalation cannot be merged without them.

What the plan escalates is read from the saved plan through ``pisync show --summary --format
json``: the plan job passes its own ``--plan``; after a review, the plan artifact of the pull
request's head commit is found and downloaded (plans.py). No file of the pull request is read
or run. Without approvers configured the check is off and sets no status.

    escalation_check.py --approvers "$APPROVERS" --pr N --head-sha SHA [--plan plan.json]
    escalation_check.py --approvers "$APPROVERS" --head-repo OWNER/NAME --head-branch BRANCH \\
        --base main           # after a review: every open pull request from that branch

Reads ``GITHUB_TOKEN`` (statuses: write, pull-requests: read, actions: read) and, for teams,
``PISYNC_TEAMS_TOKEN``. Exit 0 when the status was set (whatever it says).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import approvals
import ghkit
import plans


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvers", default="", help="logins and ORG/TEAM slugs")
    parser.add_argument("--pr", type=int, help="the pull request")
    parser.add_argument("--head-sha", default="", help="its head commit")
    parser.add_argument("--plan", help="the saved plan of that commit (else the artifact)")
    parser.add_argument("--head-repo", default="", help="OWNER/NAME of a reviewed head branch")
    parser.add_argument("--head-branch", default="", help="the reviewed head branch")
    parser.add_argument("--base", default="main", help="the default branch")
    parser.add_argument("--target-url", default="", help="the status links here (the run)")
    parser.add_argument("--workflow", default=plans.DEFAULT_WORKFLOW, help="the plan workflow")
    parser.add_argument("--prefix", default=plans.DEFAULT_PREFIX, help="plan artifact prefix")
    args = parser.parse_args(argv)
    if args.pr is None and not (args.head_repo and args.head_branch):
        parser.error("give --pr and --head-sha, or --head-repo and --head-branch")
    if args.pr is not None and not args.head_sha:
        parser.error("--pr needs --head-sha")
    return args


def open_pull_requests(
    gh: ghkit.GitHub, head_repo: str, head_branch: str, base: str
) -> list[tuple[int, str]]:
    """(number, head sha) of the open pull requests from ``head_repo:head_branch`` into
    ``base``, as GitHub has them now."""
    owner = head_repo.split("/", 1)[0]
    return [
        (int(pr["number"]), str(pr["head"]["sha"]))
        for pr in gh.paginate(
            gh.repo_path("pulls"), {"state": "open", "head": f"{owner}:{head_branch}"}
        )
        if (pr.get("base") or {}).get("ref") == base
    ]


def escalations_of(
    gh: ghkit.GitHub, pr: int, head_sha: str, plan: str | None, args: argparse.Namespace
) -> list[str]:
    if plan:
        return list(plans.show_summary(plan).escalations)
    artifact = plans.find_plan_artifact(
        gh, pr, head_sha, workflow=args.workflow, prefix=args.prefix
    )
    with tempfile.TemporaryDirectory(prefix="pisync-plan-") as folder:
        planfile = plans.download_plan(gh, artifact, Path(folder))
        return list(plans.show_summary(planfile).escalations)


def check(
    gh: ghkit.GitHub,
    teams_gh: ghkit.GitHub | None,
    approvers: approvals.Approvers,
    pr: int,
    head_sha: str,
    args: argparse.Namespace,
) -> tuple[str, str]:
    """(state, description) of the approval status of ``head_sha``."""
    plan = args.plan if args.pr is not None else None
    if plan and not Path(plan).is_file():
        return "failure", f"pisync plan made no plan of {ghkit.short(head_sha)} (see pisync/plan)"
    try:
        found = escalations_of(gh, pr, head_sha, plan, args)
    except plans.PlanMissing as exc:
        print(ghkit.annotation("notice", str(exc), f"#{pr}"))
        return (
            "failure",
            f"No reviewed plan of {ghkit.short(head_sha)} yet: pisync plan must pass first",
        )
    except plans.PlanRefused as exc:
        ghkit.print_untrusted(exc.said)
        return "failure", f"{exc}"
    if not found:
        return "success", f"No privilege escalation in the plan of {ghkit.short(head_sha)}"
    verdict = approvals.evaluate(gh, pr, head_sha, approvers, teams_gh)
    lead = f"{ghkit.plural(len(found), 'user')} gain{'s' if len(found) == 1 else ''} access. "
    return ("success" if verdict.approved else "failure"), lead + verdict.text(approvers, head_sha)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    approvers = approvals.parse_approvers(args.approvers)
    if not approvers:
        print(
            "escalation approval is off (PISYNC_ESCALATION_APPROVERS is not set): "
            f"no {ghkit.APPROVAL_CONTEXT} status is set"
        )
        ghkit.set_outputs({"checked": 0})
        return 0
    gh = ghkit.GitHub.from_env()
    teams_token = os.environ.get("PISYNC_TEAMS_TOKEN", "")
    teams_gh = gh.with_token(teams_token) if teams_token else None
    if args.pr is not None:
        targets = [(args.pr, args.head_sha)]
    else:
        targets = open_pull_requests(gh, args.head_repo, args.head_branch, args.base)
        if not targets:
            print(f"no open pull request into {args.base} from that branch: nothing to check")
    for pr, head_sha in targets:
        state, description = check(gh, teams_gh, approvers, pr, head_sha, args)
        ghkit.set_status(gh, head_sha, ghkit.APPROVAL_CONTEXT, state, description, args.target_url)
        kind = "notice" if state == "success" else "warning"
        title = f"{ghkit.APPROVAL_CONTEXT} of #{pr}: {state}"
        print(ghkit.annotation(kind, description, title))
    ghkit.set_outputs({"checked": len(targets)})
    return 0


if __name__ == "__main__":
    ghkit.run(main)
