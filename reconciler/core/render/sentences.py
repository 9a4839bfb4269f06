"""The plan's sentences shared by its text and Markdown forms: effective access, expiry,
how a plan is partial, the policy note. Names are written by a :class:`Names` (text quotes
roles; Markdown uses code spans). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from reconciler.core.model.values import Grant
from reconciler.core.plans.plan import AccessChange, Action, Expiry, Kind, Plan
from reconciler.core.render.markup import bare, printable

NO_CHANGES: Final = "No changes. Panintelligence matches the desired state."


# --- effective access and expiry, in words -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """How each kind of name is written: text quotes roles; Markdown uses code spans."""

    user: Callable[[str], str]
    role: Callable[[str], str]
    item: Callable[[str], str]


_PLURALS: Final = {"role": "roles", "category": "categories", "privilege": "privileges"}


def _listed(names: Iterable[str], fmt: Callable[[str], str]) -> str:
    return ", ".join(fmt(n) for n in names)


def _counted(noun: str, names: Sequence[str], fmt: Callable[[str], str]) -> str:
    """``category Sales`` / ``categories Budgets, Finance``."""
    return f"{noun if len(names) == 1 else _PLURALS[noun]} {_listed(names, fmt)}"


def _type_parts(change: AccessChange, action: Action | None, n: Names) -> list[str]:
    if change.type_change is None:
        return []
    old, new = change.type_change
    if new is None:
        return [f"is {'deleted' if action is Action.DELETE else 'disabled'}, losing all access"]
    if old is None:
        verb = "is created" if action is Action.CREATE else "is enabled"
        return [f"{verb} as {n.item(new)}"]
    return [f"becomes {n.item(new)} (was {n.item(old)})"]


def _gained_roles(change: AccessChange, n: Names) -> str:
    def one(role: str) -> str:
        cats = change.role_categories.get(role, ())
        return n.role(role) + (f" ({_counted('category', cats, n.item)})" if cats else "")

    return f"gains {_counted('role', change.gained_roles, one)}"


def access_sentence(change: AccessChange, action: Action | None, n: Names) -> str:
    """``JSMITH gains role "X" (categories A, B); loses category C; gains privilege p``."""
    parts = _type_parts(change, action, n)
    if change.gained_roles:
        parts.append(_gained_roles(change, n))
    if change.lost_roles:
        parts.append(f"loses {_counted('role', change.lost_roles, n.role)}")
    explained = {
        c.casefold() for r in change.gained_roles for c in change.role_categories.get(r, ())
    }
    gained_cats = [c for c in change.gained_categories if c.casefold() not in explained]
    for verb, noun, names in (
        ("gains", "category", gained_cats),
        ("loses", "category", change.lost_categories),
        ("gains", "privilege", change.gained_privileges),
        ("loses", "privilege", change.lost_privileges),
    ):
        if names:
            parts.append(f"{verb} {_counted(noun, names, n.item)}")
    return f"{n.user(change.usercode)} {'; '.join(parts) or 'has unchanged access'}"


def _grant_parts(grant: Grant, n: Names, reason: Callable[[str], str]) -> list[str]:
    """``["<reason>", "ticket SEC-1", "owner ashah", "review by 2027-03-31"]`` (what is set)."""
    parts = [] if grant.reason is None else [reason(grant.reason)]
    for label, value in (
        ("ticket", grant.ticket),
        ("owner", grant.owner),
        ("review by", grant.review_by),
    ):
        if value is not None:
            parts.append(f"{label} {n.item(value)}")
    return parts


def why_line(change: AccessChange, n: Names, reason: Callable[[str], str]) -> str | None:
    """The why of a user's access change: its grant metadata; for an escalation without any,
    ``not recorded`` (a reviewer should ask); otherwise None (nothing to show)."""
    if change.grant:
        return "; ".join(_grant_parts(change.grant, n, reason))
    return "not recorded" if change.escalation else None


def access_order(plan: Plan) -> list[AccessChange]:
    """Escalations first (reviewers look there), otherwise the plan's order."""
    return sorted(plan.access, key=lambda a: not a.escalation)


def user_actions(plan: Plan) -> dict[str, Action]:
    return {c.key: c.action for c in plan.changes if c.kind is Kind.USER}


def expiry_sentence(expiry: Expiry, n: Names) -> tuple[str, bool]:
    """The sentence, and whether it is a warning (expired but still enabled)."""
    who, date = n.user(expiry.usercode), printable(expiry.expires)
    if expiry.days < 0:
        if expiry.enabled:
            return f"{who} expired on {date} but is still enabled", True
        return f"{who} expired on {date} (disabled)", False
    if expiry.days == 0:
        return f"{who} expires today ({date})", False
    unit = "day" if expiry.days == 1 else "days"
    return f"{who} expires in {expiry.days} {unit} ({date})", False


def _targets_note(plan: Plan, fmt: Callable[[str], str], cap: int | None = None) -> str:
    names = _listed(plan.targets[:cap], fmt)
    if cap is not None and len(plan.targets) > cap:
        names += f" and {len(plan.targets) - cap} more"
    return f"partial plan for --target {names}; changes to other objects are not shown."


def _files_note(plan: Plan, fmt: Callable[[str], str]) -> str:
    n = plan.partial_files
    files = f"{n} file{'s' if n != 1 else ''}"
    if plan.changed_since is not None:
        return (
            f"partial plan: {files} changed since {fmt(plan.changed_since)}; users and roles not"
            " declared in them are not considered, except users removed since then, which get"
            " the prune action."
        )
    return f"partial plan: {files}; users and roles not declared in them are not considered."


def partial_sentences(plan: Plan, fmt: Callable[[str], str], cap: int | None = None) -> list[str]:
    """One sentence per way the plan is partial (files, then targets)."""
    notes = [_files_note(plan, fmt)] if plan.partial_files is not None else []
    if plan.targets:
        notes.append(_targets_note(plan, fmt, cap))
    return notes


def partial_notes(plan: Plan) -> list[str]:
    """How the plan is partial, in plain words (empty for a whole plan)."""
    return partial_sentences(plan, bare)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def checked_note(plan: Plan) -> str:
    return f"Policies: none violated (checked: {', '.join(plan.policies)})."
