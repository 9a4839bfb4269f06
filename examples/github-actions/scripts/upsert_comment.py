"""Create or update the one pisync plan comment of a pull request, and set its escalation label.

The comment is the kit's own: the first comment that starts with the hidden marker
(``<!-- pisync-plan -->``) AND was written by the token's identity (``--author``, default
``github-actions[bot]``, a bot account); anyone else's comment holding the marker is left
alone. Every push updates that comment in place, "No changes" included.

The plan in the comment is pisync's own Markdown of the saved plan (``--markdown``, written by
``pisync show PLANFILE --format markdown``); the escalations come from ``pisync show PLANFILE
--summary --format json``. The kit renders nothing of the plan itself. When the plan escalates
anyone's access, the comment leads with them and the pull request gets the label (default
``access-escalation``); a later plan without escalation removes it. Without a plan file (the
plan failed before writing one) the label is left as it is.

    upsert_comment.py --pr 12 --exit-code 2 --plan plan.json --markdown plan.md \\
        [--log pisync.log] [--head-sha SHA] [--run-url URL] [--label access-escalation] \\
        [--approvers "acme/pi-access-owners alice"] [--author github-actions[bot]]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import approvals
import ghkit
import plans

#: Escalations listed by name at the top of the comment; the rest are counted.
MAX_LISTED: Final = 50
#: pisync's own messages shown for a failed plan (the end of them).
MAX_LOG: Final = 6_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pr", type=int, required=True, help="pull request number")
    parser.add_argument("--exit-code", type=int, required=True, help="exit code of pisync")
    parser.add_argument("--plan", help="the saved plan (pisync plan --out)")
    parser.add_argument("--markdown", help="the Markdown plan (pisync show --format markdown)")
    parser.add_argument("--log", help="pisync's messages, shown when the plan failed")
    parser.add_argument("--head-sha", default="", help="the pull request head commit planned")
    parser.add_argument("--run-url", default="", help="link to the workflow run")
    parser.add_argument(
        "--label",
        default=ghkit.ESCALATION_LABEL,
        help="label for privilege escalations ('' to not label)",
    )
    parser.add_argument("--approvers", default="", help="who may approve an escalation")
    parser.add_argument("--author", default=ghkit.DEFAULT_AUTHOR, help="the token's identity")
    parser.add_argument("--marker", default=ghkit.PLAN_MARKER, help="hidden marker of the comment")
    return parser.parse_args(argv)


def escalation_section(found: Sequence[str], label: str, approvers: approvals.Approvers) -> str:
    if not found:
        return ""
    users = "1 user gains" if len(found) == 1 else f"{len(found)} users gain"
    lines = [f"### ⚠️ Privilege escalation: {users} access", ""]
    names = ", ".join(ghkit.md_code(u) for u in found[:MAX_LISTED])
    if len(found) > MAX_LISTED:
        names += f" and {len(found) - MAX_LISTED} more"
    lines += [f"{names} (see _Effective access_ in the plan below).", ""]
    if approvers:
        lines += [
            f"It needs an approving review of this commit from {approvers.markdown()} "
            f"(the status {ghkit.md_code(ghkit.APPROVAL_CONTEXT)}) before it is merged.",
            "",
        ]
    elif label:
        lines += [
            f"This pull request is labelled {ghkit.md_code(label)}: it needs a review by the "
            "owners of access before it is merged.",
            "",
        ]
    return "\n".join(lines)


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
    return f"<details open><summary>pisync said</summary>\n\n{ghkit.md_fence(text)}\n\n</details>\n"


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
    escalations: Sequence[str],
    markdown: str,
    log: str,
    head_sha: str,
    run_url: str,
    label: str,
    approvers: approvals.Approvers,
) -> str:
    """The whole comment: marker, escalations, failure, pisync's Markdown plan, its messages.

    Everything but the Markdown plan is bounded; the plan gets the room left below GitHub's
    limit (pisync already caps it at 60,000 characters, keeping its summary table).
    """
    passes, _ = ghkit.exit_meaning("plan", exit_code)
    lead = [escalation_section(escalations, label, approvers), status_section(exit_code)]
    tail = ["" if passes else log_section(log), footer(head_sha, run_url)]
    fixed = _join(marker, lead + tail)
    plan_md = markdown.strip()
    if plan_md:
        plan_md = ghkit.fit(plan_md, ghkit.BODY_LIMIT - len(fixed.encode()) - 2)
    return _join(marker, [*lead, plan_md, *tail])


def _join(marker: str, sections: Sequence[str]) -> str:
    kept = [s.strip("\n") for s in sections if s.strip()]
    return marker + "\n" + "\n\n".join(kept) + "\n"


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
    approvers = approvals.parse_approvers(args.approvers)
    summary = None
    if args.plan and Path(args.plan).is_file():
        try:
            summary = plans.show_summary(args.plan)
        except plans.PlanRefused as exc:
            ghkit.print_untrusted(exc.said)
            raise ghkit.Stop(f"{exc}; see pisync's message above.") from None
    escalations = list(summary.escalations) if summary is not None else []
    body = build_body(
        marker=args.marker,
        exit_code=args.exit_code,
        escalations=escalations,
        markdown=ghkit.read_text(args.markdown),
        log=ghkit.read_text(args.log),
        head_sha=args.head_sha,
        run_url=args.run_url,
        label=args.label,
        approvers=approvers,
    )
    action, comment_id = ghkit.upsert_comment(gh, args.pr, args.marker, body, args.author)
    print(f"{action} comment {comment_id} on pull request #{args.pr}")
    escalated = bool(escalations)
    if args.label and summary is None:
        print(ghkit.neutralise_legacy(f"label {args.label}: left as it is (no plan to read)"))
    elif args.label:
        done = set_label(gh, args.pr, args.label, escalated)
        print(ghkit.neutralise_legacy(f"label {args.label}: {done}"))
    ghkit.set_outputs({"comment_id": comment_id, "escalation": escalated})
    return 0


if __name__ == "__main__":
    ghkit.run(main)
