"""Where a connection's settings come from: ``pisync.yaml``'s server keys, the flags and the
environment, through the one function every command (doctor included) builds its transport
with."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.model.config import Config
from reconciler.errors import UsageError
from reconciler.shell.server.connect import transport_for
from reconciler.shell.settings import Settings, verify_tls

URL = "https://pi.example.com/pi/api/v2"


@pytest.mark.parametrize(
    ("server", "concurrency", "auto", "ceiling"),
    [
        ({}, 8, False, 32),
        ({"concurrency": 4}, 4, False, 32),
        ({"concurrency": "auto"}, 32, True, 32),
        ({"concurrency": "auto", "max_concurrency": 12}, 12, True, 12),
        ({"concurrency": 4, "max_concurrency": 12}, 4, False, 12),
    ],
)
def test_concurrency_keys(
    server: dict[str, Any], concurrency: int, auto: bool, ceiling: int
) -> None:
    got = Config.from_dict({"server": server}).server
    assert (got.concurrency, got.auto_concurrency, got.max_concurrency) == (
        concurrency,
        auto,
        ceiling,
    )


@pytest.mark.parametrize(
    ("configured", "env", "checked"),
    [
        (True, {}, True),
        (False, {}, False),
        (False, {"PISYNC_VERIFY_TLS": "true"}, True),
        (False, {"PISYNC_VERIFY_TLS": "TRUE "}, True),
        (True, {"PISYNC_VERIFY_TLS": "false"}, False),
        (False, {"PISYNC_VERIFY_TLS": ""}, False),
    ],
)
def test_pisync_verify_tls_wins_over_pisync_yaml(
    configured: bool, env: dict[str, str], checked: bool
) -> None:
    config = Config.from_dict({"server": {"verify_tls": configured}})
    assert verify_tls(Settings(env=env), config) is checked


def test_pisync_verify_tls_takes_only_true_or_false() -> None:
    with pytest.raises(UsageError, match=r"^PISYNC_VERIFY_TLS must be true or false"):
        verify_tls(Settings(env={"PISYNC_VERIFY_TLS": "1"}), Config())


@pytest.mark.parametrize(
    ("server", "parallelism", "limit", "auto"),
    [
        ({}, None, 8, False),
        ({"concurrency": "auto"}, None, 2, True),
        ({"concurrency": "auto"}, 5, 5, False),  # apply --parallelism N: N, fixed
        ({"concurrency": 3}, None, 3, False),
    ],
)
def test_the_transport_gets_the_in_flight_limit(
    server: dict[str, Any], parallelism: int | None, limit: int, auto: bool
) -> None:
    config = Config.from_dict({"server": server})
    transport = transport_for(Settings(env={}), config, URL, parallelism=parallelism)
    assert (transport.in_flight.limit, transport.in_flight.auto) == (limit, auto)
