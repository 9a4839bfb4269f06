"""A user sync as this emulated server stores it: the planned records (sync.py), changed by
the store quirks in force (quirks.py), checked against the licence (licence.py), committed.

``POST /users/sync`` and a JWT login's payload claim both write through here, so a quirk or a
licence applies to either alike. Seeds do not: they are the server's state to begin with.
"""

from __future__ import annotations

from pi_emulator import quirks
from pi_emulator.model import UserRecord
from pi_emulator.shapes import ShapeConfig
from pi_emulator.store import Store
from pi_emulator.sync import plan_sync


def sync_users(
    store: Store, actor: UserRecord, body: object, shape: ShapeConfig
) -> list[UserRecord]:
    """Validate, store and return the users of one sync request (all or nothing)."""
    records = quirks.as_stored(store, actor, plan_sync(store, actor, body), shape.store_quirks)
    store.licence_usage.check(((store.user(r.id), r) for r in records), shape.licence)
    store.put_users(records)
    return records
