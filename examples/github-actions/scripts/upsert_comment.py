"""Create or update the one pisync plan comment of a pull request, and set its escalation label.

The comment is found by the hidden marker it starts with (``<!-- pisync-plan -->``), so every
push updates the same comment in place, "No changes" included. When the plan flags a privilege
escalation (an entry of the plan's ``access`` array with ``escalation: true``) the comment leads
with them and the pull request gets the label (default ``access-escalation``); a later plan
without escalation removes it. Without a plan file (the plan failed before writing one) the
label is left as it is.

    upsert_comment.py --pr 12 --exit-code 2 --plan plan.json --markdown plan.md \\
        [--log pisync.log] [--head-sha SHA] [--run-url URL] [--label access-escalation]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import ghkit

#: Escalations listed by name at the top of the comment; the rest are counted.
MAX_LISTED: Final = 50
#: pisync's own messages shown for a failed plan (the end of them).
MAX_LOG: Final = 6_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pr", type=int, required=True, help="pull request number")
    parser.add_argument("--exit-code", type=int, required=True, help="exit code of pisync")
    parser.add_argument("--plan", help="the JSON plan (pisync plan --out)")
    parser.add_argument("--markdown", help="the Markdown plan (pisync plan --format markdown)")
    parser.add_argument("--log", help="pisync's messages, shown when the plan failed")
    parser.add_argument("--head-sha", default="", help="the pull request head commit planned")
    parser.add_argument("--run-url", default="", help="link to the workflow run")
    parser.add_argument(
        "--label",
        default=ghkit.ESCALATION_LABEL,
        help="label for privilege escalations ('' to not label)",
    )
    parser.add_argument("--marker", default=ghkit.PLAN_MARKER, help="hidden marker of the comment")
    return parser.parse_args(argv)


def escalation_section(found: Sequence[Mapping[str, Any]], label: str) -> str:
    if not found:
        return ""
    users = "1 user gains" if len(found) == 1 else f"{len(found)} users gain"
    lines = [f"### ⚠️ Privilege escalation: {users} access", ""]
    if label:
        lines += [
            f"This pull request is labelled {ghkit.md_code(label)}: it needs a review by the "
            "owners of access before it is merged.",
            "",
        ]
    lines += [f"- {ghkit.escalation_sentence(e)}" for e in found[:MAX_LISTED]]
    if len(found) > MAX_LISTED:
        lines.append(f"- … and {len(found) - MAX_LISTED} more (see the plan below)")
    return "\n".join(lines) + "\n"


def status_section(exit_code: int) -> str:
    passes, message = ghkit.exit_meaning("plan", exit_code)
    if passes:
        return ""
    return f"> [!CAUTION]\n> **pisync plan failed (exit {exit_code}).** {message}\n"


def log_section(log: str) -> str:
    text = log.strip()
    if not text:
        return ""
    if len(text) > MAX_LOG:
        text = "…" + text[-MAX_LOG:]
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return (
        "<details open><summary>pisync said</summary>\n\n"
        f"{fence}text\n{text}\n{fence}\n\n</details>\n"
    )


def footer(head_sha: str, run_url: str) -> str:
    parts = ["pisync plan"]
    if head_sha:
        parts.append(f"of {ghkit.md_code(ghkit.short(head_sha))}")
    text = " ".join(parts)
    if run_url:
        text += f" · [workflow run]({run_url})"
    return f"<sub>{text} · this comment is updated on every push</sub>\n"


def build_body(
    *,
    marker: str,
    exit_code: int,
    plan: Mapping[str, Any] | None,
    markdown: str,
    log: str,
    head_sha: str,
    run_url: str,
    label: str,
) -> str:
    """The whole comment: marker, escalations, failure, the Markdown plan, pisync's messages.

    Everything but the Markdown plan is bounded; the plan gets the room left below GitHub's
    limit (pisync already caps it at 60,000 characters, keeping its summary table).
    """
    passes, _ = ghkit.exit_meaning("plan", exit_code)
    found = ghkit.escalations(plan) if plan is not None else []
    lead = [escalation_section(found, label), status_section(exit_code)]
    tail = ["" if passes else log_section(log), footer(head_sha, run_url)]
    fixed = _join(marker, lead + tail)
    plan_md = markdown.strip()
    if plan_md:
        plan_md = ghkit.fit(plan_md, ghkit.BODY_LIMIT - len(fixed.encode()) - 2)
    return _join(marker, [*lead, plan_md, *tail])


def _join(marker: str, sections: Sequence[str]) -> str:
    kept = [s.strip("\n") for s in sections if s.strip()]
    return marker + "\n" + "\n\n".join(kept) + "\n"


def find_comment(gh: ghkit.GitHub, pr: int, marker: str) -> Mapping[str, Any] | None:
    for comment in gh.paginate(gh.repo_path("issues", pr, "comments")):
        body = comment.get("body") or ""
        if body.startswith(marker):
            return dict(comment)
    return None


def upsert_comment(gh: ghkit.GitHub, pr: int, marker: str, body: str) -> tuple[str, int]:
    existing = find_comment(gh, pr, marker)
    if existing is None:
        created = gh.call("POST", gh.repo_path("issues", pr, "comments"), body={"body": body})
        return "created", int(created["id"])
    comment_id = int(existing["id"])
    gh.call("PATCH", gh.repo_path("issues", "comments", comment_id), body={"body": body})
    return "updated", comment_id


def set_label(gh: ghkit.GitHub, pr: int, label: str, wanted: bool) -> str:
    """Add or remove ``label``; what was done, in words."""
    present = any(
        (item.get("name") or "").casefold() == label.casefold()
        for item in gh.paginate(gh.repo_path("issues", pr, "labels"))
    )
    if wanted and not present:
        gh.call("POST", gh.repo_path("issues", pr, "labels"), body={"labels": [label]})
        return "added"
    if not wanted and present:
        # 404: someone removed it meanwhile, which is what we wanted.
        gh.call("DELETE", gh.repo_path("issues", pr, "labels", label), ok_statuses=(404,))
        return "removed"
    return "already present" if present else "not present"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    gh = ghkit.GitHub.from_env()
    plan = ghkit.load_plan(args.plan)
    body = build_body(
        marker=args.marker,
        exit_code=args.exit_code,
        plan=plan,
        markdown=ghkit.read_text(args.markdown),
        log=ghkit.read_text(args.log),
        head_sha=args.head_sha,
        run_url=args.run_url,
        label=args.label,
    )
    action, comment_id = upsert_comment(gh, args.pr, args.marker, body)
    print(f"{action} comment {comment_id} on pull request #{args.pr}")
    escalated = bool(plan is not None and ghkit.escalations(plan))
    if args.label and plan is None:
        print(f"label {args.label}: left as it is (no plan to read)")
    elif args.label:
        print(f"label {args.label}: {set_label(gh, args.pr, args.label, escalated)}")
    ghkit.set_outputs({"comment_id": comment_id, "escalation": escalated})
    return 0


if __name__ == "__main__":
    ghkit.run(main)
