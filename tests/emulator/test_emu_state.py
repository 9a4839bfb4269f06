"""Seeds, state documents, persistence to --state files, and /_emulator/reset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from emu_helpers import API, SEED, TestClient, basic, login, state

from pi_emulator import Emulator, EmulatorOptions, SeedError, StateError, create_app
from pi_emulator.render import sync_element
from pi_emulator.state import build_store, load_state, snapshot, state_document

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.json"


def test_example_seed_loads() -> None:
    store = build_store(json.loads(EXAMPLE.read_text()))
    assert [u.usercode for u in store.iter_users()] == [
        "ADMIN", "ASHAH", "BWONG", "CJONES", "DPATEL", "EMURPHY", "FGARCIA", "GKIM", "HNOVAK",
        "SVC_REPORTS",
    ]  # fmt: skip
    assert [r.name for r in store.roles.values()] == ["Sales Viewer", "Executive"]
    assert [c.description for c in store.categories.values()] == [
        "Finance", "Budgets", "Forecasts", "Sales", "Sales North", "Sales South", "HR",
        "Operations", "Marketing",
    ]  # fmt: skip
    hnovak = store.user_by_code("hnovak")
    assert hnovak is not None
    assert store.parent_code(hnovak) == "ASHAH"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ([], "the seed must be a JSON object with categories, roles and users"),
        ({"people": []}, "unknown seed keys ['people']: expected categories, roles, users"),
        ({"roles": {}}, "roles must be an array"),
        (
            {"categories": [{"name": "A", "parent": "Ghost"}]},
            'categories[0]: unknown parent category "Ghost"',
        ),
        (
            {"categories": [{"name": "A"}, {"name": "a"}]},
            'categories[1]: a category named "A" already exists (id 1)',
        ),
        ({"roles": [{"name": "R", "categories": ["Ghost"]}]}, 'roles[0]: unknown category "Ghost"'),
        (
            {"users": [{"user": {"usercode": "x", "forenames": "X"}}]},
            "users: payload[0] (X): user.surname is required to create a user",
        ),
    ],
)
def test_bad_seeds_are_refused_with_a_clear_message(seed: Any, message: str) -> None:
    with pytest.raises(SeedError) as caught:
        build_store(seed)
    assert str(caught.value) == message


def test_categories_may_come_in_any_order() -> None:
    store = build_store({"categories": [{"name": "Child", "parent": "Top"}, {"name": "Top"}]})
    child = store.category_by_name("child")
    assert child is not None
    assert (child.id, child.parent_id) == (2, 1)


def test_state_document_round_trips() -> None:
    store = build_store(json.loads(EXAMPLE.read_text()))
    doc = state_document(snapshot(store))
    again = load_state(json.loads(json.dumps(doc)))
    assert state_document(snapshot(again)) == doc
    assert [sync_element(again, u) for u in again.iter_users()] == [
        sync_element(store, u) for u in store.iter_users()
    ]
    assert (again.next_user_id, again.next_role_id, again.next_category_id) == (11, 3, 10)


def test_state_document_leaves_out_defaults(client: TestClient) -> None:
    bwong = state(client)["users"][2]
    assert bwong == {
        "id": 3,
        "parentId": 1,
        "password": "bwong-pw",
        "user": {
            "usercode": "BWONG",
            "forenames": "Ben",
            "surname": "Wong",
            "email": "ben.wong@example.com",
            "allowPasswordLogin": True,
        },
        "userRoles": ["Sales Viewer"],
        "userCategories": [],
        "variables": [],
        "restrictions": [],
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"users": []},
            'not a pi-emulator state document (expected "format": "pi-emulator-state/1")',
        ),
        (
            {"format": "pi-emulator-state/1", "categories": [], "roles": [], "users": []},
            "corrupt pi-emulator state document: "
            "ValueError('the state has no super admin (user id 1)')",
        ),
    ],
)
def test_bad_state_documents(doc: Any, message: str) -> None:
    with pytest.raises(StateError) as caught:
        load_state(doc)
    assert str(caught.value) == message


def _options(path: Path, **extra: Any) -> EmulatorOptions:
    return EmulatorOptions(seed=SEED, state_path=path, **extra)


def test_state_file_is_written_and_wins_over_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    emulator = Emulator(_options(path, persist_interval=60))
    with TestClient(create_app(emulator), base_url="http://pi.test") as client:
        headers = {"Authorization": f"Bearer {login(client)}"}
        user = {"usercode": "kept", "forenames": "K", "surname": "Ept"}
        client.post(f"{API}/users/sync", json=[{"user": user}], headers=headers)
        assert client.post("/_emulator/flush").json() == {"written": True}
        assert client.post("/_emulator/flush").json() == {"written": False}
        expected = state(client)
    assert json.loads(path.read_text()) == expected
    reloaded = Emulator(_options(path))
    assert reloaded.loaded_from_state
    assert state_document(snapshot(reloaded.store)) == expected
    assert reloaded.store.next_user_id == 5
    assert not list(tmp_path.glob(".*.tmp"))


def test_state_is_saved_after_changes_and_at_shutdown(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    emulator = Emulator(_options(path, persist_interval=0.05))
    assert emulator.persister is not None
    with TestClient(create_app(emulator), base_url="http://pi.test") as client:
        headers = {"Authorization": f"Bearer {login(client)}"}
        client.post(f"{API}/roles", json={"name": "Debounced"}, headers=headers)
        # a write already in flight may hold an older snapshot: wait for the one after it
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            not path.exists() or "Debounced" not in path.read_text()
        ):
            time.sleep(0.02)
        assert "Debounced" in path.read_text()
        client.post(f"{API}/roles", json={"name": "AtShutdown"}, headers=headers)
        emulator.persister.interval = 3600  # only the shutdown flush can write it now
    assert "AtShutdown" in path.read_text()


def test_unreadable_state_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StateError) as caught:
        Emulator(_options(path))
    assert str(caught.value).startswith(f"cannot read state file {path}: ")


def test_reset_goes_back_to_the_seed(client: TestClient, auth: dict[str, str]) -> None:
    before = state(client)
    client.post(f"{API}/roles", json={"name": "Temp"}, headers=auth)
    client.delete(f"{API}/users/3", headers=auth)
    response = client.post("/_emulator/reset")
    assert response.json() == {"users": 3, "roles": 2, "categories": 5}
    assert state(client) == before
    # ADMIN's token survives a reset: its user still exists with the same usercode
    assert client.get(f"{API}/roles", headers=auth).status_code == 200


def test_reset_with_a_new_seed(client: TestClient, auth: dict[str, str]) -> None:
    new_seed = {"users": [{"user": {"usercode": "solo", "forenames": "S", "surname": "Olo"}}]}
    assert client.post("/_emulator/reset", json=new_seed).json() == {
        "users": 2,
        "roles": 0,
        "categories": 0,
    }
    client.post(f"{API}/roles", json={"name": "Temp"}, headers=auth)
    client.post("/_emulator/reset")  # the new seed is now the one to go back to
    assert [u["user"]["usercode"] for u in state(client)["users"]] == ["ADMIN", "SOLO"]
    bad = client.post("/_emulator/reset", json={"roles": [{"name": ""}]})
    assert (bad.status_code, bad.json()) == (
        400,
        {"message": "invalid seed: roles[0]: name must be a non-empty string"},
    )


def test_health(client: TestClient) -> None:
    health = client.get("/_emulator/health").json()
    assert (health["status"], health["users"]) == ("ok", 3)
    assert client.post(f"{API}/tokens", headers=basic("admin", "dashboard")).status_code == 200
