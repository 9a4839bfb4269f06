"""Say what a saved plan does, as ``pisync show`` renders it: the summary line, whether it
escalates anyone's privileges, and the whole plan in Markdown.

Reads the plan only through ``pisync show PLANFILE`` (``--summary --format json`` for the
counts and escalations, ``--format markdown`` for the plan), so the check, the comment and the
job summary show exactly what ``pisync show`` and ``pisync apply`` read. Prints the summary
line and, when there are escalations, one line naming the users (with ``--annotate``, as a
GitHub warning annotation); writes ``summary``, ``changes``, ``escalations`` and
``escalation`` (true/false) to ``$GITHUB_OUTPUT``. ``--markdown-out FILE`` writes the Markdown
plan to FILE; ``--summary`` appends it to ``$GITHUB_STEP_SUMMARY`` (under ``--title`` when
given). Exit 3 when pisync refuses the plan file.

    plan_summary.py plan.json [--annotate] [--markdown-out plan.md] [--summary] [--title T]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import ghkit
import plans


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", help="the saved plan (pisync plan --out)")
    parser.add_argument("--annotate", action="store_true", help="escalations as a ::warning::")
    parser.add_argument("--markdown-out", help="write the Markdown plan to this file")
    parser.add_argument("--summary", action="store_true", help="append to $GITHUB_STEP_SUMMARY")
    parser.add_argument("--title", default="", help="heading above the plan in the summary")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.plan).is_file():
        raise ghkit.UsageError(f"no plan in {args.plan}")
    try:
        summary = plans.show_summary(args.plan)
        markdown = plans.show_markdown(args.plan) if args.markdown_out or args.summary else ""
    except plans.PlanRefused as exc:
        ghkit.print_untrusted(exc.said)
        raise ghkit.Stop(f"{exc}; see pisync's message above.") from None
    print(summary.line)
    found = summary.escalations
    if found:
        users = ", ".join(found)
        text = f"Privilege escalation for {ghkit.plural(len(found), 'user')}: {users}"
        if args.annotate:
            print(ghkit.annotation("warning", text, "pisync"))
        else:
            ghkit.print_untrusted(text)
    else:
        print("No privilege escalation.")
    if args.markdown_out:
        Path(args.markdown_out).write_text(markdown, encoding="utf-8")
    if args.summary:
        heading = f"## {ghkit.md_text(args.title)}\n\n" if args.title else ""
        ghkit.append_summary(f"{heading}{markdown.rstrip()}\n\n")
    ghkit.set_outputs(
        {
            "summary": summary.line,
            "changes": summary.changes,
            "escalations": len(found),
            "escalation": bool(found),
        }
    )
    return 0


if __name__ == "__main__":
    ghkit.run(main)
