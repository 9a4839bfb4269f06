"""Records -> the canonical JSON the emulator returns (one function per object kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pi_emulator.model import Category, Restriction, Role, UserRecord, Variable
from pi_emulator.store import Store
from pi_emulator.wire import ORG_ID, SUPER_ADMIN_ID, USER_FIELDS, JsonObj, readable_usercode


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """How records are rendered: the restriction shape and the read-side store quirks."""

    #: restrictions as one element per connection and column with ``values``
    grouped: bool = False
    #: ``userExpirationDate`` as a timestamp rather than a date
    timestamps: bool = False
    #: role names in ``userRoles`` in lower case
    fold_roles: bool = False
    #: the value a secure variable reads back as (None: its value)
    mask_secure: str | None = None


PLAIN: Final = View()
#: how a server that keeps timestamps returns a date (Jackson's default for a Java Date)
TIMESTAMP_SUFFIX: Final = "T00:00:00.000+00:00"


def user_value(store: Store, record: UserRecord, name: str) -> Any:
    """One field of a user object as returned on the wire (stored or derived)."""
    match name:
        case "id":
            return record.id
        case "readableUserCode":
            return readable_usercode(record.usercode)
        case "superAdmin":
            return record.id == SUPER_ADMIN_ID
        case "passwordExpired":
            return False
        case "parentId":
            return record.parent_id
        case "parentIdentifier":
            return store.parent_code(record)
        case "orgId" | "ownerOrgId":
            return ORG_ID
        case _:
            return record.fields[name]


def user_section(store: Store, record: UserRecord, view: View = PLAIN) -> JsonObj:
    """The 63-field ``user`` section, in wire.USER_FIELDS order."""
    derived = {
        "readableUserCode": readable_usercode(record.usercode),
        "superAdmin": record.id == SUPER_ADMIN_ID,
        "passwordExpired": False,
        "parentId": record.parent_id,
        "parentIdentifier": store.parent_code(record),
        "orgId": ORG_ID,
        "ownerOrgId": ORG_ID,
    }
    fields = record.fields
    section = {name: derived[name] if name in derived else fields[name] for name in USER_FIELDS}
    expiry = fields["userExpirationDate"]
    if view.timestamps and expiry is not None:
        section["userExpirationDate"] = f"{expiry}{TIMESTAMP_SUFFIX}"
    return section


def user_object(store: Store, record: UserRecord, view: View = PLAIN) -> JsonObj:
    """An element of ``GET /users``: ``id`` then the ``user`` section."""
    return {"id": record.id, **user_section(store, record, view)}


def variable(item: Variable, mask: str | None = None) -> JsonObj:
    value = mask if mask is not None and item.is_secure else item.value
    return {"name": item.name, "value": value, "isSecure": item.is_secure}


def restriction(item: Restriction) -> JsonObj:
    return {
        "dataConnectionIdentifier": item.connection,
        "columnIdentifier": item.column,
        "value": item.value,
    }


def grouped_restrictions(items: tuple[Restriction, ...]) -> list[JsonObj]:
    """One element per connection and column with all its ``values``, in first-seen order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for item in items:
        groups.setdefault((item.connection, item.column), []).append(item.value)
    return [
        {"dataConnectionIdentifier": connection, "columnIdentifier": column, "values": values}
        for (connection, column), values in groups.items()
    ]


def sync_element(store: Store, record: UserRecord, view: View = PLAIN) -> JsonObj:
    """One element of the sync payload array, every section in its canonical shape (or the
    shapes ``view`` picks)."""
    roles = (store.roles[r].name for r in record.role_ids)
    return {
        "user": user_section(store, record, view),
        "variables": [variable(v, view.mask_secure) for v in record.variables],
        "restrictions": grouped_restrictions(record.restrictions)
        if view.grouped
        else [restriction(r) for r in record.restrictions],
        "userRoles": [{"roleIdentifier": n.lower() if view.fold_roles else n} for n in roles],
        "userCategories": [
            {"categoryIdentifier": store.categories[c].description} for c in record.category_ids
        ],
    }


def role_object(store: Store, role: Role) -> JsonObj:
    return {
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "orgId": ORG_ID,
        "categories": [
            {"categoryIdentifier": store.categories[c].description} for c in role.category_ids
        ],
        "privileges": list(role.privileges),
    }


def category_object(category: Category) -> JsonObj:
    return {
        "id": category.id,
        "description": category.description,
        "parentId": category.parent_id,
        "orgId": ORG_ID,
        "label": category.label,
        "helpText": category.help_text,
        "categoryObjectsPosition": category.objects_position,
        "cascadeFilters": category.cascade_filters,
    }
