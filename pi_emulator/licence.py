"""Licence caps (reference S16, §2.2): how many enabled users of each kind the server may hold.

A licence caps the number of users per user type, lite users and users in total. Which users
count is [G]: enabled users only (S11: disabled users do not count), the super admin
included; a lite user counts as lite, not in its user type; every enabled user counts in
``total``. Going over a cap on create or update is an error [G]: a sync that would raise a
count above its cap is refused whole (400, nothing changed); one that leaves a count where it
was, or lowers it, passes even while the count is over its cap (a licence lowered later).

The store keeps the counts up to date on every write (``Usage``), so checking a request costs
only its own users, whatever the number of users on the server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

from pi_emulator.errors import bad_request
from pi_emulator.model import UserRecord

#: user type id -> its licence bucket (reference §2.2 user types)
TYPE_BUCKETS: Final = {
    0: "administrators",
    1: "designers",
    2: "chart_explorers",
    3: "users",
    4: "chart_viewers",
}
#: every bucket a licence may cap, with how a message describes it
BUCKETS: Final = {
    "administrators": "administrators (userTypeId 0)",
    "designers": "designers (userTypeId 1)",
    "chart_explorers": "chart explorers (userTypeId 2)",
    "users": "users (userTypeId 3)",
    "chart_viewers": "chart viewers (userTypeId 4)",
    "lite": "lite users",
    "total": "enabled users in total",
}


def buckets_of(record: UserRecord) -> tuple[str, ...]:
    """The buckets one user counts in: none while disabled."""
    fields = record.fields
    if not fields["clientEnabled"]:
        return ()
    kind = "lite" if fields["lite"] else TYPE_BUCKETS[fields["userTypeId"]]
    return (kind, "total")


class Usage:
    """Enabled users per bucket, kept up to date by the store."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def replace(self, old: UserRecord | None, new: UserRecord | None) -> None:
        if old is not None:
            self.counts.subtract(buckets_of(old))
        if new is not None:
            self.counts.update(buckets_of(new))

    def check(
        self,
        changes: Iterable[tuple[UserRecord | None, UserRecord]],
        caps: Mapping[str, int],
    ) -> None:
        """400 if the ``(old, new)`` records would raise a count above its cap."""
        if not caps:
            return
        delta: Counter[str] = Counter()
        for old, new in changes:
            if old is not None:
                delta.subtract(buckets_of(old))
            delta.update(buckets_of(new))
        problems = [
            f"the licence allows {cap} {BUCKETS[bucket]} and this request would make "
            f"{self.counts[bucket] + delta[bucket]}"
            for bucket, cap in caps.items()
            if delta[bucket] > 0 and self.counts[bucket] + delta[bucket] > cap
        ]
        if problems:
            raise bad_request(
                "licence exceeded: "
                + "; ".join(problems)
                + ": disable users of that kind first, or use a larger licence"
            )
