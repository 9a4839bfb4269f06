"""Payload shapes: the 63 fields of the sync ``user`` section, their kinds and defaults.

Everything here is data about the wire format (reference §3.3, §3.5); nothing does I/O.
Choices for the reference's [G] items are marked ``[G]`` and listed in the README.
"""

from __future__ import annotations

from typing import Any, Final, Literal

JsonObj = dict[str, Any]
FieldKind = Literal["str", "int", "bool", "date"]

BASE_PATH: Final = "/pi/api/v2"
ORG_ID: Final = 1
ORG_NAME: Final = "Dashboard"
SUPER_ADMIN_ID: Final = 1
SUPER_ADMIN_CODE: Final = "ADMIN"
SUPER_ADMIN_PASSWORD: Final = "dashboard"  # noqa: S105 - the documented factory default

#: The ``user`` section in the order the emulator returns it (reference §3.3 grouping).
USER_FIELDS: Final[tuple[str, ...]] = (
    # identity and profile
    "usercode", "readableUserCode", "forenames", "surname", "email", "userTypeId", "lite",
    "themeName",
    # hierarchy and organisation
    "parentId", "parentIdentifier", "orgId", "orgIdentifier", "ownerOrgId", "ownerOrgIdentifier",
    # account state and login
    "clientEnabled", "superAdmin", "orgAdmin", "allowPasswordLogin", "allowExternalLogin",
    "requireMfa", "passwordExpired", "clientExcludePasswordExpiry", "editOwnPassword",
    "userExpirationDate", "logoutEnabled", "canLogInAsAnotherUser", "accessAccount", "audit",
    # administration privileges
    "editUsers", "editUserAccess", "editRoles", "editCategories", "editConnections", "editSql",
    "editVariables", "editServerSettings", "editThemes", "editOwnStylesheet", "editReports",
    "editCharts", "editChartStyles", "enableDebugging",
    # layouts and filters
    "modifyLayouts", "saveLayouts", "saveFilters", "applySavedFilters",
    # chart info and display
    "anonymousCharts", "canViewChartEmbeddingLink", "canViewChartInfoDetails", "displayChartInfo",
    "displayDisabledButtons", "enableWarnings", "carouselForCategory", "carouselForDashboard",
    "collaborate",
    # exports and scheduling
    "exportToCsv", "exportToExcel", "exportToWord", "exportToPpt", "pdf", "schedule",
    "scheduleToEmail", "subscription",
)  # fmt: skip

STRING_FIELDS: Final = frozenset(
    {"usercode", "readableUserCode", "forenames", "surname", "email", "themeName",
     "parentIdentifier", "orgIdentifier", "ownerOrgIdentifier"}
)  # fmt: skip
INT_FIELDS: Final = frozenset({"userTypeId", "parentId", "orgId", "ownerOrgId"})
DATE_FIELDS: Final = frozenset({"userExpirationDate"})
BOOL_FIELDS: Final[tuple[str, ...]] = tuple(
    f for f in USER_FIELDS if f not in STRING_FIELDS | INT_FIELDS | DATE_FIELDS
)

#: Ignored on input, computed on output [G] (reference §3.3 field notes, U22).
READ_ONLY_FIELDS: Final = frozenset(
    {"id", "readableUserCode", "superAdmin", "passwordExpired", "parentId", "orgId", "ownerOrgId"}
)
#: Output fields the store computes rather than stores.
DERIVED_FIELDS: Final = READ_ONLY_FIELDS - {"id"} | {"parentIdentifier"}
#: Fields kept in a user record's ``fields`` mapping.
STORED_FIELDS: Final[tuple[str, ...]] = tuple(f for f in USER_FIELDS if f not in DERIVED_FIELDS)

#: Boolean flags that describe login or account state rather than a privilege.
STATE_FLAGS: Final = frozenset(
    {"lite", "clientEnabled", "allowPasswordLogin", "allowExternalLogin", "requireMfa",
     "superAdmin", "passwordExpired"}
)  # fmt: skip
#: Privilege names a role may carry [G]: every other boolean flag of the ``user`` section.
PRIVILEGES: Final[tuple[str, ...]] = tuple(f for f in BOOL_FIELDS if f not in STATE_FLAGS)

USER_TYPES: Final = {
    0: "Administrator",
    1: "Designer",
    2: "Chart Explorer",
    3: "User",
    4: "Chart Viewer",
}

#: Values given to omitted ``user`` fields [G]; S6's example except ``userTypeId`` (3, User)
#: and ``editCategories`` (false: S6's user is an administrator). ``usercode``, ``forenames``,
#: ``surname`` and ``parentIdentifier`` have no default (see sync.py).
_TRUE_BY_DEFAULT: Final = frozenset(
    {"clientEnabled", "allowExternalLogin", "clientExcludePasswordExpiry", "editOwnPassword",
     "logoutEnabled", "accessAccount", "audit", "pdf"}
)  # fmt: skip
USER_DEFAULTS: Final[JsonObj] = {
    "email": None,
    "userTypeId": 3,
    "themeName": "piBerry",
    "orgIdentifier": ORG_NAME,
    "ownerOrgIdentifier": ORG_NAME,
    "userExpirationDate": None,
    **{f: f in _TRUE_BY_DEFAULT for f in BOOL_FIELDS if f in STORED_FIELDS},
}

#: Defaults for the super admin when its own sync payload omits a field: every privilege on.
SUPER_ADMIN_DEFAULTS: Final[JsonObj] = {
    **USER_DEFAULTS,
    **dict.fromkeys(PRIVILEGES, True),
    "userTypeId": 0,
    "allowPasswordLogin": True,
    "allowExternalLogin": False,
}

#: Accepted element shapes for references [G]: the first key is the canonical one.
ROLE_REF_KEYS: Final = ("roleIdentifier", "name")
CATEGORY_REF_KEYS: Final = ("categoryIdentifier", "description", "name")
CONNECTION_KEYS: Final = ("dataConnectionIdentifier", "dataConnection", "connection")
COLUMN_KEYS: Final = ("columnIdentifier", "column")

#: Fields of the listed objects that ``field(op)=value`` filters may name.
USER_FILTER_FIELDS: Final[dict[str, FieldKind]] = {
    "id": "int",
    **{f: "str" for f in STRING_FIELDS},
    **{f: "int" for f in INT_FIELDS},
    **{f: "date" for f in DATE_FIELDS},
    **{f: "bool" for f in BOOL_FIELDS},
}
ROLE_FILTER_FIELDS: Final[dict[str, FieldKind]] = {
    "id": "int",
    "name": "str",
    "description": "str",
    "orgId": "int",
}
CATEGORY_FILTER_FIELDS: Final[dict[str, FieldKind]] = {
    "id": "int",
    "description": "str",
    "parentId": "int",
    "orgId": "int",
    "label": "str",
    "helpText": "str",
    "categoryObjectsPosition": "str",
    "cascadeFilters": "bool",
}


def readable_usercode(usercode: str) -> str:
    """``JWTAUTH`` -> ``Jwtauth`` (S6): first letter upper case, the rest lower case."""
    return usercode[:1].upper() + usercode[1:].lower()


def ref_name(item: object, keys: tuple[str, ...]) -> str | None:
    """The name an array element refers to: a bare string or the first of ``keys`` present."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for key in keys:
            value = item.get(key)
            if isinstance(value, str):
                return value
    return None


def describe(value: object) -> str:
    """A short rendering of a JSON value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (int, float)):
        return str(value)
    return "an array" if isinstance(value, list) else "an object"
