"""``pisync doctor``'s checks as text and JSON. The JSON form is made for bug reports: it
holds nothing a server's users could consider theirs, and no host name (the caller passes the
server's URL with its host taken out).
"""

from __future__ import annotations

import json

from reconciler.core.model.checks import Findings, Result

FORMAT_VERSION = 1


def summary(findings: Findings) -> str:
    checks = findings.checks
    counts = {r: sum(1 for c in checks if c.result is r) for r in Result}
    line = (
        f"{counts[Result.OK]} OK, {counts[Result.DIFFERENT]} different,"
        f" {counts[Result.UNKNOWN]} unknown."
    )
    if findings.stopped is not None:
        return f"{line} {findings.stopped}"
    if counts[Result.DIFFERENT]:
        return (
            line + " pisync's assumptions do not all hold for this server: see DIFFERENT above,"
            " and share `pisync doctor --format json` (it holds no names or values) in an issue."
        )
    if counts[Result.UNKNOWN]:
        return line + " Every assumption that could be checked holds."
    return line + " Every assumption holds: pisync can plan against this server."


def render_text(server: str, findings: Findings, *, quiet: bool = False) -> str:
    """One block per check (a table would not fit the observations), then the summary;
    ``quiet`` (``-q``): the failed checks and the summary only."""
    lines = [] if quiet else [f"pisync doctor: {server}", ""]
    width = max((len(c.result.value) for c in findings.checks), default=2)
    for c in findings.checks:
        if quiet and c.result is not Result.DIFFERENT:
            continue
        ref = f" [{c.reference}]" if c.reference else ""
        lines.append(f"{c.result.value.ljust(width)}  {c.id}{ref}: {c.assumption}")
        lines.append(f"{' ' * width}  server: {c.observed}")
        if c.detail:
            lines.append(f"{' ' * width}  detail: {c.detail}")
        if c.advice:
            lines.append(f"{' ' * width}  to do:  {c.advice}")
        lines.append("")
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"


def render_json(server: str, findings: Findings) -> str:
    doc = {
        "format_version": FORMAT_VERSION,
        "server": server,
        "passed": findings.passed,
        "stopped": findings.stopped,
        "counts": {r.value: sum(1 for c in findings.checks if c.result is r) for r in Result},
        "checks": [c.to_dict() for c in findings.checks],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
