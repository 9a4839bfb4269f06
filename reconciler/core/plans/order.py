"""The order a plan's changes apply in. Pure.

Order (:func:`change_order`), and why:

1. roles created or updated — users may reference them, and sync rejects unknown roles;
2. users created or updated — a new user after the new user named as its ``parent``;
3. users disabled or deleted — after every write that could still need them (a parent);
4. roles deleted — last, when no user written before can still reference them.

Within a phase, changes are sorted by key (casefolded), so the same inputs always give the
same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from reconciler.core.plans.plan import Action, Change, Kind

_PHASE = {
    (Kind.ROLE, Action.CREATE): 0,
    (Kind.ROLE, Action.UPDATE): 0,
    (Kind.USER, Action.CREATE): 1,
    (Kind.USER, Action.UPDATE): 1,
    (Kind.USER, Action.DISABLE): 2,
    (Kind.USER, Action.DELETE): 2,
    (Kind.ROLE, Action.DELETE): 3,
    (Kind.ROLE, Action.DISABLE): 3,
}


def phase(change: Change) -> int:
    """The apply phase (0-3) of a change; see the module docstring."""
    return _PHASE[(change.kind, change.action)]


def change_order(changes: Iterable[Change]) -> tuple[Change, ...]:
    """Sort changes into apply order: phase, then parents before children, then key."""
    items = list(changes)
    depth = parent_depths(items)
    return tuple(sorted(items, key=lambda c: (phase(c), _depth(c, depth), c.key.casefold(), c.key)))


def _depth(change: Change, depth: Mapping[str, int]) -> int:
    return depth.get(change.key, 0) if change.kind is Kind.USER else 0


def parent_depths(changes: Sequence[Change]) -> dict[str, int]:
    """Depth of each created user in the chain of created parents (0 = parent not created)."""
    parents = {
        c.key: str(c.desired.get("parent") or "").upper()
        for c in changes
        if c.kind is Kind.USER and c.action is Action.CREATE
    }
    depth: dict[str, int] = {}

    def walk(key: str, seen: frozenset[str]) -> int:
        if key in depth:
            return depth[key]
        parent = parents.get(key, "")
        d = 0 if parent not in parents or parent in seen else 1 + walk(parent, seen | {key})
        depth[key] = d
        return d

    for key in parents:
        walk(key, frozenset())
    return depth
