"""Frozen values the core passes around: desired state, live state and their parts.

A *user record* is the canonical, comparable form of a user that both sides are reduced to:
a mapping from a field name of :data:`USER_FIELDS` to a canonical value (strings, bools,
``None``, and sorted tuples for the set-like keys). Desired users carry only the fields the
YAML writes (managed fields); live users carry all of them. The diff compares the two
field by field, so "a key you omit keeps its live value" falls out of the representation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

#: Canonical user fields in display order (SPEC §2.1 keys; ``login`` flattened).
USER_FIELDS: tuple[str, ...] = (
    "forenames",
    "surname",
    "email",
    "type",
    "enabled",
    "lite",
    "parent",
    "organisation",
    "theme",
    "expires",
    "login.password",
    "login.external",
    "login.mfa",
    "privileges",
    "roles",
    "categories",
    "variables",
    "restrictions",
)
#: Fields whose value is a sorted tuple compared as a set.
SET_FIELDS: frozenset[str] = frozenset(
    {"privileges", "roles", "categories", "variables", "restrictions"}
)
#: Role fields in display order.
ROLE_FIELDS: tuple[str, ...] = ("description", "categories", "privileges")

UserRecord = Mapping[str, Any]
_INDEX = {name: i for i, name in enumerate(USER_FIELDS)}
_ABSENT: Any = object()


class Record(Mapping[str, Any]):
    """A user record kept as one tuple in :data:`USER_FIELDS` order: what a live user's
    fields take in memory (a tenth of a dict's ~1.2 KB; 100,000 of them are held during a
    plan). Read like a mapping; fields it does not hold are absent."""

    __slots__ = ("_values",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        values = [_ABSENT] * len(USER_FIELDS)
        for name, value in fields.items():
            values[_INDEX[name]] = value
        self._values = tuple(values)

    def __getitem__(self, key: str) -> Any:
        at = _INDEX.get(key)
        if at is None or self._values[at] is _ABSENT:
            raise KeyError(key)
        return self._values[at]

    def get(self, key: str, default: Any = None) -> Any:
        at = _INDEX.get(key)
        if at is None:
            return default
        value = self._values[at]
        return default if value is _ABSENT else value

    def __contains__(self, key: object) -> bool:
        at = _INDEX.get(key) if isinstance(key, str) else None
        return at is not None and self._values[at] is not _ABSENT

    def __iter__(self) -> Iterator[str]:
        return (n for n, v in zip(USER_FIELDS, self._values, strict=True) if v is not _ABSENT)

    def __len__(self) -> int:
        return sum(1 for v in self._values if v is not _ABSENT)

    def __repr__(self) -> str:
        return f"Record({dict(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Record, (dict(self),))


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class SourcePos:
    """A place in a file; ``line`` and ``col`` are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Variable:
    """A user variable: a clear ``value``, or a secret read from the environment ``env``.

    ``digest`` is the sha256 of a secret's value (filled by the shell when it reads the
    environment, and by the adapter for live secure values): secrets are compared by digest
    and never rendered.
    """

    name: str
    value: str | None = None
    env: str | None = None
    secure: bool = False
    digest: str | None = field(default=None, compare=True)

    @property
    def sensitive(self) -> bool:
        return self.secure or self.env is not None

    def comparable(self) -> tuple[str, str | None, bool]:
        """What equality means for a variable: name, value (or its digest), secure flag."""
        if self.sensitive:
            return (self.name, self.digest, self.secure)
        return (self.name, self.value, self.secure)


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Restriction:
    connection: str
    column: str
    values: tuple[str, ...]


#: The grant metadata keys of a user's ``pisync:`` key, in display order.
GRANT_KEYS: tuple[str, ...] = ("reason", "ticket", "owner", "review_by")


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """Why a user has its access: the metadata of its ``pisync:`` key (SPEC §2.1).

    Never sent to the server and never diffed; plans show it beside the user's access change
    and access reviews beside the user. ``review_by`` is an ISO date.
    """

    reason: str | None = None
    ticket: str | None = None
    owner: str | None = None
    review_by: str | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, k) is not None for k in GRANT_KEYS)

    def get(self, key: str) -> str | None:
        """The value of the metadata key ``key`` (one of :data:`GRANT_KEYS`)."""
        value: str | None = getattr(self, key)
        return value

    def to_dict(self) -> dict[str, str | None]:
        return {k: getattr(self, k) for k in GRANT_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        return cls(**{k: None if data.get(k) is None else str(data[k]) for k in GRANT_KEYS})


#: The grant of a user whose entry records none (shared: most users have none).
NO_GRANT = Grant()


def grant_of(controls: Mapping[str, Any]) -> Grant:
    """The grant metadata of a schema-valid ``pisync:`` mapping (:data:`NO_GRANT` for none)."""
    if not controls or not any(k in controls for k in GRANT_KEYS):
        return NO_GRANT
    return Grant.from_dict(controls)


@dataclass(frozen=True, slots=True, kw_only=True)
class VarUse:
    """A ``{var: NAME}`` in an entry: which value of a server it stands for, and where."""

    var: str
    key: str  # the user key it is in (``variables``, ``restrictions``)
    pos: SourcePos


@dataclass(frozen=True, slots=True, kw_only=True)
class Marks:
    """What an entry says about the servers of a fleet (``servers:`` in pisync.yaml): which
    servers get it, that a server leaves it out, the ``{var: NAME}`` values it holds.

    Nearly every entry says none of it and shares :data:`NO_MARKS`. ``templates`` keeps, for
    each key holding a ``{var: NAME}`` (``variables``, ``restrictions``), the key's value as
    written, so that each server's values can be put in before the key is built; ``controls``:
    the entry writes ``pisync:`` settings of its own (``prune``, ``ignore``, the why), which an
    overlay's entry replaces whole.
    """

    servers: tuple[str, ...] = ()  # ``pisync.servers``: names or globs
    servers_at: tuple[SourcePos, ...] = ()  # where each of ``servers`` is written
    exclude: SourcePos | None = None  # where ``pisync.exclude: true`` is written
    controls: bool = False
    templates: Mapping[str, Any] = field(default_factory=dict)
    var_uses: tuple[VarUse, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.servers or self.exclude or self.controls or self.var_uses)


#: The marks of an entry that says nothing about servers (nearly all of them).
NO_MARKS = Marks()


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSpec:
    """One declared user: its managed fields, why it has them, and where it was declared."""

    usercode: str  # upper case
    fields: UserRecord
    source: SourcePos | None = None
    #: positions of each written key (``"roles"``, ``"login.mfa"``…), for plan-time errors
    key_pos: Mapping[str, SourcePos] = field(default_factory=dict)
    prune: bool = True
    ignore: bool = False
    meta: Grant = NO_GRANT
    #: what the entry says about the servers of a fleet (:class:`Marks`): where the user
    #: goes, not what it is, so two specs of the same user compare equal whatever it says
    marks: Marks = field(default=NO_MARKS, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSpec:
    name: str
    fields: Mapping[str, Any]  # managed role fields (description, categories, privileges)
    source: SourcePos | None = None
    marks: Marks = field(default=NO_MARKS, compare=False)  # as UserSpec.marks


@dataclass(frozen=True, slots=True, kw_only=True)
class DesiredState:
    users: tuple[UserSpec, ...] = ()
    roles: tuple[RoleSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerCopy:
    """What the server sent for one user or role, kept so that a write can be merged onto it.

    Opaque here: only the adapter (``reconciler.pi``) makes one or reads inside it; the core
    only fingerprints it. Kept as canonical JSON text (sorted keys, no spaces): a user's copy
    is needed again only for the few users a plan changes, but it is read for every declared
    user, and as text it takes about a fifth of the memory of the parsed dicts (100,000 users
    fit in well under a gigabyte). ``text`` is exactly what
    :func:`reconciler.core.model.digest.fingerprint` hashes.
    """

    text: str


def canonical_json(obj: Any) -> str:
    """The one canonical JSON text of a value: sorted keys, no whitespace, UTF-8 as is.

    orjson: a tenth of ``json.dumps(sort_keys=True)``'s time, and this runs once for every
    payload a plan reads (measured: 7% of a plan's CPU with json).
    """
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=str).decode()


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveUser:
    """A live user: its canonical record, and the server's copy pisync merges writes onto."""

    usercode: str
    #: the server's id, as a string (ids may be numbers or strings); None for a user the
    #: list left out, known only from its payload
    id: str | None
    record: UserRecord
    #: the user as the server sent it (its payload), when a write will be merged onto it (a
    #: plan keeps it only for the users it changes: at 100,000 users the texts take ~230 MB)
    server_copy: ServerCopy | None = None
    #: the fingerprint of the payload as read (None when only the list object was read)
    fingerprint: str | None = None
    super_admin: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveRole:
    name: str
    id: str
    fields: Mapping[str, Any]
    #: the role as the server sent it (an update is merged onto it)
    server_copy: ServerCopy | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    name: str
    id: str
    parent_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveState:
    users: Mapping[str, LiveUser]  # by upper-case usercode
    roles: Mapping[str, LiveRole]  # by casefolded name
    categories: Mapping[str, Category]  # by casefolded name
    signed_in_as: str | None = None  # upper-case usercode of the account pisync uses
    #: declared users the server's list left out but its payload lookup found (sorted)
    unlisted: tuple[str, ...] = ()
    #: False: only some users were read (a partial plan), ``users`` is not the whole server
    complete: bool = True
    #: the server's user count when ``complete`` is False (None: the server does not say)
    total_users: int | None = None
    #: every administrator of the server is in ``users`` (always so when ``complete``)
    all_administrators: bool = False
