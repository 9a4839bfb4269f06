"""Read a JSON plan (``pisync plan --out``) and say what it does: the summary line and whether
it escalates anyone's privileges.

Prints the summary line and, when there are escalations, one line naming the users (with
``--annotate``, as a GitHub warning annotation); writes ``summary``, ``changes``,
``escalations`` and ``escalation`` (true/false) to ``$GITHUB_OUTPUT``. With ``--markdown``
it also appends a short Markdown block to ``$GITHUB_STEP_SUMMARY`` under ``--title``.

    plan_summary.py plan.json [--annotate] [--markdown] [--title TITLE]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import ghkit


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", help="the JSON plan")
    parser.add_argument("--annotate", action="store_true", help="escalations as a ::warning::")
    parser.add_argument("--markdown", action="store_true", help="append to $GITHUB_STEP_SUMMARY")
    parser.add_argument("--title", default="pisync plan", help="heading of the Markdown block")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = ghkit.load_plan(args.plan)
    if plan is None:
        raise ghkit.UsageError(f"no plan in {args.plan}")
    line = ghkit.summary_line(plan)
    found = ghkit.escalations(plan)
    print(line)
    users = ", ".join(str(e.get("usercode", "?")) for e in found)
    if found:
        text = (
            f"Privilege escalation for {len(found)} user{'s' if len(found) != 1 else ''}: {users}"
        )
        print(f"::warning title=pisync::{text}" if args.annotate else text)
    else:
        print("No privilege escalation.")
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.markdown and target:
        items = "".join(f"- ⚠️ {ghkit.escalation_sentence(e)}\n" for e in found[:50])
        with open(target, "a", encoding="utf-8") as out:
            out.write(f"## {args.title}\n\n{line}\n\n{items}\n")
    ghkit.set_outputs(
        {
            "summary": line,
            "changes": ghkit.change_count(plan),
            "escalations": len(found),
            "escalation": bool(found),
        }
    )
    return 0


if __name__ == "__main__":
    ghkit.run(main)
