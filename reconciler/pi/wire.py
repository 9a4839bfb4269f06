"""The Panintelligence wire format, and every guess (``[G]``) pisync makes about it.

With :mod:`reconciler.pi.endpoints`, the only place that knows JSON field names, paths and
shapes. Each choice the public sources do not establish is marked ``[G]`` with the id of its
open question (U1…U24), and listed in the README's "API compatibility" section, so a
correction against a real server is a change in this package only. Pure: JSON in, model
values out, and back.

Accepted shapes (SPEC quality bar: "accept every shape the reference allows"):

- lists: a bare JSON array, or a page envelope ``{"content": [...], "totalElements": …}``;
- ids: numbers or strings (kept as strings);
- role/category references: a bare string, or an object with ``roleIdentifier`` /
  ``categoryIdentifier`` / ``name`` / ``description`` / ``identifier``;
- restrictions: one element per value ``{dataConnectionIdentifier, columnIdentifier,
  value}`` [G U2], or ``{connection, column, values}``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from reconciler.core.model import intern
from reconciler.core.model.digest import fingerprint_of_text, sha256
from reconciler.core.model.privileges import PRIVILEGES
from reconciler.core.model.privileges import USER_TYPES as TYPES_IN_ORDER
from reconciler.core.model.values import (
    Category,
    LiveRole,
    LiveUser,
    Record,
    Restriction,
    ServerCopy,
    Variable,
    canonical_json,
)
from reconciler.errors import UnexpectedResponse
from reconciler.pi.statuses import printable

#: The ``userTypeId`` of each user type name of the desired state [C §2.2, S8]: the server
#: numbers them 0 to 4 in the order SPEC §2.1 lists them (``core/model/privileges.py``).
USER_TYPES: dict[str, int] = {name: number for number, name in enumerate(TYPES_IN_ORDER)}
USER_TYPE_NAMES: dict[int, str] = {v: k for k, v in USER_TYPES.items()}

#: Names that exist only on the wire (fields, element keys, envelope keys, paths, header
#: schemes): no module outside ``reconciler/pi/`` may contain them (tests/test_architecture.py).
#: Names that are also pisync's own vocabulary (``usercode``, ``email``, the privileges…) are
#: not here: SPEC §2.1 makes them YAML keys.
WIRE_ONLY_NAMES: tuple[str, ...] = (
    "userTypeId",
    "readableUserCode",
    "themeName",
    "parentId",
    "parentIdentifier",
    "orgId",
    "orgIdentifier",
    "ownerOrgId",
    "ownerOrgIdentifier",
    "clientEnabled",
    "superAdmin",
    "allowPasswordLogin",
    "allowExternalLogin",
    "requireMfa",
    "passwordExpired",
    "userExpirationDate",
    "clientPassword",
    "userRoles",
    "userCategories",
    "roleIdentifier",
    "categoryIdentifier",
    "dataConnectionIdentifier",
    "columnIdentifier",
    "isSecure",
    "totalElements",
    "totalPages",
    "pageSize",
    "logInAsUsercode",
    "syncPayload",
    "userSyncPayload",
    "panintelligence.com/claims",
    "Bearer",
    "Basic",
    "/tokens",
    "/users",
    "/roles",
    "/categories",
)

#: Read-only or derived ``user`` fields: never diffed, never sent (SPEC §2.1). [G U22]
READ_ONLY_USER_FIELDS = frozenset(
    {"id", "readableUserCode", "superAdmin", "passwordExpired", "parentId", "orgId", "ownerOrgId"}
)

#: What a new user gets for each field a sync payload omits [G U8] (the S6 example's values,
#: type User). ``pisync import`` writes only values that differ, so files stay short.
NEW_USER_DEFAULTS: dict[str, Any] = {
    "email": None,
    "type": "user",
    "enabled": True,
    "lite": False,
    "organisation": "Dashboard",
    "theme": "piBerry",
    "expires": None,
    "login.password": False,
    "login.external": True,
    "login.mfa": False,
    "privileges": (
        "accessAccount",
        "audit",
        "clientExcludePasswordExpiry",
        "editOwnPassword",
        "logoutEnabled",
        "pdf",
    ),
    "roles": (),
    "categories": (),
    "variables": (),
    "restrictions": (),
}

ROLE_REF_KEYS = ("roleIdentifier", "name", "roleName", "identifier", "description")  # [G U3]
CATEGORY_REF_KEYS = ("categoryIdentifier", "description", "name", "identifier")  # [G U4]


class WireError(UnexpectedResponse, ValueError):
    """A response whose shape the reference does not allow; the message says what and where.
    An unexpected response (exit 1) wherever it is not caught."""


# --- lists and pages ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    total: int | None  # totalElements, when the server says
    last: bool | None  # the envelope's own "last" flag, when present
    enveloped: bool


def page_info(body: Any, what: str) -> Page:
    """A list response: a bare array (older servers) or a ``{content: [...]}`` envelope."""
    if isinstance(body, list):
        return Page(items=body, total=None, last=None, enveloped=False)
    if isinstance(body, Mapping) and isinstance(body.get("content"), list):
        total = body.get("totalElements")
        last = body.get("last")
        return Page(
            items=list(body["content"]),
            total=total if isinstance(total, int) and not isinstance(total, bool) else None,
            last=last if isinstance(last, bool) else None,
            enveloped=True,
        )
    raise WireError(f"{what}: expected a JSON array or an object with a 'content' array")


def ident(value: Any) -> str:
    """An id as a string; ids may be numbers or strings."""
    if isinstance(value, Mapping) and "id" in value:  # an id object, {"id": 5}
        return ident(value["id"])
    if isinstance(value, bool) or value is None:
        raise WireError(f"expected an id (number or string), got {value!r}")
    if isinstance(value, (int, str)):
        return str(value)
    raise WireError(f"expected an id (number or string), got {type(value).__name__}")


def _no_parent(value: Any) -> bool:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value in (None, 0, "0", "")


def _id_or_none(value: Any) -> str | None:
    return None if value is None else ident(value)


# --- users --------------------------------------------------------------------------------


def payload_element(body: Any, usercode: str) -> dict[str, Any]:
    """The one element of a ``GET /users/syncPayload`` answer (an array, or the object)."""
    element = body[0] if isinstance(body, list) and len(body) == 1 else body
    if not isinstance(element, Mapping) or not isinstance(element.get("user"), Mapping):
        raise WireError(f"syncPayload for {usercode}: expected [{{'user': {{…}}, …}}]")
    return dict(element)


def item_key(item: Any, key: str, what: str) -> str:
    """The identity of a list item (``usercode`` upper-cased) [I U21]."""
    if not isinstance(item, Mapping):
        raise UnexpectedResponse(f"{what}: a list item is not an object")
    try:
        return user_code(item) if key == "usercode" else str(item[key])
    except (WireError, KeyError) as exc:
        raise UnexpectedResponse(f"{what}: {exc}") from None


#: What a user's list object contributes once its syncPayload is read (the rest of it is
#: dropped at once: peak memory at 100,000 users).
SUMMARY_KEYS = ("usercode", "id", "superAdmin")


def slim_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in SUMMARY_KEYS if k in summary}


def summary_of(usercode: str) -> dict[str, Any]:
    """The list object of a user the list left out: only what its payload cannot say."""
    return {"usercode": usercode}


def user_code(obj: Mapping[str, Any]) -> str:
    code = obj.get("usercode")
    if not isinstance(code, str) or not code:
        raise WireError(f"a user object has no usercode: keys {sorted(obj)[:8]}")
    return code.upper()


def copy_of(obj: Mapping[str, Any]) -> ServerCopy:
    """The server's object as a :class:`~reconciler.core.model.values.ServerCopy`."""
    return ServerCopy(canonical_json(obj))


def json_of(copy: ServerCopy | None) -> dict[str, Any] | None:
    """The object a :class:`~reconciler.core.model.values.ServerCopy` holds (None for none)."""
    if copy is None:
        return None
    value = orjson.loads(copy.text)
    if not isinstance(value, dict):
        raise WireError("a kept server object is not a JSON object")
    return value


def live_user(
    summary: Mapping[str, Any],
    element: Mapping[str, Any] | None,
    *,
    keep: Callable[[LiveUser], bool] | None = None,
) -> LiveUser:
    """A live user from its ``GET /users`` object and (when read) its syncPayload element.

    The element's fingerprint is always kept; the element itself (the user's
    :class:`~reconciler.core.model.values.ServerCopy`) only when ``keep(user)`` says a write
    will be merged onto it (always, without ``keep``).
    """
    user = element["user"] if element is not None else summary
    record = record_of_element(element) if element is not None else record_from_user(user)
    live = LiveUser(
        usercode=user_code(summary),
        id=_id_or_none(summary.get("id", user.get("id"))),
        record=Record(record),
        super_admin=summary.get("superAdmin") is True or user.get("superAdmin") is True,
    )
    if element is None:
        return live
    text = canonical_json(element)
    kept = ServerCopy(text) if keep is None or keep(live) else None
    return replace(live, server_copy=kept, fingerprint=fingerprint_of_text(text))


def record_of_element(element: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical record of a whole payload element: its ``user`` section and its arrays."""
    record = record_from_user(element["user"])
    record.update(
        roles=_names(element.get("userRoles"), ROLE_REF_KEYS, "userRoles"),
        categories=_names(element.get("userCategories"), CATEGORY_REF_KEYS, "userCategories"),
        variables=variables_from(element.get("variables")),
        restrictions=restrictions_from(element.get("restrictions")),
    )
    return record


def carried_fields(element: Mapping[str, Any]) -> frozenset[str]:
    """The record fields a payload element sets: those whose wire field it holds (a create's
    element leaves the rest to the server's defaults [G U8]). The privileges count only when
    every flag is there."""
    user = element.get("user") or {}
    out = {key for key, name in _SCALARS.items() if name in user}
    if "userTypeId" in user:
        out.add("type")
    if "parentIdentifier" in user:
        out.add("parent")
    if all(p in user for p in PRIVILEGES):
        out.add("privileges")
    out |= {key for key, name in _SECTIONS.items() if name in element}
    return frozenset(out)


#: The record field each array section of a payload element sets.
_SECTIONS = {
    "roles": "userRoles",
    "categories": "userCategories",
    "variables": "variables",
    "restrictions": "restrictions",
}


def stored_element(answer: Any, usercode: str) -> dict[str, Any] | None:
    """The stored payload element of ``usercode`` in a ``POST /users/sync`` answer, when the
    answer carries it [G U6: the array of stored payload elements]; None when the answer is
    something else (the user object, which lacks the arrays, or nothing): read it back."""
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        if (
            isinstance(item, Mapping)
            and isinstance(item.get("user"), Mapping)
            and all(name in item for name in _SECTIONS.values())
            and str(item["user"].get("usercode", "")).upper() == usercode.upper()
        ):
            return dict(item)
    return None


def record_from_user(user: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical scalar fields and privileges from a ``user`` section."""
    type_id = user.get("userTypeId")
    expires = user.get("userExpirationDate")
    return {
        "forenames": user.get("forenames"),
        "surname": user.get("surname"),
        "email": user.get("email") or None,
        "type": USER_TYPE_NAMES.get(type_id) if isinstance(type_id, int) else None,
        "enabled": user.get("clientEnabled") is not False,
        "lite": user.get("lite") is True,
        "parent": _text(_upper(user.get("parentIdentifier"))),
        "organisation": _text(user.get("orgIdentifier")),
        "theme": _text(user.get("themeName")),
        "expires": str(expires)[:10] if expires else None,  # [G U10] ISO date
        "login.password": user.get("allowPasswordLogin") is True,
        "login.external": user.get("allowExternalLogin") is True,
        "login.mfa": user.get("requireMfa") is True,
        "privileges": intern.shared(tuple(p for p in PRIVILEGES if user.get(p) is True)),
    }


def _text(value: Any) -> Any:
    """A value many users share (an organisation, a theme, a parent), interned when text."""
    return intern.text(value) if isinstance(value, str) else value


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def _names(items: Any, keys: Sequence[str], what: str) -> tuple[str, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise WireError(f"{what}: expected an array")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
            continue
        name = next(
            (item[k] for k in keys if isinstance(item, Mapping) and isinstance(item.get(k), str)),
            None,
        )
        if name is None:
            raise WireError(f"{what}: cannot read a name from {_shape(item)}")
        out.append(name)
    return intern.names(tuple(sorted(set(out), key=lambda s: (s.casefold(), s))))


def _shape(item: Any) -> str:
    """What an item the adapter cannot read looks like, for a message: its kind and keys,
    never its values (a variable's may be a secret), printable and bounded."""
    if isinstance(item, Mapping):
        keys = ", ".join(str(k) for k in list(item)[:20])
        return printable(f"an object with the keys {keys}" if keys else "an empty object", 200)
    return "null" if item is None else f"a {type(item).__name__}"


def variables_from(items: Any) -> tuple[Variable, ...]:
    """``[{name, value, isSecure}]`` [G U1]; a secure value is kept only as its digest."""
    out = []
    for item in items or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise WireError(f"variables: cannot read {_shape(item)}")
        value = item.get("value")
        value = "" if value is None else str(value)
        secure = item.get("isSecure", item.get("secure")) is True
        out.append(
            Variable(name=item["name"], digest=sha256(value), secure=True)
            if secure
            else Variable(name=item["name"], value=value)
        )
    return intern.shared(tuple(intern.shared(v) for v in sorted(out, key=lambda v: v.name)))


def restrictions_from(items: Any) -> tuple[Restriction, ...]:
    """Group per-value elements into one Restriction per (connection, column). [G U2]"""
    groups: dict[tuple[str, str], set[str]] = {}
    for item in items or ():
        if not isinstance(item, Mapping):
            raise WireError(f"restrictions: cannot read {_shape(item)}")
        conn = item.get("dataConnectionIdentifier", item.get("connection"))
        col = item.get("columnIdentifier", item.get("column"))
        values = item.get("values", [item.get("value")])
        if not isinstance(conn, str) or not isinstance(col, str) or not isinstance(values, list):
            raise WireError(f"restrictions: cannot read {_shape(item)}")
        groups.setdefault((conn, col), set()).update(str(v) for v in values if v is not None)
    return intern.shared(
        tuple(
            intern.shared(Restriction(connection=c, column=k, values=tuple(sorted(v))))
            for (c, k), v in sorted(groups.items())
        )
    )


def sync_element(
    base: Mapping[str, Any] | None,
    usercode: str,
    desired: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    changed_variables: bool = False,
) -> dict[str, Any]:
    """The complete payload element for ``POST /users/sync``.

    Sync is not additive (S1; for the arrays [G §3.1]), so the element is the live payload
    (``base``) with the managed values of ``desired`` (plan JSON form) overlaid; read-only
    fields are dropped. ``secrets`` resolves ``{"env": NAME}`` variables; a missing one
    raises KeyError (the shell checks first). ``variables`` replaces the live ones, unless
    ``changed_variables`` (a plan's change, which names only the variables that change):
    then only those named are set, ``None`` removing one, and the others keep their live
    values.
    """
    element: dict[str, Any] = (
        copy.deepcopy(dict(base))
        if base is not None
        else {
            "user": {},
            "variables": [],
            "restrictions": [],
            "userRoles": [],
            "userCategories": [],
        }
    )
    user = {
        k: v for k, v in dict(element.get("user") or {}).items() if k not in READ_ONLY_USER_FIELDS
    }
    user["usercode"] = usercode
    expires = user.get("userExpirationDate")
    if isinstance(expires, str) and len(expires) > 10:  # read as a timestamp: written back
        user["userExpirationDate"] = expires[:10]  # as the date pisync writes [G U10]
    if not changed_variables and "variables" in desired:
        element["variables"] = []  # the variables given are all there will be
    for key, value in desired.items():
        _overlay(element, user, key, value, secrets)
    element["user"] = user
    return element


_SCALARS = {
    "forenames": "forenames",
    "surname": "surname",
    "email": "email",
    "enabled": "clientEnabled",
    "lite": "lite",
    "organisation": "orgIdentifier",
    "theme": "themeName",
    "expires": "userExpirationDate",
    "login.password": "allowPasswordLogin",
    "login.external": "allowExternalLogin",
    "login.mfa": "requireMfa",
}


def _overlay(
    element: dict[str, Any],
    user: dict[str, Any],
    key: str,
    value: Any,
    secrets: Mapping[str, str],
) -> None:
    if key in _SCALARS:
        user[_SCALARS[key]] = value
    elif key == "type":
        user["userTypeId"] = USER_TYPES[value]
    elif key == "parent":
        user["parentIdentifier"] = value  # [G §3.3] parentId is read-only
    elif key == "privileges":
        granted = set(value)
        user.update({p: p in granted for p in PRIVILEGES})  # [G U24] stored as sent
    elif key == "roles":
        element["userRoles"] = [{"roleIdentifier": r} for r in value]  # [G U3]
    elif key == "categories":
        element["userCategories"] = [{"categoryIdentifier": c} for c in value]  # [G U4]
    elif key == "variables":  # the variables named are set (None: removed), the others kept
        kept = {
            str(v.get("name")): v for v in element.get("variables") or () if isinstance(v, Mapping)
        }
        for name, v in value.items():
            if v is None:
                kept.pop(name, None)
            else:
                kept[name] = _variable_out(name, v, secrets)
        element["variables"] = [kept[n] for n in sorted(kept)]
    elif key == "restrictions":
        element["restrictions"] = [  # [G U2] one element per value
            {
                "dataConnectionIdentifier": r["connection"],
                "columnIdentifier": r["column"],
                "value": v,
            }
            for r in value
            for v in r["values"]
        ]
    else:
        raise WireError(f"unknown managed field {key!r}")


def _variable_out(name: str, value: Any, secrets: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(value, Mapping):
        resolved = secrets[value["env"]] if "env" in value else value["value"]
        return {"name": name, "value": resolved, "isSecure": bool(value.get("secure", False))}
    return {"name": name, "value": value, "isSecure": False}  # [G U1]


# --- roles and categories -----------------------------------------------------------------


def live_role(obj: Mapping[str, Any]) -> LiveRole:
    """A role object [G U13]: ``{id, name, description, categories, privileges}``."""
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise WireError(f"a role object has no name: {sorted(obj)[:8]}")
    privs = obj.get("privileges") or ()
    if isinstance(privs, Mapping):  # also accept {flag: bool}
        privs = [k for k, v in privs.items() if v is True]
    return LiveRole(
        name=name,
        id=ident(obj.get("id")),
        fields={
            "description": obj.get("description"),
            "categories": _names(
                obj.get("categories"), CATEGORY_REF_KEYS, f"role {name} categories"
            ),
            "privileges": tuple(sorted(str(p) for p in privs)),
        },
        server_copy=copy_of(obj),
    )


def role_body(name: str, desired: Mapping[str, Any], base: ServerCopy | None) -> dict[str, Any]:
    """``POST /roles`` / ``PUT /roles/{id}`` body: the live role with managed fields overlaid."""
    body = {k: v for k, v in (json_of(base) or {}).items() if k != "id"}
    body["name"] = name
    if "description" in desired:
        body["description"] = desired["description"]
    if "categories" in desired:
        body["categories"] = [{"categoryIdentifier": c} for c in desired["categories"]]
    if "privileges" in desired:
        body["privileges"] = list(desired["privileges"])
    return body


def category(obj: Mapping[str, Any]) -> Category:
    """A category: named by its unique ``description`` (S9); parent by ``parentId`` [G U15]."""
    name = obj.get("description", obj.get("name"))
    if not isinstance(name, str) or not name:
        raise WireError(f"a category object has no description: {sorted(obj)[:8]}")
    parent = obj.get("parentId")
    return Category(
        name=name,
        id=ident(obj.get("id")),
        parent_id=None if _no_parent(parent) else ident(parent),
    )
