"""GET /users (envelope, paging, cap, filters), GET /users/{id}, DELETE /users/{id}."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import API, TestClient, bearer, expected_user, state

from pi_emulator.wire import USER_FIELDS

BAD_OP = (
    'unknown filter operator "xx" in "usercode(xx)": use one of eq, ne, gt, lt, ge, le, like, nlike'
)
MALFORMED = 'malformed filter "usercode(eq": use field(op)=value, e.g. usercode(eq)=X'


def _add_users(client: TestClient, auth: dict[str, str], count: int) -> None:
    payload = [
        {"user": {"usercode": f"u{n:03d}", "forenames": f"F{n}", "surname": "Bulk",
                  "userTypeId": n % 5, "email": f"u{n}@example.com" if n % 2 else None}}
        for n in range(count)
    ]  # fmt: skip
    assert client.post(f"{API}/users/sync", json=payload, headers=auth).status_code == 200


def _list(client: TestClient, auth: dict[str, str], **params: Any) -> Any:
    response = client.get(f"{API}/users", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def _codes(page: Any) -> list[str]:
    return [u["usercode"] for u in page["content"]]


def test_list_envelope_and_whole_user_objects(client: TestClient, auth: dict[str, str]) -> None:
    page = _list(client, auth)
    assert {k: v for k, v in page.items() if k != "content"} == {
        "totalElements": 3,
        "totalPages": 1,
        "number": 1,
        "size": 20,
        "first": True,
        "last": True,
    }
    assert _codes(page) == ["ADMIN", "DPATEL", "BWONG"]
    bwong = page["content"][2]
    assert list(bwong) == ["id", *USER_FIELDS]
    assert bwong == {
        "id": 3,
        **expected_user(
            "BWONG", "Ben", "Wong", email="ben.wong@example.com", allowPasswordLogin=True
        ),
    }
    admin = page["content"][0]
    assert (admin["id"], admin["superAdmin"], admin["userTypeId"], admin["parentId"]) == (
        1,
        True,
        0,
        None,
    )


def test_paging_is_one_based_in_id_order(client: TestClient, auth: dict[str, str]) -> None:
    _add_users(client, auth, 42)  # 45 users in all
    first = _list(client, auth, page=1, pageSize=20)
    third = _list(client, auth, page=3, pageSize=20)
    assert (first["totalElements"], first["totalPages"], first["first"], first["last"]) == (
        45,
        3,
        True,
        False,
    )
    assert _codes(third) == ["U037", "U038", "U039", "U040", "U041"]
    assert (third["number"], third["first"], third["last"]) == (3, False, True)
    everything = [c for p in (1, 2, 3) for c in _codes(_list(client, auth, page=p, pageSize=20))]
    ids = [u["id"] for p in (1, 2, 3) for u in _list(client, auth, page=p)["content"]]
    assert len(set(everything)) == 45
    assert ids == sorted(ids)
    beyond = _list(client, auth, page=9, pageSize=20)
    assert (beyond["content"], beyond["last"], beyond["totalElements"]) == ([], True, 45)


def test_page_size_defaults_to_20_and_is_capped_at_1000(
    client: TestClient, auth: dict[str, str]
) -> None:
    _add_users(client, auth, 1200)
    assert len(_list(client, auth)["content"]) == 20
    capped = _list(client, auth, pageSize=5000)
    assert (len(capped["content"]), capped["size"], capped["totalPages"]) == (1000, 1000, 2)
    assert len(_list(client, auth, page=2, pageSize=5000)["content"]) == 203


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": "0"}, 'page must be a positive integer, got "0"'),
        ({"pageSize": "x"}, 'pageSize must be a positive integer, got "x"'),
        ({"usercode(xx)": "A"}, BAD_OP),
        ({"usercode(eq": "A"}, MALFORMED),
        ({"userTypeId(eq)": "one"}, 'filter on "userTypeId" needs an integer, got "one"'),
        ({"lite(gt)": "true"}, 'operator "gt" cannot be used on the boolean field "lite"'),
        ({"lite(eq)": "yes"}, 'filter lite(eq) needs true or false, got "yes"'),
    ],
)
def test_bad_list_queries_are_400(
    client: TestClient, auth: dict[str, str], params: dict[str, str], message: str
) -> None:
    response = client.get(f"{API}/users", params=params, headers=auth)
    assert (response.status_code, response.json()) == (400, {"message": message})


def test_unknown_filter_field_is_400(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get(f"{API}/users", params={"colour(eq)": "red"}, headers=auth)
    assert response.status_code == 400
    assert response.json()["message"].startswith('cannot filter on "colour": filterable fields')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("usercode(eq)=bwong", ["BWONG"]),
        ("usercode%28eq%29=BWONG", ["BWONG"]),  # percent-encoded key, as encodeURIComponent sends
        ("usercode(ne)=ADMIN&usercode(ne)=DPATEL", ["BWONG"]),
        ("forenames(like)=bE", ["BWONG"]),
        ("surname(like)=A", ["ADMIN", "DPATEL"]),
        ("surname(nlike)=a", ["BWONG"]),
        ("email(eq)=null", ["ADMIN", "DPATEL"]),
        ("email(ne)=null", ["BWONG"]),
        ("email(like)=EXAMPLE.com", ["BWONG"]),
        ("id(gt)=1&id(le)=3", ["DPATEL", "BWONG"]),
        ("id(ge)=3", ["BWONG"]),
        ("id(lt)=2", ["ADMIN"]),
        ("userTypeId(eq)=0", ["ADMIN", "DPATEL"]),
        ("superAdmin(eq)=true", ["ADMIN"]),
        ("editUsers(eq)=false", ["BWONG"]),
        ("parentIdentifier(eq)=admin", ["DPATEL", "BWONG"]),
        ("orgId=1&orgId(eq)=1", ["ADMIN", "DPATEL", "BWONG"]),  # plain orgId is ignored
        ("usercode(eq)=NOBODY", []),
        ("usercode(gt)=C", ["DPATEL"]),
    ],
)
def test_filters(client: TestClient, auth: dict[str, str], query: str, expected: list[str]) -> None:
    response = client.get(f"{API}/users?{query}", headers=auth)
    assert response.status_code == 200, response.text
    assert _codes(response.json()) == expected
    assert response.json()["totalElements"] == len(expected)


def test_filters_combine_with_paging(client: TestClient, auth: dict[str, str]) -> None:
    _add_users(client, auth, 50)
    page = _list(client, auth, **{"userTypeId(eq)": "2", "pageSize": "4", "page": "2"})
    assert _codes(page) == ["U022", "U027", "U032", "U037"]
    assert (page["totalElements"], page["totalPages"]) == (10, 3)


def test_get_user_by_id(client: TestClient, auth: dict[str, str]) -> None:
    listed = _list(client, auth)["content"][1]
    response = client.get(f"{API}/users/{listed['id']}", headers=auth)
    assert (response.status_code, response.json()) == (200, listed)
    missing = client.get(f"{API}/users/999", headers=auth)
    assert (missing.status_code, missing.json()) == (404, {"message": "no user with id 999"})
    not_an_id = client.get(f"{API}/users/abc", headers=auth)
    assert not_an_id.json() == {"message": "no such endpoint: GET /pi/api/v2/users/abc"}


def test_users_need_edit_users_except_oneself(client: TestClient) -> None:
    headers = bearer(client, "bwong", "bwong-pw")
    assert client.get(f"{API}/users/3", headers=headers).status_code == 200
    response = client.get(f"{API}/users/1", headers=headers)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "BWONG needs the editUsers privilege to read other users"},
    )


def test_delete_user(client: TestClient, auth: dict[str, str]) -> None:
    response = client.delete(f"{API}/users/3", headers=auth)
    assert (response.status_code, response.content) == (204, b"")
    assert _codes(_list(client, auth)) == ["ADMIN", "DPATEL"]
    again = client.delete(f"{API}/users/3", headers=auth)
    assert (again.status_code, again.json()) == (404, {"message": "no user with id 3"})
    # the usercode is free again and gets a new id
    create = [{"user": {"usercode": "BWONG", "forenames": "Ben", "surname": "Wong"}}]
    client.post(f"{API}/users/sync", json=create, headers=auth)
    assert [u["id"] for u in _list(client, auth)["content"]] == [1, 2, 4]


def test_super_admin_cannot_be_deleted(client: TestClient, auth: dict[str, str]) -> None:
    before = state(client)
    response = client.delete(f"{API}/users/1", headers=auth)
    assert (response.status_code, response.json()) == (
        400,
        {"message": "the super admin (ADMIN) cannot be deleted"},
    )
    assert state(client) == before


def test_delete_needs_edit_users_and_not_oneself(client: TestClient) -> None:
    response = client.delete(f"{API}/users/2", headers=bearer(client, "bwong", "bwong-pw"))
    assert response.json() == {"message": "BWONG needs the editUsers privilege to delete users"}
    response = client.delete(f"{API}/users/2", headers=bearer(client, "dpatel", "dpatel-pw"))
    assert (response.status_code, response.json()) == (
        400,
        {"message": "you cannot delete the user you are signed in as"},
    )


def test_deleting_a_parent_moves_its_children_up(client: TestClient, auth: dict[str, str]) -> None:
    payload = [
        {"user": {"usercode": "boss", "forenames": "B", "surname": "Oss",
                  "parentIdentifier": "DPATEL"}},
        {"user": {"usercode": "minion", "forenames": "M", "surname": "Inion",
                  "parentIdentifier": "boss"}},
    ]  # fmt: skip
    client.post(f"{API}/users/sync", json=payload, headers=auth)
    boss = _list(client, auth, **{"usercode(eq)": "BOSS"})["content"][0]
    assert client.delete(f"{API}/users/{boss['id']}", headers=auth).status_code == 204
    minion = _list(client, auth, **{"usercode(eq)": "MINION"})["content"][0]
    assert (minion["parentId"], minion["parentIdentifier"]) == (2, "DPATEL")
