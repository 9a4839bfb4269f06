"""Server-shape options: bare lists, no paging, hidden users, a capped list, syncPayload by id,
grouped restrictions, and ``/_emulator/options``."""

from __future__ import annotations

from typing import Any

import pytest
from emu_helpers import API, TestClient

UNKNOWN_OPTION = (
    'unknown option "speed"; known: list_shape, list_paging, list_hide, list_cap, '
    "sync_payload_param, restriction_shape, sync_answer, store_quirks, licence"
)
DEFAULTS = {
    "list_shape": "envelope",
    "list_paging": True,
    "list_hide": [],
    "list_cap": None,
    "sync_payload_param": "usercode",
    "restriction_shape": "per-value",
    "sync_answer": "payload",
    "store_quirks": [],
    "licence": {},
}


def _get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(f"{API}{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _codes(items: list[Any]) -> list[str]:
    return [u["usercode"] for u in items]


def _more_users(client: TestClient, count: int) -> None:
    payload = [
        {"user": {"usercode": f"u{n}", "forenames": "F", "surname": "S"}} for n in range(count)
    ]
    assert client.post(f"{API}/users/sync", json=payload).status_code == 200


def test_bare_lists_page_as_plain_arrays(shaped: Any) -> None:
    client = shaped(list_shape="bare")
    _more_users(client, 2)
    first = _get(client, "/users", pageSize=2)
    assert _codes(first) == ["ADMIN", "DPATEL"]
    assert first[1] == _get(client, "/users/2")
    assert _codes(_get(client, "/users", pageSize=2, page=3)) == ["U1"]
    assert _get(client, "/users", pageSize=2, page=4) == []
    assert [r["name"] for r in _get(client, "/roles")] == ["Finance Viewer", "Sales Viewer"]
    assert [c["description"] for c in _get(client, "/categories", pageSize=2, page=2)] == [
        "Sales",
        "Sales North",
    ]


def test_without_paging_the_whole_list_comes_back(shaped: Any) -> None:
    client = shaped(list_paging=False)
    _more_users(client, 25)
    page = _get(client, "/users", page="abc", pageSize=2)
    assert len(page["content"]) == 28
    assert {k: v for k, v in page.items() if k != "content"} == {
        "totalElements": 28,
        "totalPages": 1,
        "number": 1,
        "size": 28,
        "first": True,
        "last": True,
    }
    filtered = _get(client, "/users", **{"usercode(like)": "u2"})
    expected = ["U2", "U20", "U21", "U22", "U23", "U24"]
    assert (_codes(filtered["content"]), filtered["totalElements"]) == (expected, 6)


def test_bare_without_paging_is_the_whole_array(shaped: Any) -> None:
    client = shaped(list_shape="bare", list_paging=False)
    assert _codes(_get(client, "/users", pageSize=1)) == ["ADMIN", "DPATEL", "BWONG"]
    assert len(_get(client, "/categories", pageSize=1)) == 5


def test_hidden_users_are_left_out_of_lists_but_still_known(shaped: Any) -> None:
    client = shaped(list_hide=["bwong"])
    page = _get(client, "/users")
    assert (_codes(page["content"]), page["totalElements"]) == (["ADMIN", "DPATEL"], 2)
    assert _get(client, "/users", **{"usercode(eq)": "BWONG"})["content"] == []
    payload = _get(client, "/users/syncPayload", usercode="bwong")
    assert payload[0]["user"]["usercode"] == "BWONG"
    assert _get(client, "/users/3")["usercode"] == "BWONG"
    payload[0]["user"]["surname"] = "Wong-Li"
    updated = client.post(f"{API}/users/sync", json=payload)
    assert updated.json()[0]["user"]["surname"] == "Wong-Li"
    assert _get(client, "/users/3")["surname"] == "Wong-Li"  # updated in place, not created
    assert _get(client, "/users")["totalElements"] == 2


def test_a_capped_list_is_short_while_the_envelope_tells_the_truth(shaped: Any) -> None:
    client = shaped(list_cap=4)
    _more_users(client, 4)
    first = _get(client, "/users", pageSize=3)
    assert (_codes(first["content"]), first["totalElements"], first["totalPages"]) == (
        ["ADMIN", "DPATEL", "BWONG"],
        7,
        3,
    )
    second = _get(client, "/users", pageSize=3, page=2)
    assert (_codes(second["content"]), second["last"]) == (["U0"], False)
    assert _get(client, "/users", pageSize=3, page=3)["content"] == []
    assert len(_get(client, "/categories")["content"]) == 4


def test_a_capped_unpaged_envelope_still_reports_the_true_total(shaped: Any) -> None:
    client = shaped(list_cap=2, list_paging=False)
    page = _get(client, "/users")
    assert (_codes(page["content"]), page["totalElements"], page["size"], page["last"]) == (
        ["ADMIN", "DPATEL"],
        3,
        2,
        True,
    )


def test_a_capped_bare_list_is_just_short(shaped: Any) -> None:
    client = shaped(list_shape="bare", list_cap=2, list_paging=False)
    assert _codes(_get(client, "/users")) == ["ADMIN", "DPATEL"]
    paged = shaped(list_shape="bare", list_cap=2)
    assert _codes(_get(paged, "/users", pageSize=1, page=2)) == ["DPATEL"]
    assert _get(paged, "/users", pageSize=1, page=3) == []


def test_sync_payload_by_id_only(shaped: Any) -> None:
    client = shaped(sync_payload_param="id")
    refused = client.get(f"{API}/users/syncPayload", params={"usercode": "BWONG"})
    assert (refused.status_code, refused.json()) == (
        400,
        {"message": "the id query parameter is required"},
    )
    by_id = _get(client, "/users/syncPayload", id=3)
    assert by_id == _get(client, "/users/syncPayload", userId=3)
    assert by_id[0]["user"]["usercode"] == "BWONG"
    missing = client.get(f"{API}/users/syncPayload", params={"id": 99})
    assert (missing.status_code, missing.json()) == (404, {"message": "no user with id 99"})


def test_grouped_restrictions(shaped: Any) -> None:
    client = shaped(restriction_shape="grouped")
    restrictions = [
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "North"},
        {"connection": "HR DB", "column": "Site", "values": ["Leeds"]},
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "South"},
    ]
    body = [{"user": {"usercode": "bwong"}, "restrictions": restrictions}]
    grouped = [
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region",
         "values": ["North", "South"]},
        {"dataConnectionIdentifier": "HR DB", "columnIdentifier": "Site", "values": ["Leeds"]},
    ]  # fmt: skip
    assert client.post(f"{API}/users/sync", json=body).json()[0]["restrictions"] == grouped
    payload = _get(client, "/users/syncPayload", usercode="BWONG")
    assert payload[0]["restrictions"] == grouped
    # the grouped shape is accepted back as input: a round trip changes nothing
    assert client.post(f"{API}/users/sync", json=payload).json() == payload


def test_options_control_endpoint(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/_emulator/options").json() == DEFAULTS
    changed = client.put("/_emulator/options", json={"list_shape": "bare", "list_hide": ["x"]})
    assert changed.json() == {**DEFAULTS, "list_shape": "bare", "list_hide": ["X"]}
    assert _codes(client.get(f"{API}/users", headers=auth).json()) == ["ADMIN", "DPATEL", "BWONG"]
    assert client.put("/_emulator/options", json=DEFAULTS).json() == DEFAULTS
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/_emulator/options").json() == DEFAULTS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"speed": 1}, UNKNOWN_OPTION),
        (
            {"list_shape": "xml", "list_cap": -1},
            'list_shape must be one of envelope, bare, got "xml"; '
            "list_cap must be an integer >= 0 or null, got -1",
        ),
        ({"list_paging": "off"}, 'list_paging must be true or false, got "off"'),
        (
            {"list_hide": "BWONG"},
            'list_hide must be an array of usercodes such as ["BWONG"], got "BWONG"',
        ),
        ([], 'send a JSON object of options, e.g. {"list_shape": "bare"}'),
    ],
)
def test_bad_options_are_400_and_change_nothing(
    client: TestClient, body: Any, message: str
) -> None:
    response = client.put("/_emulator/options", json=body)
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert client.get("/_emulator/options").json() == DEFAULTS
