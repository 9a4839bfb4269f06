"""Turn the exit code of the pisync command a workflow ran into the check's result.

Prints a ``::notice::`` (the check passes, exit 0) or an ``::error::`` naming what went wrong
and what to do (the check fails, exit 1). The messages are those of ``ghkit.EXITS``:

- plan (pull request): 0 and 2 pass; 1 runtime error, 3 invalid desired state, 4 a safety
  guard would block apply, anything else: fail.
- apply (merge): 0 passes; 1, 3, 4, 5 (stale plan), 6 (some changes failed): fail.
- drift (schedule): 0 and 2 pass (drift goes to the issue); 1, 3, 4: fail.

    exit_status.py plan|apply|drift EXIT_CODE [--pr N]
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    passes, message = ghkit.exit_meaning(args.command, args.exit_code)
    if args.pr is not None:
        message = f"Pull request #{args.pr}: {message}"
    if passes:
        print(f"::notice title=pisync {args.command}::{message}")
        return 0
    print(
        f"::error title=pisync {args.command} (exit {args.exit_code})::{message}", file=sys.stderr
    )
    return 1


if __name__ == "__main__":
    ghkit.run(main)
