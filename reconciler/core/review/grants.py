"""Grants: the units of access a review shows, a reviewer decides on and a revocation removes.
Pure.

A user's grants are its type, whether it is enabled, each login method it may use (password,
external), and each role, privilege and category granted to it directly (what a role brings
is part of that role's grant). Each grant is named by a *resource*: ``kind:name``, e.g.
``role:Finance Viewer``, ``privilege:editUsers``, ``type:administrator``, ``enabled:true``,
``login:password``.

Provenance asks which commit introduced a grant's current value, so a grant also has a *key*
(:data:`GrantKey`): what identifies it in a YAML entry whatever its value (``("type", "")``,
``("role", "finance viewer")``) — role and category names are compared ignoring case, as the
server does. :func:`declared_grants` reads a user's declared grants from its
:class:`~reconciler.core.model.values.UserSpec`; :func:`grants_of_entry` from a parsed YAML entry
(with the line of each, for ``git blame``). ``review_by`` of the grant metadata is tracked the
same way: the commit that last set it is the entry's last review.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from reconciler.core.model.values import UserRecord, UserSpec
from reconciler.core.yamlfile.positions import SHIFT, PosDict, PosList

#: The kinds of grant, in the order a user's grants are listed.
KINDS: Final[tuple[str, ...]] = ("type", "enabled", "login", "role", "privilege", "category")
#: The login methods that are grants (MFA is a requirement, not a way in).
LOGIN_METHODS: Final[tuple[str, ...]] = ("password", "external")
#: The list keys of a user entry and the kind of grant each item is.
LIST_KINDS: Final[Mapping[str, str]] = {
    "roles": "role",
    "privileges": "privilege",
    "categories": "category",
}
#: The YAML key that declares each kind (login: its method under ``login:``).
KIND_KEYS: Final[Mapping[str, str]] = {
    "type": "type",
    "enabled": "enabled",
    "login": "login",
    "role": "roles",
    "privilege": "privileges",
    "category": "categories",
}

GrantKey = tuple[str, str]  # (kind, name as compared: casefolded for roles and categories)
#: The key of the grant metadata's ``review_by`` (when the entry was last reviewed).
REVIEW_BY: Final[GrantKey] = ("review_by", "")


def resource(kind: str, name: str) -> str:
    """``kind:name``, the name a worksheet and a report give a grant."""
    return f"{kind}:{name}"


def split_resource(text: str) -> tuple[str, str] | None:
    """``(kind, name)`` of a resource, or None when it names no kind of grant."""
    kind, colon, name = text.partition(":")
    kind = kind.strip().casefold()
    if not colon or kind not in KINDS or not name.strip():
        return None
    return kind, name.strip()


def grant_key(kind: str, name: str) -> GrantKey:
    """The key of a grant: scalar kinds by kind alone (their value may change), list kinds
    by name (roles and categories ignoring case), login by method."""
    if kind in ("type", "enabled"):
        return (kind, "")
    if kind in ("role", "category"):
        return (kind, name.casefold())
    return (kind, name)


def live_grants(
    record: UserRecord, roles: tuple[str, ...], categories: tuple[str, ...]
) -> Iterator[tuple[str, str]]:
    """``(kind, name)`` of each grant a live user holds: ``roles`` held and ``categories``
    granted directly (as the review names them), the rest from the record."""
    kind = record.get("type")
    if kind is not None:
        yield "type", str(kind)
    yield "enabled", "false" if record.get("enabled") is False else "true"
    for method in LOGIN_METHODS:
        if record.get(f"login.{method}") is True:
            yield "login", method
    for role in roles:
        yield "role", role
    for privilege in sorted(record.get("privileges") or ()):
        yield "privilege", privilege
    for category in categories:
        yield "category", category


def declared_grants(spec: UserSpec) -> dict[GrantKey, object]:
    """The grants a user's entry declares, each with its value (``True`` for an item of a
    list; login methods with their flag, so a method turned off is a changed value), and
    ``review_by`` when set."""
    fields = spec.fields
    out: dict[GrantKey, object] = {}
    if "type" in fields:
        out[("type", "")] = fields["type"]
    if "enabled" in fields:
        out[("enabled", "")] = fields["enabled"]
    for method in LOGIN_METHODS:
        if f"login.{method}" in fields:
            out[("login", method)] = fields[f"login.{method}"]
    for key, kind in LIST_KINDS.items():
        for name in fields.get(key) or ():
            out[grant_key(kind, name)] = True
    if spec.meta.review_by is not None:
        out[REVIEW_BY] = spec.meta.review_by
    return out


def grants_of_entry(entry: PosDict, shift: int = 1) -> dict[GrantKey, tuple[object, int]]:
    """The grants a parsed YAML entry declares, each with its value (as
    :func:`declared_grants` gives it) and the line its value is written on: 0-based line
    numbers of the document plus ``shift`` (1 for a whole file; for an entry parsed on its
    own, what puts its lines back at their place in the file). Values the schema would
    refuse are left out (a file with them does not load)."""
    out: dict[GrantKey, tuple[object, int]] = {}

    def line(packed: int) -> int:
        return (packed >> SHIFT) + shift

    vpos = entry._vpos
    kind = entry.get("type")
    if isinstance(kind, str):
        out[("type", "")] = (kind, line(vpos["type"]))
    enabled = entry.get("enabled")
    if isinstance(enabled, bool):
        out[("enabled", "")] = (enabled, line(vpos["enabled"]))
    login = entry.get("login")
    if isinstance(login, PosDict):
        for method in LOGIN_METHODS:
            flag = login.get(method)
            if isinstance(flag, bool):
                out[("login", method)] = (flag, line(login._vpos[method]))
    for key, list_kind in LIST_KINDS.items():
        items = entry.get(key)
        if isinstance(items, PosList):
            for i, name in enumerate(items):
                if isinstance(name, str):
                    out.setdefault(grant_key(list_kind, name), (True, line(items._ipos[i])))
    controls = entry.get("pisync")
    if isinstance(controls, PosDict) and controls.get("review_by") is not None:
        out[REVIEW_BY] = (str(controls["review_by"]), line(controls._vpos["review_by"]))
    return out


def same_value(a: object, b: object) -> bool:
    """Whether two declared values are the same grant value (dates as text)."""
    return a == b or (isinstance(a, str) and isinstance(b, str) and a.strip() == b.strip())


def entry_usercode(entry: Mapping[str, Any]) -> str | None:
    """The upper-case usercode of a user entry, or None when it has none."""
    code = entry.get("usercode")
    return code.upper() if isinstance(code, str) else None
