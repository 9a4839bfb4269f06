"""Open, update or close the one pisync drift issue, from the exit code of a full plan.

``pisync plan --detailed-exitcode`` exit 2 (the server drifted from git): the open issue that
carries the label (default ``pisync-drift``) and starts with the hidden marker
``<!-- pisync-drift -->`` gets the new Markdown plan, or such an issue is opened. Exit 0 (no
drift): that issue, if open, gets a comment and is closed. Any other exit code leaves it alone
(the workflow fails on its own).

    upsert_issue.py --exit-code 2 --markdown drift.md [--sha SHA] [--run-url URL] \\
        [--label pisync-drift] [--title TITLE]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any, Final

import ghkit

DEFAULT_TITLE: Final = "pisync: Panintelligence has drifted from the desired state in git"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exit-code", type=int, required=True, help="exit code of pisync plan")
    parser.add_argument("--markdown", help="the Markdown plan (pisync plan --format markdown)")
    parser.add_argument("--sha", default="", help="the commit of the desired state planned")
    parser.add_argument("--run-url", default="", help="link to the workflow run")
    parser.add_argument("--label", default=ghkit.DRIFT_LABEL, help="label of the drift issue")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="title of a new drift issue")
    parser.add_argument("--marker", default=ghkit.DRIFT_MARKER, help="hidden marker of the issue")
    return parser.parse_args(argv)


def _checked(sha: str, run_url: str) -> str:
    text = "the scheduled pisync plan"
    if sha:
        text += f" of {ghkit.md_code(ghkit.short(sha))}"
    if run_url:
        text += f" ([workflow run]({run_url}))"
    return text


def issue_body(marker: str, markdown: str, sha: str, run_url: str) -> str:
    intro = (
        "The live Panintelligence server no longer matches the desired state on the default "
        f"branch: {_checked(sha, run_url)} would make the changes below.\n\n"
        "Either the server was changed by hand (put the change into git with a pull request, "
        "or let pisync undo it: run the pisync apply workflow by hand with full_apply), or a "
        "merged change was not applied (a failed or stale apply). This issue is updated by "
        "every drift check and closed by the first one that finds no drift."
    )
    fixed = f"{marker}\n{intro}\n\n"
    plan = ghkit.fit(markdown.strip(), ghkit.BODY_LIMIT - len(fixed.encode()) - 1)
    return f"{fixed}{plan}\n"


def close_comment(sha: str, run_url: str) -> str:
    return f"No drift any more: {_checked(sha, run_url)} found no changes. Closing."


def find_issue(gh: ghkit.GitHub, label: str, marker: str) -> Mapping[str, Any] | None:
    """The oldest open issue with the label whose body starts with the marker."""
    found = [
        item
        for item in gh.paginate(gh.repo_path("issues"), {"state": "open", "labels": label})
        if "pull_request" not in item and (item.get("body") or "").startswith(marker)
    ]
    return min(found, key=lambda item: int(item["number"])) if found else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.exit_code not in (0, 2):
        print(f"pisync plan exited {args.exit_code}: the drift issue is left as it is")
        ghkit.set_outputs({"action": "none", "issue": ""})
        return 0
    gh = ghkit.GitHub.from_env()
    issue = find_issue(gh, args.label, args.marker)
    if args.exit_code == 2:
        body = issue_body(args.marker, ghkit.read_text(args.markdown), args.sha, args.run_url)
        if issue is None:
            created = gh.call(
                "POST",
                gh.repo_path("issues"),
                body={"title": args.title, "body": body, "labels": [args.label]},
            )
            action, number = "opened", int(created["number"])
        else:
            number = int(issue["number"])
            gh.call("PATCH", gh.repo_path("issues", number), body={"body": body})
            action = "updated"
    elif issue is None:
        print("no drift, and no open drift issue")
        ghkit.set_outputs({"action": "none", "issue": ""})
        return 0
    else:
        number = int(issue["number"])
        gh.call(
            "POST",
            gh.repo_path("issues", number, "comments"),
            body={"body": close_comment(args.sha, args.run_url)},
        )
        gh.call(
            "PATCH",
            gh.repo_path("issues", number),
            body={"state": "closed", "state_reason": "completed"},
        )
        action = "closed"
    print(f"{action} drift issue #{number}")
    ghkit.set_outputs({"action": action, "issue": number})
    return 0


if __name__ == "__main__":
    ghkit.run(main)
