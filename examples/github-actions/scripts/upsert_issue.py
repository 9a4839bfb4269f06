"""Open, update or close the one pisync drift issue, from the exit code of a full plan.

The issue is the kit's own: an open issue with the label (default ``pisync-drift``) whose body
starts with the hidden marker ``<!-- pisync-drift -->`` AND that the token's identity wrote
(``--author``, default ``github-actions[bot]``); anyone else's issue is left alone.

- ``pisync plan --detailed-exitcode`` exit 2 (the server drifted from git): that issue gets the
  new Markdown plan, or such an issue is opened.
- Exit 4 (a safety guard would refuse to apply the default branch: the most urgent drift): the
  issue is opened or updated all the same, its title starts with ``BLOCKED:`` and its body
  leads with why (pisync's own message, ``--log``) and what to do.
- Exit 0 (no drift): that issue, if open, gets a comment and is closed.
- Any other exit code leaves it alone (the workflow fails on its own).

    upsert_issue.py --exit-code 2 --markdown drift.md [--log pisync.log] [--sha SHA] \\
        [--run-url URL] [--label pisync-drift] [--title TITLE] [--author LOGIN]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any, Final

import ghkit

DEFAULT_TITLE: Final = "pisync: Panintelligence has drifted from the desired state in git"
BLOCKED_PREFIX: Final = "BLOCKED: "
#: pisync's own messages shown for a blocked drift (the end of them).
MAX_LOG: Final = 6_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exit-code", type=int, required=True, help="exit code of pisync plan")
    parser.add_argument("--markdown", help="the Markdown plan (pisync plan --format markdown)")
    parser.add_argument("--log", help="pisync's messages (why a safety guard trips)")
    parser.add_argument("--sha", default="", help="the commit of the desired state planned")
    parser.add_argument("--run-url", default="", help="link to the workflow run")
    parser.add_argument("--label", default=ghkit.DRIFT_LABEL, help="label of the drift issue")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="title of the drift issue")
    parser.add_argument("--author", default=ghkit.DEFAULT_AUTHOR, help="the token's identity")
    parser.add_argument("--marker", default=ghkit.DRIFT_MARKER, help="hidden marker of the issue")
    return parser.parse_args(argv)


def _checked(sha: str, run_url: str) -> str:
    text = "the scheduled pisync plan"
    if sha:
        text += f" of {ghkit.md_code(ghkit.short(sha))}"
    if run_url:
        text += f" ([workflow run]({run_url}))"
    return text


def drift_intro(sha: str, run_url: str) -> str:
    return (
        "The live Panintelligence server no longer matches the desired state on the default "
        f"branch: {_checked(sha, run_url)} would make the changes below.\n\n"
        "Either the server was changed by hand (put the change into git with a pull request, "
        "or let pisync undo it: run the pisync apply workflow by hand with full_apply), or a "
        "merged change was not applied (a failed or stale apply). This issue is updated by "
        "every drift check and closed by the first one that finds no drift."
    )


def blocked_intro(sha: str, run_url: str, log: str) -> str:
    text = log.strip()
    if len(text) > MAX_LOG:
        text = "…" + text[-MAX_LOG:]
    said = (
        f"\n\n<details open><summary>pisync said</summary>\n\n{ghkit.md_fence(text)}\n\n</details>"
        if text
        else ""
    )
    return (
        "> [!CAUTION]\n"
        "> **BLOCKED: a safety guard stops pisync from applying the default branch.** The live "
        "Panintelligence server differs from the desired state on the default branch, and "
        f"applying it would trip a safety guard: {_checked(sha, run_url)} exited 4 (why: "
        "pisync's message below, and the plan). Until this is resolved, no merged pull "
        "request and no full apply can be applied without force. Look at the plan: either put "
        "the server's state into git with a pull request, or fix the server, or, if the "
        "change is intended, an administrator runs the pisync apply workflow by hand with "
        "full_apply and force."
        f"{said}\n\n"
        "This issue is updated by every drift check and closed by the first one that finds no "
        "drift."
    )


def issue_body(marker: str, intro: str, markdown: str) -> str:
    fixed = f"{marker}\n{intro}\n\n"
    plan = ghkit.fit(markdown.strip(), ghkit.BODY_LIMIT - len(fixed.encode()) - 1)
    return f"{fixed}{plan}\n"


def close_comment(sha: str, run_url: str) -> str:
    return f"No drift any more: {_checked(sha, run_url)} found no changes. Closing."


def find_issue(gh: ghkit.GitHub, label: str, marker: str, author: str) -> Mapping[str, Any] | None:
    """The oldest open issue with the label, starting with the marker, that ``author`` wrote."""
    found = [
        item
        for item in gh.paginate(gh.repo_path("issues"), {"state": "open", "labels": label})
        if "pull_request" not in item
        and (item.get("body") or "").startswith(marker)
        and ghkit.written_by(item, author)
    ]
    return min(found, key=lambda item: int(item["number"])) if found else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.exit_code not in (0, 2, 4):
        print(f"pisync plan exited {args.exit_code}: the drift issue is left as it is")
        ghkit.set_outputs({"action": "none", "issue": ""})
        return 0
    gh = ghkit.GitHub.from_env()
    issue = find_issue(gh, args.label, args.marker, args.author)
    if args.exit_code in (2, 4):
        blocked = args.exit_code == 4
        intro = (
            blocked_intro(args.sha, args.run_url, ghkit.read_text(args.log))
            if blocked
            else drift_intro(args.sha, args.run_url)
        )
        body = issue_body(args.marker, intro, ghkit.read_text(args.markdown))
        title = BLOCKED_PREFIX + args.title if blocked else args.title
        if issue is None:
            created = gh.call(
                "POST",
                gh.repo_path("issues"),
                body={"title": title, "body": body, "labels": [args.label]},
            )
            action, number = "opened", int(created["number"])
        else:
            number = int(issue["number"])
            gh.call("PATCH", gh.repo_path("issues", number), body={"title": title, "body": body})
            action = "updated"
        if blocked:
            action += " (blocked)"
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
    ghkit.set_outputs(
        {"action": action.split()[0], "issue": number, "blocked": args.exit_code == 4}
    )
    return 0


if __name__ == "__main__":
    ghkit.run(main)
