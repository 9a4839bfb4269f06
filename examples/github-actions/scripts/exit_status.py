"""Turn the exit code of the pisync command a workflow ran into the check's result.

Prints a ``::notice::`` (the check passes, exit 0) or an ``::error::`` naming what went wrong
and what to do (the check fails, exit 1). The messages are those of ``ghkit.EXITS``:

- plan (pull request): 0 and 2 pass; 1 runtime error, 3 invalid desired state, 4 a safety
  guard would block apply, anything else: fail.
- apply (merge): 0 passes; 1, 3, 4, 5 (stale plan), 6 (some changes failed): fail.
- drift (schedule): 0 and 2 pass (drift goes to the issue); 1, 3, 4 (blocked): fail.

With ``--job-status`` other than success (a step after pisync failed: the plan could not be
shown, uploaded or commented), the check fails whatever pisync's exit code. With
``--status-sha`` it also sets the commit status ``--status-context`` of that commit
(success or failure, the message as its description, ``--target-url`` as its link): the status
that branch protection requires, set on the pull request's head commit.

    exit_status.py plan|apply|drift EXIT_CODE [--pr N]
        [--job-status STATUS] [--status-sha SHA --status-context pisync/plan --target-url URL]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import ghkit


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=sorted(ghkit.EXITS), help="what the workflow ran")
    parser.add_argument("exit_code", type=int, help="exit code of pisync")
    parser.add_argument("--pr", type=int, help="the pull request whose plan was applied")
    parser.add_argument("--status-sha", default="", help="set a commit status on this commit")
    parser.add_argument("--status-context", default=ghkit.PLAN_CONTEXT, help="its context")
    parser.add_argument("--target-url", default="", help="the status links here (the run)")
    parser.add_argument(
        "--job-status", default="success", help="the job's status so far (job.status)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    passes, message = ghkit.exit_meaning(args.command, args.exit_code)
    if args.pr is not None:
        message = f"Pull request #{args.pr}: {message}"
    if args.job_status != "success":
        passes = False
        message += " But another step of the job failed (see the run), so the check fails."
    if args.status_sha:
        ghkit.set_status(
            ghkit.GitHub.from_env(),
            args.status_sha,
            args.status_context,
            "success" if passes else "failure",
            message,
            args.target_url,
        )
    if passes:
        print(ghkit.annotation("notice", message, f"pisync {args.command}"))
        return 0
    title = f"pisync {args.command} (exit {args.exit_code})"
    print(ghkit.annotation("error", message, title), file=sys.stderr)
    return 1


if __name__ == "__main__":
    ghkit.run(main)
