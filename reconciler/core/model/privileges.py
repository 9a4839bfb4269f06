"""The privilege names of SPEC §2.1 and the user types.

A privilege is a boolean flag of the sync payload's ``user`` section other than the login,
state and read-only flags. The names are the payload's own field names, so a YAML author can
look them up in the Panintelligence documentation. The list is taken from the only
complete payload example Panintelligence has published:
the 42 boolean flags that are not login, state or read-only flags.
"""

from __future__ import annotations

from typing import Final

PRIVILEGES: Final[tuple[str, ...]] = (
    "accessAccount",
    "anonymousCharts",
    "applySavedFilters",
    "audit",
    "canLogInAsAnotherUser",
    "canViewChartEmbeddingLink",
    "canViewChartInfoDetails",
    "carouselForCategory",
    "carouselForDashboard",
    "clientExcludePasswordExpiry",
    "collaborate",
    "displayChartInfo",
    "displayDisabledButtons",
    "editCategories",
    "editChartStyles",
    "editCharts",
    "editConnections",
    "editOwnPassword",
    "editOwnStylesheet",
    "editReports",
    "editRoles",
    "editServerSettings",
    "editSql",
    "editThemes",
    "editUserAccess",
    "editUsers",
    "editVariables",
    "enableDebugging",
    "enableWarnings",
    "exportToCsv",
    "exportToExcel",
    "exportToPpt",
    "exportToWord",
    "logoutEnabled",
    "modifyLayouts",
    "orgAdmin",
    "pdf",
    "saveFilters",
    "saveLayouts",
    "schedule",
    "scheduleToEmail",
    "subscription",
)

PRIVILEGE_SET: Final[frozenset[str]] = frozenset(PRIVILEGES)

#: Privileges that let a user change who can see what: granting one is flagged in plans.
ESCALATING_PRIVILEGES: Final[frozenset[str]] = frozenset(
    {
        "canLogInAsAnotherUser",
        "editConnections",
        "editRoles",
        "editServerSettings",
        "editSql",
        "editUserAccess",
        "editUsers",
        "editVariables",
        "orgAdmin",
    }
)

#: The user types of SPEC §2.1, in the server's order (the adapter knows their numbers).
USER_TYPES: Final[tuple[str, ...]] = (
    "administrator",
    "designer",
    "chart-explorer",
    "user",
    "chart-viewer",
)
