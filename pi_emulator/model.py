"""The emulator's records. All frozen: an update replaces a record, never mutates it.

Immutability is what lets the persister serialise a snapshot (a shallow copy of the record
lists) in a worker thread while requests keep changing the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Variable:
    name: str
    value: str
    is_secure: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Restriction:
    connection: str
    column: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRecord:
    """One user. ``fields`` holds every stored ``user`` field (wire.STORED_FIELDS).

    ``fields`` is a plain dict for speed; nothing mutates it after construction.
    """

    id: int
    usercode: str
    fields: Mapping[str, Any]
    parent_id: int | None
    password: str | None
    role_ids: tuple[int, ...]
    category_ids: tuple[int, ...]
    variables: tuple[Variable, ...]
    restrictions: tuple[Restriction, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    id: int
    name: str
    description: str
    category_ids: tuple[int, ...]
    privileges: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    id: int
    description: str
    parent_id: int | None
    label: str | None
    help_text: str | None
    objects_position: str
    cascade_filters: bool
