"""Helpers for the emulator tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

import base64
import warnings
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from pi_emulator import Emulator, EmulatorOptions, FaultConfig, ShapeConfig

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx is what this project pins.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient as TestClient

API = "/pi/api/v2"

#: A small organisation used by most tests.
SEED: dict[str, Any] = {
    "categories": [
        {"name": "Finance", "parent": None},
        {"name": "Budgets", "parent": "Finance"},
        {"name": "Sales", "parent": None},
        {"name": "Sales North", "parent": "Sales"},
        {"name": "HR", "parent": None},
    ],
    "roles": [
        {
            "name": "Finance Viewer",
            "description": "Finance dashboards",
            "categories": ["Finance", "Budgets"],
            "privileges": ["pdf", "exportToExcel"],
        },
        {"name": "Sales Viewer", "description": "", "categories": ["Sales"], "privileges": []},
    ],
    "users": [
        {
            "user": {
                "usercode": "dpatel",
                "forenames": "Dev",
                "surname": "Patel",
                "userTypeId": 0,
                "allowPasswordLogin": True,
                "password": "dpatel-pw",
                "editUsers": True,
            }
        },
        {
            "user": {
                "usercode": "bwong",
                "forenames": "Ben",
                "surname": "Wong",
                "email": "ben.wong@example.com",
                "allowPasswordLogin": True,
                "password": "bwong-pw",
            },
            "userRoles": ["Sales Viewer"],
        },
    ],
}

#: The documented defaults of an omitted ``user`` field (README), pinned independently of
#: pi_emulator.wire so that a change of default is a deliberate test change.
DEFAULT_USER: dict[str, Any] = {
    "email": None,
    "userTypeId": 3,
    "lite": False,
    "themeName": "piBerry",
    "orgId": 1,
    "orgIdentifier": "Dashboard",
    "ownerOrgId": 1,
    "ownerOrgIdentifier": "Dashboard",
    "clientEnabled": True,
    "superAdmin": False,
    "orgAdmin": False,
    "allowPasswordLogin": False,
    "allowExternalLogin": True,
    "requireMfa": False,
    "passwordExpired": False,
    "clientExcludePasswordExpiry": True,
    "editOwnPassword": True,
    "userExpirationDate": None,
    "logoutEnabled": True,
    "canLogInAsAnotherUser": False,
    "accessAccount": True,
    "audit": True,
    "editUsers": False,
    "editUserAccess": False,
    "editRoles": False,
    "editCategories": False,
    "editConnections": False,
    "editSql": False,
    "editVariables": False,
    "editServerSettings": False,
    "editThemes": False,
    "editOwnStylesheet": False,
    "editReports": False,
    "editCharts": False,
    "editChartStyles": False,
    "enableDebugging": False,
    "modifyLayouts": False,
    "saveLayouts": False,
    "saveFilters": False,
    "applySavedFilters": False,
    "anonymousCharts": False,
    "canViewChartEmbeddingLink": False,
    "canViewChartInfoDetails": False,
    "displayChartInfo": False,
    "displayDisabledButtons": False,
    "enableWarnings": False,
    "carouselForCategory": False,
    "carouselForDashboard": False,
    "collaborate": False,
    "exportToCsv": False,
    "exportToExcel": False,
    "exportToWord": False,
    "exportToPpt": False,
    "pdf": True,
    "schedule": False,
    "scheduleToEmail": False,
    "subscription": False,
}


def expected_user(usercode: str, forenames: str, surname: str, **changes: Any) -> dict[str, Any]:
    """A whole ``user`` section: the defaults, the identity and ``changes``."""
    user = {
        "usercode": usercode,
        "readableUserCode": usercode[0] + usercode[1:].lower(),
        "forenames": forenames,
        "surname": surname,
        "parentId": 1,
        "parentIdentifier": "ADMIN",
        **DEFAULT_USER,
    }
    user.update(changes)
    return user


def basic(usercode: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{usercode}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class Clock:
    """A hand-driven monotonic clock for token expiry tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_emulator(
    seed: Any = SEED,
    faults: FaultConfig | None = None,
    clock: Clock | None = None,
    shape: ShapeConfig | None = None,
) -> Emulator:
    options = EmulatorOptions(
        seed=seed, faults=faults or FaultConfig(fault_seed=1), shape=shape or ShapeConfig()
    )
    if clock is not None:
        options.clock = clock
    return Emulator(options)


def login(client: TestClient, usercode: str = "ADMIN", password: str = "dashboard") -> str:
    response = client.post(f"{API}/tokens", headers=basic(usercode, password))
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def bearer(client: TestClient, usercode: str, password: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, usercode, password)}"}


def state(client: TestClient) -> Any:
    return client.get("/_emulator/state").json()
