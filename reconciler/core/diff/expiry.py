"""Expiring access: users whose access ends within ``plan.expiring_days``, or already ended
while the account is still enabled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from reconciler.core.diff.prune import in_prune_scope
from reconciler.core.model.config import Config
from reconciler.core.model.values import LiveState
from reconciler.core.plans.plan import Expiry


def expiring(
    resolved: Mapping[str, Mapping[str, Any]],
    live: LiveState,
    config: Config,
    today: dt.date | None,
    *,
    skip: set[str],
    only: frozenset[str],
) -> tuple[Expiry, ...]:
    """Users in scope whose access ends within ``expiring_days`` (or ended, still enabled)."""
    if today is None:
        return ()
    out = []
    days_to: dict[str, int | None] = {}  # each distinct date once (100,000 users share a few)
    for code in sorted(resolved.keys() | live.users.keys()):
        if code in skip or (only and code not in only):
            continue
        fields = resolved.get(code, {})
        current = live.users.get(code)
        record = current.record if current is not None else {}
        expires = fields["expires"] if "expires" in fields else record.get("expires")
        enabled = fields["enabled"] if "enabled" in fields else record.get("enabled", True)
        if not expires or (
            code not in resolved and current is not None and not in_prune_scope(current, config)
        ):
            continue
        text = str(expires)[:10]
        if text not in days_to:
            try:
                days_to[text] = (dt.date.fromisoformat(text) - today).days
            except ValueError:
                days_to[text] = None
        days = days_to[text]
        if days is None:
            continue
        if days <= config.expiring_days and (days >= 0 or enabled):
            out.append(
                Expiry(usercode=code, expires=str(expires)[:10], days=days, enabled=bool(enabled))
            )
    return tuple(out)
