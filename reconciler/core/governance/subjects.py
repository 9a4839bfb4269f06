"""What the policies read of each user: a :class:`Subject`, in one of three views. Pure.

Each user is reduced to a :class:`Subject` — the few fields the rules read — in one of three
views (:class:`View`): **desired** (``pisync validate``, offline: what the files declare; a key
an entry omits counts as not guaranteed), **plan** (each declared user as it will be after the
plan) and **live** (``pisync review``: every user as the server has it today).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, NamedTuple

from reconciler.core.governance.access import RoleDefs
from reconciler.core.model.values import NO_GRANT, Grant, SourcePos, UserSpec, grant_of

ADMINISTRATOR = "administrator"


class View(Enum):
    """Which state the subjects describe (the messages word each differently)."""

    DESIRED = "desired"
    PLAN = "plan"
    LIVE = "live"


class Subject(NamedTuple):
    """What the policies read of one user.

    A named tuple rather than a frozen dataclass: validate makes one per user (100,000 of
    them, and again from the cache), and a tuple is built several times faster. The entry's
    place is kept as numbers (:attr:`source` makes the SourcePos when a message needs it).
    ``gains`` (plan view only) is the escalating access the plan gives the user, in the words
    of :func:`escalations`; None judges the access the user has.
    """

    usercode: str
    type: str | None = None
    enabled: bool = True
    expires: str | None = None
    mfa: bool = False
    email: str | None = None
    #: as written or held (a tuple: the rules only ask set questions of it, and a tuple is
    #: cheaper to build, to cache and to send between processes than a frozenset)
    privileges: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    grant: Grant = NO_GRANT
    super_admin: bool = False
    file: str | None = None
    line: int = 0
    col: int = 0
    entry: int | None = None  # the entry's index in its file's users: list (validate)
    gains: tuple[str, ...] | None = None

    @property
    def key_path(self) -> str:
        """``users[3]`` (validate), ``users[JSMITH]`` (plan, review), or ``""`` (no entry)."""
        if self.entry is not None:
            return f"users[{self.entry}]"
        return f"users[{self.usercode}]" if self.file is not None else ""

    @property
    def administrator(self) -> bool:
        return self.super_admin or self.type == ADMINISTRATOR

    @property
    def source(self) -> SourcePos | None:
        if self.file is None:
            return None
        return SourcePos(file=self.file, line=self.line, col=self.col)


def subject_of_record(
    usercode: str,
    record: Mapping[str, Any],
    *,
    grant: Grant = NO_GRANT,
    super_admin: bool = False,
    source: SourcePos | None = None,
    gains: tuple[str, ...] | None = None,
) -> Subject:
    """A subject from a canonical record (live, or live with a plan's managed values)."""
    return Subject(
        usercode=usercode,
        type=record.get("type"),
        enabled=record.get("enabled") is not False,
        expires=_date_text(record.get("expires")),
        mfa=record.get("login.mfa") is True,
        email=record.get("email") or None,
        privileges=tuple(record.get("privileges") or ()),
        roles=tuple(str(r) for r in record.get("roles") or ()),
        grant=grant,
        super_admin=super_admin,
        file=None if source is None else source.file,
        line=0 if source is None else source.line,
        col=0 if source is None else source.col,
        gains=gains,
    )


def subject_of_entry(
    entry: Mapping[str, Any], file: str, line: int, col: int, index: int
) -> Subject | None:
    """The desired view of a schema-valid user entry (None for ``pisync: {ignore: true}``).

    What the entry omits is not guaranteed: no ``login.mfa`` is no MFA, no ``expires`` no
    expiry, no ``type`` an unknown type, no ``enabled`` enabled.
    """
    controls = entry.get("pisync")
    grant = NO_GRANT
    if controls:
        if controls.get("ignore") is True:
            return None
        grant = grant_of(controls)
    login = entry.get("login")
    expires = entry.get("expires")
    privileges = entry.get("privileges")
    roles = entry.get("roles")
    # positional, straight to the tuple: this runs once per user of a validate
    return _new(
        Subject,
        (
            str(entry["usercode"]).upper(),
            entry.get("type"),
            entry.get("enabled") is not False,
            str(expires)[:10] if expires else None,
            login is not None and login.get("mfa") is True,
            entry.get("email"),
            tuple(privileges) if privileges else (),
            tuple(roles) if roles else (),
            grant,
            False,
            file,
            line,
            col,
            index,
            None,
        ),
    )


_new = tuple.__new__


def subject_of_spec(spec: UserSpec, index: int) -> Subject | None:
    """The desired view of a built user (the same as :func:`subject_of_entry` of its entry)."""
    if spec.ignore:
        return None
    fields = spec.fields
    return Subject(
        usercode=spec.usercode,
        type=fields.get("type"),
        enabled=fields.get("enabled") is not False,
        expires=_date_text(fields.get("expires")),
        mfa=fields.get("login.mfa") is True,
        email=fields.get("email"),
        privileges=tuple(fields.get("privileges") or ()),
        roles=tuple(fields.get("roles") or ()),
        grant=spec.meta,
        file=None if spec.source is None else spec.source.file,
        line=0 if spec.source is None else spec.source.line,
        col=0 if spec.source is None else spec.source.col,
        entry=index,
    )


def role_def_of_entry(entry: Mapping[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A schema-valid role entry as a role definition: (name, categories, privileges)."""
    return (
        str(entry["name"]),
        tuple(entry.get("categories") or ()),
        tuple(entry.get("privileges") or ()),
    )


def role_defs(definitions: Iterable[tuple[str, tuple[str, ...], tuple[str, ...]]]) -> RoleDefs:
    """Role definitions by casefolded name (the first declaration of a name wins)."""
    out: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    for definition in definitions:
        out.setdefault(definition[0].casefold(), definition)
    return out


def _date_text(value: object) -> str | None:
    return str(value)[:10] if value else None
