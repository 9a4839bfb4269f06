"""Roles and categories: list, get, create, update, delete."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import API, TestClient, bearer, state

FINANCE_VIEWER = {
    "id": 1,
    "name": "Finance Viewer",
    "description": "Finance dashboards",
    "orgId": 1,
    "categories": [{"categoryIdentifier": "Finance"}, {"categoryIdentifier": "Budgets"}],
    "privileges": ["pdf", "exportToExcel"],
}


def _category(cid: int, name: str, parent: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "description": name,
        "parentId": parent,
        "orgId": 1,
        "label": None,
        "helpText": None,
        "categoryObjectsPosition": "TOP",
        "cascadeFilters": False,
        **extra,
    }


def test_list_and_get_roles(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get(f"{API}/roles", headers=auth)
    assert response.json() == {
        "content": [
            FINANCE_VIEWER,
            {
                "id": 2,
                "name": "Sales Viewer",
                "description": "",
                "orgId": 1,
                "categories": [{"categoryIdentifier": "Sales"}],
                "privileges": [],
            },
        ],
        "totalElements": 2,
        "totalPages": 1,
        "number": 1,
        "size": 20,
        "first": True,
        "last": True,
    }
    assert client.get(f"{API}/roles/1", headers=auth).json() == FINANCE_VIEWER
    filtered = client.get(f"{API}/roles?name%28like%29=FINANCE", headers=auth).json()
    assert filtered["content"] == [FINANCE_VIEWER]
    missing = client.get(f"{API}/roles/9", headers=auth)
    assert (missing.status_code, missing.json()) == (404, {"message": "no role with id 9"})


def test_create_update_delete_role(client: TestClient, auth: dict[str, str]) -> None:
    body = {
        "name": "Exec",
        "categories": ["HR", {"categoryIdentifier": "Finance"}],
        "privileges": ["schedule"],
        "orgId": 1,
        "id": 77,
        "extra": "ignored",
    }
    created = client.post(f"{API}/roles", json=body, headers=auth)
    assert (created.status_code, created.json()) == (
        201,
        {
            "id": 3,
            "name": "Exec",
            "description": "",
            "orgId": 1,
            "categories": [{"categoryIdentifier": "HR"}, {"categoryIdentifier": "Finance"}],
            "privileges": ["schedule"],
        },
    )
    updated = client.put(f"{API}/roles/3", json={"description": "Leadership"}, headers=auth)
    assert updated.json() == {**created.json(), "description": "Leadership"}
    renamed = client.put(
        f"{API}/roles/3", json={"name": "Executive", "categories": []}, headers=auth
    )
    assert (renamed.json()["name"], renamed.json()["categories"]) == ("Executive", [])
    assert client.delete(f"{API}/roles/3", headers=auth).status_code == 204
    assert client.get(f"{API}/roles/3", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "finance viewer"}, 409, 'a role named "Finance Viewer" already exists (id 1)'),
        ({}, 400, "name is required"),
        ({"name": ""}, 400, "name must be a non-empty string"),
        ([], 400, "the request body must be a JSON object describing a role"),
        ({"name": "R", "categories": ["Ghost"]}, 400, 'unknown category "Ghost"'),
        (
            {"name": "R", "categories": "HR"},
            400,
            'categories must be an array of category names, got "HR"',
        ),
        ({"name": "R", "description": 3}, 400, "description must be a string or null, got 3"),
        (
            {"name": "R", "orgId": 2},
            400,
            "orgId must be 1 (the emulator has only the Dashboard organisation)",
        ),
    ],
)
def test_bad_role_bodies(
    client: TestClient, auth: dict[str, str], body: Any, status: int, message: str
) -> None:
    before = state(client)
    response = client.post(f"{API}/roles", json=body, headers=auth)
    assert (response.status_code, response.json()) == (status, {"message": message})
    assert state(client) == before


def test_unknown_privilege_lists_the_known_ones(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(f"{API}/roles", json={"name": "R", "privileges": ["fly"]}, headers=auth)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith('unknown privilege "fly"; a privilege is one of: orgAdmin, ')
    assert message.endswith(", schedule, scheduleToEmail, subscription")


def test_rename_onto_another_role_is_409(client: TestClient, auth: dict[str, str]) -> None:
    response = client.put(f"{API}/roles/2", json={"name": "FINANCE viewer"}, headers=auth)
    assert (response.status_code, response.json()) == (
        409,
        {"message": 'a role named "Finance Viewer" already exists (id 1)'},
    )
    same = client.put(f"{API}/roles/1", json={"name": "finance viewer"}, headers=auth)
    assert same.json()["name"] == "finance viewer"


def test_role_still_held_cannot_be_deleted(client: TestClient, auth: dict[str, str]) -> None:
    response = client.delete(f"{API}/roles/2", headers=auth)
    assert (response.status_code, response.json()) == (
        400,
        {
            "message": 'role "Sales Viewer" is still assigned to 1 user (BWONG); '
            "remove it from them first"
        },
    )


def test_role_writes_need_edit_roles(client: TestClient) -> None:
    headers = bearer(client, "dpatel", "dpatel-pw")
    assert client.get(f"{API}/roles", headers=headers).status_code == 200
    response = client.post(f"{API}/roles", json={"name": "X"}, headers=headers)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "DPATEL needs the editRoles privilege to change roles"},
    )


def test_list_and_get_categories(client: TestClient, auth: dict[str, str]) -> None:
    page = client.get(f"{API}/categories", params={"pageSize": 2, "page": 2}, headers=auth).json()
    assert page == {
        "content": [_category(3, "Sales", None), _category(4, "Sales North", 3)],
        "totalElements": 5,
        "totalPages": 3,
        "number": 2,
        "size": 2,
        "first": False,
        "last": False,
    }
    assert client.get(f"{API}/categories/2", headers=auth).json() == _category(2, "Budgets", 1)
    children = client.get(f"{API}/categories?parentId(eq)=1", headers=auth).json()
    assert [c["description"] for c in children["content"]] == ["Budgets"]
    tops = client.get(f"{API}/categories?parentId(eq)=null", headers=auth).json()
    assert [c["description"] for c in tops["content"]] == ["Finance", "Sales", "HR"]


def test_create_update_delete_category(client: TestClient, auth: dict[str, str]) -> None:
    body = {
        "description": "Forecasts",
        "parentId": 1,
        "orgId": 1,
        "label": "FC",
        "categoryObjectsPosition": "RIGHT",
        "cascadeFilters": True,
    }
    created = client.post(f"{API}/categories", json=body, headers=auth)
    assert (created.status_code, created.json()) == (
        201,
        _category(
            6, "Forecasts", 1, label="FC", categoryObjectsPosition="RIGHT", cascadeFilters=True
        ),
    )
    updated = client.put(f"{API}/categories/6", json={"helpText": "Next year"}, headers=auth)
    assert updated.json() == {**created.json(), "helpText": "Next year"}
    moved = client.put(f"{API}/categories/6", json={"parentId": None}, headers=auth)
    assert moved.json()["parentId"] is None
    assert client.delete(f"{API}/categories/6", headers=auth).status_code == 204
    assert client.get(f"{API}/categories/6", headers=auth).json() == {
        "message": "no category with id 6"
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        (
            "POST",
            "/categories",
            {"description": "hr"},
            409,
            'a category named "HR" already exists (id 5)',
        ),
        ("POST", "/categories", {"label": "x"}, 400, "description is required"),
        (
            "POST",
            "/categories",
            {"description": "X", "parentId": 99},
            400,
            "parentId 99: no category has that id",
        ),
        (
            "POST",
            "/categories",
            {"description": "X", "categoryObjectsPosition": "LEFT"},
            400,
            'categoryObjectsPosition must be "TOP" or "RIGHT", got "LEFT"',
        ),
        (
            "POST",
            "/categories",
            {"description": "X", "cascadeFilters": "no"},
            400,
            'cascadeFilters must be true or false, got "no"',
        ),
        (
            "PUT",
            "/categories/1",
            {"parentId": 2},
            400,
            "parentId 2 would make a cycle in the category tree",
        ),
        (
            "DELETE",
            "/categories/1",
            None,
            400,
            'category "Finance" has child categories (Budgets); delete or move them first',
        ),
        (
            "DELETE",
            "/categories/3",
            None,
            400,
            'category "Sales" has child categories (Sales North); delete or move them first',
        ),
        (
            "DELETE",
            "/categories/2",
            None,
            400,
            'category "Budgets" is granted by 1 role (Finance Viewer); remove it from them first',
        ),
    ],
)
def test_bad_category_requests(
    client: TestClient,
    auth: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    before = state(client)
    response = client.request(method, f"{API}{path}", json=body, headers=auth)
    assert (response.status_code, response.json()) == (status, {"message": message})
    assert state(client) == before


def test_category_granted_to_a_user_cannot_be_deleted(
    client: TestClient, auth: dict[str, str]
) -> None:
    user = {"user": {"usercode": "bwong"}, "userCategories": ["HR"]}
    assert client.post(f"{API}/users/sync", json=[user], headers=auth).status_code == 200
    response = client.delete(f"{API}/categories/5", headers=auth)
    assert response.json() == {
        "message": 'category "HR" is granted to 1 user (BWONG); remove it from them first'
    }
