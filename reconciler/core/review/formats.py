"""The access review as JSON (``schemas/review.schema.json``), CSV and Markdown. Pure.

Secrets never appear: a secure variable is named, never valued (nor its digest).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from reconciler.core.model.privileges import ESCALATING_PRIVILEGES
from reconciler.core.model.values import Grant
from reconciler.core.render.markup import CsvValue, csv_cell, md_code, md_text
from reconciler.core.review.model import Review, Row

# --- rendering: JSON, CSV, Markdown -------------------------------------------------------------


def render_json(review: Review) -> str:
    """The review as JSON, documented by ``schemas/review.schema.json``."""
    return json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n"


#: The CSV columns, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "usercode",
    "type",
    "enabled",
    "expires",
    "managed",
    "drift",
    "roles",
    "categories",
    "privileges",
    "direct_categories",
    "direct_privileges",
    "secure_variables",
    "reason",
    "ticket",
    "owner",
    "review_by",
    "findings",
    "commit",
    "author",
    "date",
    "subject",
    "pull_request",
    "source",
)


def render_csv(review: Review) -> str:
    """One line per live user (:data:`CSV_COLUMNS`); lists joined by ``; ``. A cell that a
    spreadsheet would take for a formula is prefixed with ``'`` so that opening the file never
    runs one."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in review.rows:
        writer.writerow([csv_cell(v) for v in _csv_values(row)])
    return out.getvalue()


def _csv_values(row: Row) -> list[CsvValue]:
    change = row.last_change
    return [
        row.usercode,
        row.type,
        row.enabled,
        row.expires,
        row.managed,
        "" if row.drift is None else "; ".join(row.drift) or "none",
        "; ".join(row.roles),
        "; ".join(row.categories),
        "; ".join(row.privileges),
        "; ".join(row.direct_categories),
        "; ".join(row.direct_privileges),
        "; ".join(row.secure_variables),
        row.grant.reason,
        row.grant.ticket,
        row.grant.owner,
        row.grant.review_by,
        "; ".join(f"{f.severity}: {f.text}" for f in row.findings),
        None if change is None else change.commit,
        None if change is None else change.author,
        None if change is None else change.date,
        None if change is None else change.subject,
        None if change is None else change.pull_request,
        None if row.source is None else str(row.source),
    ]


def render_markdown(review: Review) -> str:
    """The review as Markdown: the summary first, then one table line per user."""
    s = review.summary
    lines = [
        "# pisync access review",
        "",
        f"Server: {md_code(review.server)} · as of {review.date}"
        + f" · {s.users} users ({s.enabled} enabled)",
        "",
    ]
    if not review.provenance or review.provenance_note:
        lines += [f"> **Provenance:** {md_text(review.provenance_note or 'not available')}", ""]
    lines += ["## Summary", "", "| | |", "|---|---:|"]
    lines += [
        f"| Administrators (enabled) | {len(s.administrators)} |",
        f"| Unmanaged users (no file declares them) | {len(s.unmanaged)} |",
        f"| Drifted users (the server differs from the repository) | {len(s.drifted)} |",
        f"| Declared but not on the server | {len(s.declared_missing)} |",
        f"| Expired but still enabled | {len(s.expired_but_enabled)} |",
        f"| Reviews overdue | {len(s.reviews_overdue)} |",
        f"| Policy violations | {s.violations['error']} errors, {s.violations['warning']}"
        " warnings |",
    ]
    lines += [f"| Access ending within {w} days | {n} |" for w, n in s.expiring.items()]
    lines += ["", "### Users per type", "", "| Type | Users |", "|---|---:|"]
    lines += [f"| {md_text(t)} | {n} |" for t, n in s.by_type.items()]
    lines += ["", "### Users per role", "", "| Role | Enabled holders |", "|---|---:|"]
    lines += [f"| {md_text(r)} | {n} |" for r, n in s.by_role.items()]
    for title, codes in (
        ("Administrators", s.administrators),
        ("Unmanaged users", s.unmanaged),
        ("Drifted users", s.drifted),
        ("Declared but not on the server", s.declared_missing),
        ("Expired but still enabled", s.expired_but_enabled),
        ("Reviews overdue", s.reviews_overdue),
    ):
        if codes:
            lines += ["", f"**{title}:** " + ", ".join(md_code(c) for c in codes)]
    if review.policies:
        lines += ["", "### Policies", ""]
        lines += [f"Checked: {', '.join(md_code(p) for p in review.policies)}."]
        lines += [f"- ⛔ {md_text(f.text)}" for f in review.server_findings]
    lines += ["", "## Users", ""]
    lines += [
        "| User | Type | Enabled | Expires | Roles | Categories | Privileges | Managed | Drift"
        " | Why | Findings | Last change |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_md_row(r) for r in review.rows]
    return "\n".join(lines) + "\n"


def _md_row(r: Row) -> str:
    via = {
        item: role for role, (cats, privs) in r.through_roles.items() for item in (*cats, *privs)
    }

    def items(names: Sequence[str], direct: Sequence[str]) -> str:
        """Each name (an escalating privilege in bold), with the role it comes through."""
        return ", ".join(
            (f"**{_table_code(n)}**" if n in ESCALATING_PRIVILEGES else _table_code(n))
            + ("" if n in direct or n not in via else f" (via {md_text(via[n])})")
            for n in names
        )

    cells = [
        _table_code(r.usercode) + (" (super admin)" if r.super_admin else ""),
        md_text(r.type or "unknown"),
        "yes" if r.enabled else "**no**",
        md_text(r.expires or "never"),
        ", ".join(_table_code(x) for x in r.roles),
        items(r.categories, r.direct_categories),
        items(r.privileges, r.direct_privileges),
        r.managed,
        "" if r.drift is None else (", ".join(r.drift) or "none"),
        md_text(_why(r.grant)),
        "<br>".join(
            f"{'⛔' if f.severity == 'error' else '⚠️'} {md_text(f.text)}" for f in r.findings
        ),
        md_text(_change_text(r)),
    ]
    return "| " + " | ".join(cells) + " |"


def _table_code(text: str) -> str:
    """A code span inside a table cell."""
    return md_code(text, in_table=True)


def _why(grant: Grant) -> str:
    parts = [grant.reason] if grant.reason else []
    parts += [f"{k} {v}" for k, v in (("ticket", grant.ticket), ("owner", grant.owner)) if v]
    if grant.review_by:
        parts.append(f"review by {grant.review_by}")
    return "; ".join(p for p in parts if p)


def _change_text(r: Row) -> str:
    c = r.last_change
    if c is None:
        return r.last_change_note or ""
    return f"{c.commit[:10]} {c.author} {c.date[:10]}: {c.subject}"
