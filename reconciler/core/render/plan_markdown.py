"""The plan as GitHub Markdown. Pure.

Markdown (:func:`render_markdown`) carries the same content for a PR comment or
``$GITHUB_STEP_SUMMARY``: heading, counts table, guards, policy findings, effective access,
expiring access, notes, warnings, then one ``<details>`` block per object holding a ``diff``
fenced block (symbols in column 0, so GitHub colours ``+`` and ``-``). It never exceeds
``limit`` characters (unless ``limit`` is smaller than the heading and table alone): whole
objects are dropped from the end with a note; the policy, access, expiry and warning sections
are capped at a share of the limit with their own notes. User data appears only inside code
spans, fenced blocks or escaped HTML, so ``<``, ``|``, backticks or brackets in a name cannot
break the layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from reconciler.core.plans.plan import AccessChange, Action, Change, Expiry, Plan, PolicyFinding
from reconciler.core.render.markup import bare, html_text, md_code, md_fence, md_text
from reconciler.core.render.rows import field_rows, heading, name_width, row_segments
from reconciler.core.render.sentences import (
    NO_CHANGES,
    Names,
    access_order,
    access_sentence,
    checked_note,
    expiry_sentence,
    partial_sentences,
    plural,
    user_actions,
    why_line,
)

MARKDOWN_LIMIT: Final = 60_000


def _md_name(text: str) -> str:
    return md_code(bare(text))


_MD_NAMES: Final = Names(user=_md_name, role=_md_name, item=_md_name)
#: At most this many ``--target`` names in the Markdown note (the heading is never truncated).
_MD_TARGETS: Final = 20


def render_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT) -> str:
    """The plan as GitHub Markdown of at most ``limit`` characters (see module docstring)."""
    out = _md_head(plan)
    out += _md_sections(plan, limit)
    if plan.empty:
        return out + NO_CHANGES + "\n"
    heading = "### Changes\n\n"
    blocks = [_md_details(c) for c in plan.changes]
    budget = limit - len(out) - len(heading)
    if sum(map(len, blocks)) <= budget:
        return (out + heading + "".join(blocks)).rstrip("\n") + "\n"
    budget -= len(_md_more_changes(len(blocks)))
    shown = _fit(blocks, budget)
    return out + heading + "".join(blocks[:shown]) + _md_more_changes(len(blocks) - shown)


def _md_head(plan: Plan) -> str:
    out = "## pisync plan\n\n"
    if plan.server:
        out += f"Server: {md_code(plan.server)}\n\n"
    out += md_partial(plan)
    if plan.empty:
        return out
    c = plan.counts
    return (
        out
        + "| Create | Update | Disable | Delete |\n"
        + "|-------:|-------:|--------:|-------:|\n"
        + f"| {c.create} | {c.update} | {c.disable} | {c.delete} |\n\n"
        + md_guards(plan)
    )


def md_partial(plan: Plan) -> str:
    """How the plan is partial, one quoted note each (names in code spans)."""
    return "".join(
        f"> **Note:** {note}\n\n" for note in partial_sentences(plan, _md_name, _MD_TARGETS)
    )


def md_guards(plan: Plan) -> str:
    """The guards, first after the counts: what a reviewer must see before anything else."""
    if not plan.guards:
        return ""
    if plan.forced:
        kind, heading = "WARNING", "**Safety guards overridden by `--force`:**"
    else:
        kind = "CAUTION"
        heading = "**Blocked by safety guards:** `pisync apply` refuses this plan unless `--force`."
    lines = [f"> [!{kind}]", f"> {heading}", ">"]
    lines += [f"> - {md_code(g.name)}: {md_text(g.message)}" for g in plan.guards]
    return "\n".join(lines) + "\n\n"


def _md_sections(plan: Plan, limit: int) -> str:
    out = md_policy(plan, limit)
    if plan.access:
        actions = user_actions(plan)
        items = [_md_access_item(a, actions.get(a.usercode)) for a in access_order(plan)]
        out += "### Effective access\n\n" + _capped(items, limit // 2, "users' access changes")
    if plan.expiring:
        items = [_md_expiry_item(e) for e in plan.expiring]
        out += "### Expiring access\n\n" + _capped(items, limit // 10, "expiring users")
    return out + md_notes(plan, limit)


def md_notes(plan: Plan, limit: int) -> str:
    """The plan's notes and warnings, each list capped at a tenth of ``limit``."""
    out = ""
    if plan.notes:
        items = [f"- {md_text(n)}\n" for n in plan.notes]
        out += "### Notes\n\n" + _capped(items, limit // 10, "notes")
    if plan.warnings:
        items = [f"- ⚠️ {md_text(w)}\n" for w in plan.warnings]
        out += "### Warnings\n\n" + _capped(items, limit // 10, "warnings")
    return out


def md_policy(plan: Plan, limit: int) -> str:
    """The Policy section, right after the guards: a reviewer must see a violation first."""
    if not plan.findings:
        return f"{md_text(checked_note(plan))}\n\n" if plan.policies else ""
    errors = len(plan.policy_errors)
    if errors:
        alert = (
            f"> [!CAUTION]\n> **{plural(errors, 'policy violation')}:** `pisync apply` refuses"
            " this plan until they are fixed (`--force` does not override them).\n\n"
        )
    else:
        alert = "> [!WARNING]\n> **Policy warnings:** they do not block the plan.\n\n"
    ordered = [*plan.policy_errors, *(f for f in plan.findings if f.severity != "error")]
    items = [_md_finding(f) for f in ordered]
    return "### Policy\n\n" + alert + _capped(items, limit // 5, "policy findings")


def _md_finding(finding: PolicyFinding) -> str:
    mark = "⛔" if finding.severity == "error" else "⚠️"
    where = "" if finding.source is None else f" at {md_code(str(finding.source))}"
    return f"- {mark} {md_code(finding.policy)}{where}: {md_text(finding.message)}\n"


def _md_access_item(change: AccessChange, action: Action | None) -> str:
    sentence = access_sentence(change, action, _MD_NAMES)
    why = why_line(change, _MD_NAMES, md_text)
    below = "" if why is None else f"  - Why: {why}\n"
    if change.escalation:
        return f"- ⚠️ **Privilege escalation:** {sentence}\n{below}"
    return f"- {sentence}\n{below}"


def _md_expiry_item(expiry: Expiry) -> str:
    sentence, warn = expiry_sentence(expiry, _MD_NAMES)
    return f"- ⚠️ **{sentence}**\n" if warn else f"- {sentence}\n"


def _capped(items: Sequence[str], budget: int, what: str) -> str:
    """A list section of at most ``budget`` characters, with a note for what was left out."""
    if sum(map(len, items)) <= budget:
        return "".join(items) + "\n"
    shown = _fit(items, budget - len(_md_more(len(items), what)))
    return "".join(items[:shown]) + _md_more(len(items) - shown, what) + "\n"


def _md_more(count: int, what: str) -> str:
    return f"- … {count} more {what} not shown; see the JSON plan\n"


def _md_more_changes(count: int) -> str:
    noun = "change" if count == 1 else "changes"
    return f"… {count} more {noun} not shown; run pisync plan locally or see the JSON plan\n"


def _fit(items: Sequence[str], budget: int) -> int:
    """How many leading items fit in ``budget`` characters."""
    used = 0
    for i, item in enumerate(items):
        used += len(item)
        if used > budget:
            return i
    return len(items)


def _md_details(change: Change) -> str:
    rows = field_rows(change)
    width = name_width(rows)
    symbol = change.action.symbol
    if rows:
        body = ["".join(t for t, _ in row_segments(r, width, r.symbol or "+")) for r in rows]
    else:
        body = [f"{symbol} {heading(change)}"]
    text = "\n".join(body)
    fence = md_fence(text)
    summary = html_text(f"{symbol} {heading(change)}")
    return (
        f"<details><summary><code>{summary}</code></summary>\n\n"
        f"{fence}diff\n{text}\n{fence}\n\n</details>\n\n"
    )
