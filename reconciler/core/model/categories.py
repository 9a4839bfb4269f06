"""The category tree: each category's ancestors, which the server requires a user to list
with it (a rule of the sync endpoint)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.core.model.values import Category


def ancestors_index(categories: Mapping[str, Category]) -> dict[str, tuple[str, ...]]:
    """casefolded category name -> names of its ancestors, computed once for all users."""
    by_id = {c.id: c for c in categories.values()}
    out: dict[str, tuple[str, ...]] = {}
    for key, cat in categories.items():
        chain: list[str] = []
        seen = {cat.id}
        parent = by_id.get(cat.parent_id) if cat.parent_id is not None else None
        while parent is not None and parent.id not in seen:
            chain.append(parent.name)
            seen.add(parent.id)
            parent = by_id.get(parent.parent_id) if parent.parent_id is not None else None
        out[key] = tuple(chain)
    return out


def with_ancestors(
    names: Iterable[str], ancestors: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The names plus every ancestor, deduplicated case-insensitively, sorted."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
        for parent in ancestors.get(name.casefold(), ()):
            seen.setdefault(parent.casefold(), parent)
    return tuple(sorted(seen.values(), key=lambda s: (s.casefold(), s)))
