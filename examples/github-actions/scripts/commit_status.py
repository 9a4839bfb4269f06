"""Set a commit status: ``pending`` while the plan job works, ``failure`` when it broke before it
could plan. A status the kit sets itself, on the pull request's head commit, is what branch
protection requires: a job that never ran sets none, so the pull request waits instead of
passing.

    commit_status.py --sha SHA --context pisync/plan --state pending|success|failure|error \\
        --description TEXT [--target-url URL]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import ghkit


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sha", required=True, help="the commit")
    parser.add_argument("--context", default=ghkit.PLAN_CONTEXT, help="the status's name")
    parser.add_argument(
        "--state", required=True, choices=("pending", "success", "failure", "error")
    )
    parser.add_argument("--description", required=True, help="one line (140 characters)")
    parser.add_argument("--target-url", default="", help="the status links here (the run)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    gh = ghkit.GitHub.from_env()
    ghkit.set_status(gh, args.sha, args.context, args.state, args.description, args.target_url)
    print(f"{args.context} of {ghkit.short(args.sha)}: {args.state}")
    return 0


if __name__ == "__main__":
    ghkit.run(main)
