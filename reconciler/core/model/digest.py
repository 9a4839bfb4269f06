"""Digests: sha256 of a secret's value (secrets are compared by digest, never kept), and the
fingerprint of a live object a plan was made against (a saved plan is stale when it differs).
One helper for the core and the adapter."""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.core.model.values import LiveRole, LiveUser, ServerCopy, canonical_json


def sha256(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint(obj: Any) -> str:
    """sha256 of the canonical JSON of a live object (sorted keys, no whitespace)."""
    return fingerprint_of_text(obj.text if isinstance(obj, ServerCopy) else canonical_json(obj))


def fingerprint_of_text(text: str) -> str:
    """:func:`fingerprint` of an object whose canonical JSON ``text`` already is."""
    return "sha256:" + sha256(text)


class Hasher:
    """:func:`fingerprint` of an object whose canonical JSON (UTF-8) is given in pieces, in
    order: a large one is never held whole."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self._digest.update(chunk)

    def fingerprint(self) -> str:
        return "sha256:" + self._digest.hexdigest()


def live_fingerprint(user: LiveUser) -> str:
    """The fingerprint of what was read: the server's copy when read, else the record."""
    if user.fingerprint is not None:
        return user.fingerprint
    return fingerprint(user.server_copy if user.server_copy is not None else dict(user.record))


def role_fingerprint(role: LiveRole) -> str:
    """The fingerprint of a live role: the server's copy of it (its fields if none)."""
    return fingerprint(role.server_copy if role.server_copy is not None else dict(role.fields))
