"""The access review as Markdown: the manifest, the summary, the privileged track, what
changed since the last review and the decisions first, then one table line per user, then
the commits the grants came in by. Pure; user data only through
:mod:`reconciler.core.render.markup` (code spans and escaped text).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from reconciler.core.model.privileges import ESCALATING_PRIVILEGES
from reconciler.core.model.values import Grant
from reconciler.core.render.markup import md_code, md_text
from reconciler.core.review.formats import Context, Format
from reconciler.core.review.manifest import Manifest
from reconciler.core.review.model import GrantRow, Review, Row

#: At most this many lines of one list in the "since" and decisions sections (the JSON
#: report has all of them).
LIST_LIMIT = 200

USER_COLUMNS = (
    "User",
    "Type",
    "Enabled",
    "Expires",
    "Login",
    "Roles",
    "Categories",
    "Privileges",
    "Managed",
    "Drift",
    "Why",
    "Findings",
    "Last change",
)


def _head(review: Review) -> str:
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
    if not review.approvals.asked and review.approvals.note:
        lines += [f"> **Approvals:** {md_text(review.approvals.note)}", ""]
    if review.manifest is not None:
        lines += _manifest(review.manifest)
    lines += _summary(review)
    lines += _privileged(review)
    lines += _since(review)
    lines += _decisions(review)
    lines += ["", "## Users", ""]
    lines += [
        "Each grant names the change that gave it its current value (`#N`: a pull request;"
        " a short hash: a commit); see Changes below.",
        "",
        "| " + " | ".join(USER_COLUMNS) + " |",
        "|" + "---|" * len(USER_COLUMNS),
    ]
    return "\n".join(lines) + "\n"


def _manifest(m: Manifest) -> list[str]:
    d = m.to_dict()
    pisync, repo = d["pisync"], d["repository"]
    lines = [
        "## Completeness and accuracy",
        "",
        f"Read {md_code(m.server)} from {m.read_started} to {m.read_finished} (UTC) with"
        f" pisync {md_code(pisync['version'])}"
        + (f" ({md_code(pisync['commit'][:12])})" if pisync["commit"] else "")
        + ", repository commit "
        + (md_code(repo["commit"]) if repo["commit"] else "unknown")
        + ".",
    ]
    if repo["uncommitted"]:
        lines.append(
            "Inputs not committed at that commit: "
            + ", ".join(md_code(p) for p in repo["uncommitted"])
            + "."
        )
    if d["note"]:
        lines.append(md_text(d["note"]))
    f = d["filters"]
    lines += [
        "",
        f"Scope: {md_text(f['scope'])}. Ignored by `users.ignore`: "
        + (", ".join(md_code(g) for g in f["ignore"]) or "none")
        + f" ({_users(f['ignored_users'])}); protected: "
        + (", ".join(md_code(g) for g in f["protected"]) or "none")
        + f"; unmanaged (no file declares them): {f['unmanaged_users']}.",
        "",
        "| Count | |",
        "|---|---:|",
    ]
    for name, value in d["counts"].items():
        lines.append(f"| {name.replace('_', ' ')} | {'n/a' if value is None else value} |")
    lines += ["", "| Check | Result | |", "|---|---|---|"]
    for check in m.checks:
        result = "not checked" if check.ok is None else ("✅ pass" if check.ok else "⛔ FAIL")
        lines.append(f"| {md_text(check.name)} | {result} | {md_text(check.detail)} |")
    lines += ["", f"<details><summary>{len(m.inputs)} input files (SHA-256)</summary>", ""]
    lines += ["| File | SHA-256 | Bytes |", "|---|---|---:|"]
    lines += [f"| {md_code(i.path, in_table=True)} | `{i.sha256}` | {i.size} |" for i in m.inputs]
    lines += ["", "</details>", ""]
    return lines


def _users(n: int) -> str:
    return f"{n} user" if n == 1 else f"{n} users"


def _summary(review: Review) -> list[str]:
    s = review.summary
    lines = ["## Summary", "", "| | |", "|---|---:|"]
    lines += [
        f"| Administrators (enabled) | {len(s.administrators)} |",
        f"| Privileged users (administrators, escalating privileges) | {s.privileged} |",
        f"| Unmanaged users (no file declares them) | {len(s.unmanaged)} |",
        f"| Drifted users (the server differs from the repository) | {len(s.drifted)} |",
        f"| Declared but not on the server | {len(s.declared_missing)} |",
        f"| Expired but still enabled | {len(s.expired_but_enabled)} |",
        f"| Reviews overdue | {len(s.reviews_overdue)} |",
        f"| Policy violations | {s.violations['error']} errors, {s.violations['warning']}"
        " warnings |",
        f"| Grants | {s.grants} |",
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
            shown = ", ".join(md_code(c) for c in codes[:LIST_LIMIT])
            more = f" and {len(codes) - LIST_LIMIT} more" if len(codes) > LIST_LIMIT else ""
            lines += ["", f"**{title}:** {shown}{more}"]
    if review.policies:
        lines += ["", "### Policies", ""]
        lines += [f"Checked: {', '.join(md_code(p) for p in review.policies)}."]
        lines += [f"- ⛔ {md_text(f.text)}" for f in review.server_findings]
    return lines


def _privileged(review: Review) -> list[str]:
    lines = ["", "## Privileged access", ""]
    if not review.privileged:
        return [*lines, "No user is an administrator or holds an escalating privilege."]
    lines += [
        "Administrators and holders of privileges that change who can see what (directly or"
        " through a role), with what justifies each.",
        "",
        "| User | Enabled | Because | Justification | Expires | Review by | Last reviewed"
        " | Managed | Findings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in review.privileged:
        last = p.last_review
        reviewed = (
            "never recorded"
            if last is None
            else f"{last.date[:10]} {md_text(last.author)} ({last.tag})"
        )
        lines.append(
            f"| {md_code(p.usercode, in_table=True)} | {'yes' if p.enabled else '**no**'}"
            f" | {md_text('; '.join(p.reasons))} | {md_text(_why(p.grant)) or '**none recorded**'}"
            f" | {md_text(p.expires or 'never')} | {md_text(p.grant.review_by or 'not set')}"
            f" | {reviewed} | {p.managed} | {p.findings} |"
        )
    return lines


def _since(review: Review) -> list[str]:
    since = review.since
    if since is None:
        return []
    prev = since.previous
    lines = [
        "",
        f"## Since the review of {md_text(prev.date)}",
        "",
        f"Compared with {md_code(prev.file)} ({md_code(prev.server)}"
        + (f", read {prev.read_finished}" if prev.read_finished else "")
        + f"): {since.words}.",
    ]
    if since.note:
        lines += ["", md_text(since.note)]
    for title, codes in (("Joined", since.joined), ("Left", since.left)):
        if codes:
            lines += ["", f"**{title}:** " + ", ".join(md_code(c) for c in codes[:LIST_LIMIT])]
            if len(codes) > LIST_LIMIT:
                lines[-1] += f" and {len(codes) - LIST_LIMIT} more"
    changes = [("+", p, r) for p, r in since.added] + [("-", p, r) for p, r in since.removed]
    if changes:
        lines += ["", "| | User | Grant |", "|---|---|---|"]
        lines += [
            f"| {sign} | {md_code(p, in_table=True)} | {md_code(r, in_table=True)} |"
            for sign, p, r in changes[:LIST_LIMIT]
        ]
        if len(changes) > LIST_LIMIT:
            lines += ["", f"… and {len(changes) - LIST_LIMIT} more (the JSON report lists all)."]
    return lines


def _decisions(review: Review) -> list[str]:
    if not review.decisions:
        return []
    lines = [
        "",
        "## Decisions of earlier reviews",
        "",
        "| User | Grant | Decision | Reviewed by | Reviewed | Justification | Applied by"
        " | Applied | Result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in review.decisions[:LIST_LIMIT]:
        d = s.decision
        lines.append(
            f"| {md_code(d.principal, in_table=True)} | {md_code(d.resource, in_table=True)}"
            f" | {d.decision} | {_table_code(d.reviewed_by)} | {md_text(d.reviewed_at)}"
            f" | {_table_code(d.justification) if d.justification else ''}"
            f" | {_table_code(s.applied_by) if s.applied_by else ''}"
            f" | {md_text(s.applied_at or '')} | {s.apply_result}: {md_text(s.detail)} |"
        )
    return lines


# --- rows ----------------------------------------------------------------------------------


def _row(r: Row, context: Context) -> str:
    via = {
        item: role for role, (cats, privs) in r.through_roles.items() for item in (*cats, *privs)
    }
    tags = {(g.kind, g.name.casefold()): g for g in r.grants}

    def tagged(kind: str, name: str) -> str:
        g = tags.get((kind, name.casefold()))
        return "" if g is None or g.change is None else f" ({g.change.tag})"

    def items(kind: str, names: Sequence[str], direct: Sequence[str]) -> str:
        """Each name (an escalating privilege in bold), its change or the role it comes
        through."""
        return ", ".join(
            (f"**{_table_code(n)}**" if n in ESCALATING_PRIVILEGES else _table_code(n))
            + (tagged(kind, n) if n in direct or n not in via else f" (via {md_text(via[n])})")
            for n in names
        )

    logins = [g for g in r.grants if g.kind == "login"]
    cells = [
        _table_code(r.usercode) + (" (super admin)" if r.super_admin else ""),
        md_text(r.type or "unknown") + tagged("type", r.type or ""),
        ("yes" if r.enabled else "**no**") + tagged("enabled", "true" if r.enabled else "false"),
        md_text(r.expires or "never"),
        ", ".join(g.name + _tag(g) for g in logins),
        ", ".join(_table_code(x) + tagged("role", x) for x in r.roles),
        items("category", r.categories, r.direct_categories),
        items("privilege", r.privileges, r.direct_privileges),
        r.managed,
        "" if r.drift is None else (", ".join(r.drift) or "none"),
        md_text(_why(r.grant)),
        "<br>".join(
            f"{'⛔' if f.severity == 'error' else '⚠️'} {md_text(f.text)}" for f in r.findings
        ),
        md_text(_change_text(r)),
    ]
    return "| " + " | ".join(cells) + " |\n"


def _tag(g: GrantRow) -> str:
    return "" if g.change is None else f" ({g.change.tag})"


def _tail(review: Review) -> str:
    if not review.commits:
        return ""
    lines = [
        "",
        "## Changes",
        "",
        "The commits the grants above came in by.",
        "",
        "| Change | Commit | Author | Date | Subject | Approvals |",
        "|---|---|---|---|---|---|",
    ]
    for c in sorted(review.commits.values(), key=lambda c: (c.date, c.commit)):
        lines.append(
            f"| {c.tag} | `{c.commit[:10]}` | {md_text(c.author)} | {md_text(c.date)}"
            f" | {md_text(c.subject)} | {md_text(review.approvals.words(c.pull_request))} |"
        )
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=8192)
def _table_code(text: str) -> str:
    """A code span inside a table cell (the same few names on most rows: made once)."""
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


MARKDOWN = Format(head=_head, row=_row, tail=_tail)
