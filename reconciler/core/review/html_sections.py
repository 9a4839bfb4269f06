"""The HTML review's sections beside the users' table: completeness and accuracy (the
manifest), the privileged track, what changed since the last review, the decisions of
earlier reviews, and the commits the grants came in by. Pure; user data only escaped
(:func:`~reconciler.core.render.markup.html_escape`) in element text or attribute values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.core.model.values import Grant
from reconciler.core.render.markup import html_escape as esc
from reconciler.core.review.decisions import APPLIED, NOT_FOUND
from reconciler.core.review.model import Review

#: At most this many rows in the "since" and decisions tables (the JSON report has all).
LIST_LIMIT = 500


def _table(cls: str, heads: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain table; cells are HTML already escaped by the caller."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def manifest_section(review: Review) -> str:
    m = review.manifest
    if m is None:
        return ""
    d = m.to_dict()
    pisync, repo, filters = d["pisync"], d["repository"], d["filters"]
    facts = [
        ("Server", f"<code>{esc(m.server)}</code>"),
        ("Read (UTC)", f"{esc(m.read_started)}  to  {esc(m.read_finished)}"),
        (
            "pisync",
            f"<code>{esc(pisync['version'])}</code>"
            + (
                f" <code>{esc(pisync['commit'])}</code>"
                if pisync["commit"]
                else " (commit unknown)"
            ),
        ),
        (
            "Repository commit",
            f"<code>{esc(repo['commit'])}</code>" if repo["commit"] else "unknown",
        ),
        (
            "Not committed",
            ", ".join(f"<code>{esc(p)}</code>" for p in repo["uncommitted"] or ()) or "nothing",
        ),
        ("Scope", esc(filters["scope"])),
        (
            "users.ignore",
            (", ".join(f"<code>{esc(g)}</code>" for g in filters["ignore"]) or "none")
            + f" ({filters['ignored_users']} user{'' if filters['ignored_users'] == 1 else 's'})",
        ),
        (
            "users.protected",
            ", ".join(f"<code>{esc(g)}</code>" for g in filters["protected"]) or "none",
        ),
        ("Unmanaged users", str(filters["unmanaged_users"])),
    ]
    if d["note"]:
        facts.append(("Note", esc(d["note"])))
    counts = [
        (esc(k.replace("_", " ")), "n/a" if v is None else str(v)) for k, v in d["counts"].items()
    ]
    checks = [
        (
            esc(c.name),
            "not checked"
            if c.ok is None
            else ("pass" if c.ok else '<span class="bad">FAIL</span>'),
            esc(c.detail),
        )
        for c in m.checks
    ]
    inputs = [
        (f"<code>{esc(i.path)}</code>", f"<code>{i.sha256}</code>", str(i.size)) for i in m.inputs
    ]
    passed = sum(1 for c in m.checks if c.ok)
    return (
        '<section class="manifest" id="manifest"><h2>Completeness and accuracy</h2>'
        + f'<p class="{"good" if m.ok else "bad"}">{passed} of {len(m.checks)} checks pass'
        + (
            ""
            if all(c.ok is not None for c in m.checks)
            else f" ({sum(1 for c in m.checks if c.ok is None)} could not be made)"
        )
        + ".</p>"
        + '<div class="side">'
        + _table("facts", ("", ""), facts)
        + _table("counts", ("Count", ""), counts)
        + _table("checks", ("Check", "Result", ""), checks)
        + "</div>"
        + f"<details><summary>{len(m.inputs)} input files (SHA-256)</summary>"
        + _table("inputs", ("File", "SHA-256", "Bytes"), inputs)
        + "</details></section>"
    )


def _why(grant: Grant) -> str:
    parts = [] if grant.reason is None else [f"<q>{esc(grant.reason)}</q>"]
    for label, value in (("ticket", grant.ticket), ("owner", grant.owner)):
        if value is not None:
            parts.append(f"{label} <code>{esc(value)}</code>")
    return "<br>".join(parts) or '<span class="bad">none recorded</span>'


def privileged_section(review: Review) -> str:
    rows = []
    for p in review.privileged:
        last = p.last_review
        rows.append(
            (
                f"<code>{esc(p.usercode)}</code>",
                "yes" if p.enabled else '<span class="bad">no</span>',
                "<br>".join(esc(r) for r in p.reasons),
                _why(p.grant),
                esc(p.expires or "never"),
                esc(p.grant.review_by or "not set"),
                "never recorded"
                if last is None
                else f"{esc(last.date[:10])} {esc(last.author)} ({esc(last.tag)})",
                esc(p.managed),
                str(p.findings),
            )
        )
    body = (
        _table(
            "privileged",
            (
                "User",
                "Enabled",
                "Because",
                "Justification",
                "Expires",
                "Review by",
                "Last reviewed",
                "Managed",
                "Findings",
            ),
            rows,
        )
        if rows
        else "<p>No user is an administrator or holds an escalating privilege.</p>"
    )
    return (
        '<section class="privileged" id="privileged"><h2>Privileged access</h2>'
        "<p>Administrators and holders of privileges that change who can see what (directly or"
        " through a role), with what justifies each.</p>" + body + "</section>"
    )


def since_section(review: Review) -> str:
    since = review.since
    if since is None:
        return ""
    prev = since.previous
    changes = [("+", p, r) for p, r in since.added] + [("-", p, r) for p, r in since.removed]
    rows = [(s, f"<code>{esc(p)}</code>", f"<code>{esc(r)}</code>") for s, p, r in changes]
    lists = "".join(
        f"<p><strong>{title}:</strong> "
        + ", ".join(f"<code>{esc(c)}</code>" for c in codes[:LIST_LIMIT])
        + (f" and {len(codes) - LIST_LIMIT} more" if len(codes) > LIST_LIMIT else "")
        + "</p>"
        for title, codes in (("Joined", since.joined), ("Left", since.left))
        if codes
    )
    more = (
        f"<p>… and {len(rows) - LIST_LIMIT} more (the JSON report lists all).</p>"
        if len(rows) > LIST_LIMIT
        else ""
    )
    return (
        f'<section class="since" id="since"><h2>Since the review of {esc(prev.date)}</h2>'
        f"<p>Compared with <code>{esc(prev.file)}</code> (<code>{esc(prev.server)}</code>):"
        f" {esc(since.words)}.</p>"
        + (f'<p class="note">{esc(since.note)}</p>' if since.note else "")
        + lists
        + (_table("changes", ("", "User", "Grant"), rows[:LIST_LIMIT]) if rows else "")
        + more
        + "</section>"
    )


def decisions_section(review: Review) -> str:
    if not review.decisions:
        return ""
    rows = []
    for s in review.decisions[:LIST_LIMIT]:
        d = s.decision
        rows.append(
            (
                f"<code>{esc(d.principal)}</code>",
                f"<code>{esc(d.resource)}</code>",
                esc(d.decision),
                esc(d.reviewed_by),
                esc(d.reviewed_at),
                esc(d.justification),
                esc(s.applied_by or ""),
                esc(s.applied_at or ""),
                f'<span class="{"good" if s.apply_result in (APPLIED, NOT_FOUND) else "bad"}">'
                f'{esc(s.apply_result)}</span><br><span class="muted">{esc(s.detail)}</span>',
            )
        )
    return (
        '<section class="decisions" id="decisions"><h2>Decisions of earlier reviews</h2>'
        + _table(
            "decisions",
            (
                "User",
                "Grant",
                "Decision",
                "Reviewed by",
                "Reviewed",
                "Justification",
                "Applied by",
                "Applied",
                "Result",
            ),
            rows,
        )
        + "</section>"
    )


def commits_section(review: Review) -> str:
    if not review.commits:
        return ""
    rows = [
        (
            esc(c.tag),
            f'<code title="{esc(c.commit)}">{esc(c.commit[:10])}</code>',
            esc(c.author),
            esc(c.date),
            esc(c.subject),
            esc(review.approvals.words(c.pull_request)),
        )
        for c in sorted(review.commits.values(), key=lambda c: (c.date, c.commit))
    ]
    return (
        '<section class="changes" id="changes"><h2>Changes</h2>'
        "<p>The commits the grants above came in by.</p>"
        + _table("changes", ("Change", "Commit", "Author", "Date", "Subject", "Approvals"), rows)
        + "</section>"
    )
