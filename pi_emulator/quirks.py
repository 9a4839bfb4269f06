"""Store quirks: a server that keeps or returns a user differently from what it was sent.

pisync's writes rest on guesses about the API ([G] items of the reference). A wrong guess does
not fail loudly: the server answers 200 and stores something else. Each quirk here is one such
plausible divergence, so that a client's write verification and ``doctor --write-check`` can
be tested against a server where that guess is wrong. They are server-shape options
(``--store-quirk``, ``store_quirks`` in ``PUT /_emulator/options``); the README lists each
with the reference item it models.

Three kinds: ``as_stored`` changes the records a sync (or a JWT login's payload claim) is
about to store; ``view_of`` picks how records are rendered (render.View); the delete quirks
are applied by the ``DELETE /users/{id}`` handler (``delete_refusal``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from pi_emulator.errors import ApiError
from pi_emulator.model import Restriction, UserRecord
from pi_emulator.render import View
from pi_emulator.store import Store

#: every quirk, with what it does (the README's table says which [G] each one models)
STORE_QUIRKS: Final = {
    "restrictions-first-value": "of several values for one connection and column, only the "
    "first is stored",
    "variables-secure-cleared": "isSecure is not stored: every variable reads back false",
    "variables-secure-masked": "a secure variable's value reads back as ********",
    "expiry-as-timestamp": "userExpirationDate reads back as a timestamp "
    "(2027-01-31T00:00:00.000+00:00)",
    "categories-no-ancestors": "parent categories listed only as ancestors of a listed "
    "category are not stored",
    "roles-case-folded": "userRoles read back in lower case",
    "parent-ignored": "parentIdentifier is ignored: a new user's parent is the caller, an "
    "existing user keeps its parent",
    "sync-additive": "POST /users/sync keeps roles, categories, variables and restrictions "
    "that the payload left out",
    "user-delete-refused": "DELETE /users/{id} answers 405 (no such method)",
    "user-delete-forbidden": "DELETE /users/{id} answers 403 (deleting is not allowed)",
}

MASK: Final = "********"


def view_of(quirks: Iterable[str], *, grouped: bool) -> View:
    """How records are rendered under these quirks and restriction shape."""
    names = frozenset(quirks)
    return View(
        grouped=grouped,
        timestamps="expiry-as-timestamp" in names,
        fold_roles="roles-case-folded" in names,
        mask_secure=MASK if "variables-secure-masked" in names else None,
    )


def as_stored(
    store: Store, actor: UserRecord, records: list[UserRecord], quirks: Iterable[str]
) -> list[UserRecord]:
    """The records a server with these quirks would store instead of ``records``."""
    names = frozenset(quirks)
    if not names:
        return records
    return [_stored(store, actor, record, names) for record in records]


def _stored(
    store: Store, actor: UserRecord, record: UserRecord, names: frozenset[str]
) -> UserRecord:
    old = store.user(record.id)
    if "sync-additive" in names and old is not None:
        record = _with_kept_items(record, old)
    if "parent-ignored" in names:
        record = replace(record, parent_id=old.parent_id if old is not None else actor.id)
    if "restrictions-first-value" in names:
        record = replace(record, restrictions=_first_values(record.restrictions))
    if "variables-secure-cleared" in names:
        cleared = tuple(replace(v, is_secure=False) for v in record.variables)
        record = replace(record, variables=cleared)
    if "categories-no-ancestors" in names:
        ancestors = {a for c in record.category_ids for a in store.category_ancestors(c)}
        leaves = tuple(c for c in record.category_ids if c not in ancestors)
        record = replace(record, category_ids=leaves)
    return record


def _with_kept_items(record: UserRecord, old: UserRecord) -> UserRecord:
    """Sync as if it were additive: the old items first, then the new ones not already there
    (a variable given again takes its new value)."""
    given = {v.name: v for v in record.variables}
    variables = tuple(given.pop(v.name, v) for v in old.variables) + tuple(given.values())
    return replace(
        record,
        role_ids=tuple(dict.fromkeys(old.role_ids + record.role_ids)),
        category_ids=tuple(dict.fromkeys(old.category_ids + record.category_ids)),
        variables=variables,
        restrictions=tuple(dict.fromkeys(old.restrictions + record.restrictions)),
    )


def _first_values(items: tuple[Restriction, ...]) -> tuple[Restriction, ...]:
    first: dict[tuple[str, str], Restriction] = {}
    for item in items:
        first.setdefault((item.connection, item.column), item)
    return tuple(first.values())


def delete_refusal(quirks: Iterable[str], path: str) -> ApiError | None:
    """The answer to ``DELETE /users/{id}`` on a server that does not delete users, if any."""
    names = frozenset(quirks)
    if "user-delete-refused" in names:
        return ApiError(405, f"method DELETE is not allowed on {path}")
    if "user-delete-forbidden" in names:
        return ApiError(
            403, "users cannot be deleted through the API: disable them (clientEnabled false)"
        )
    return None
