"""Fixtures: an in-process emulator behind Starlette's TestClient, ADMIN's Bearer headers, and
a fleet of real emulator processes (fleet.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from emu_helpers import Clock, TestClient, login, make_emulator
from fleet import emulator_fleet

from pi_emulator import Emulator, ShapeConfig, create_app

__all__ = ["emulator_fleet"]  # a fixture, for the tests of this folder


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Emulator:
    return make_emulator(clock=clock)


@pytest.fixture
def client(emulator: Emulator) -> Iterator[TestClient]:
    with TestClient(create_app(emulator), base_url="http://pi.test") as test_client:
        yield test_client


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    """Bearer headers for the super admin."""
    return {"Authorization": f"Bearer {login(client)}"}


@pytest.fixture
def shaped() -> Iterator[Any]:
    """A factory: a client signed in as ADMIN of an emulator with these shape options."""
    clients: list[TestClient] = []

    def build(**options: Any) -> TestClient:
        emulator = make_emulator(shape=ShapeConfig().updated(options))
        client = TestClient(create_app(emulator), base_url="http://pi.test")
        client.headers["Authorization"] = f"Bearer {login(client)}"
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
