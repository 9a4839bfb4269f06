"""The rate budget: ``server.max_requests_per_second`` (or ``--max-rps``) caps the requests a
run sends in every one-second window, the first one included, every attempt counted.

The requests are timed where they arrive: a recording proxy in front of a real emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import pisync
from tests.e2e.loopback import HttpServer, busiest_second, forward

pytestmark = pytest.mark.e2e

CODES = [f"R{i:02d}" for i in range(20)]
SEED = {"users": [{"user": {"usercode": c, "forenames": "F", "surname": c}} for c in CODES]}


def repo(root: Path, config: str) -> Path:
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    (root / "users" / "a.yaml").write_text(
        "users:\n" + "".join(f"  - {{usercode: {c}, forenames: F, surname: {c}}}\n" for c in CODES),
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize(
    ("config", "args"),
    [("server: {max_requests_per_second: 8}\n", []), ("", ["--max-rps", "8"])],
    ids=["config", "flag"],
)
def test_no_one_second_window_holds_more_than_the_budget(
    emulator_factory: Any, tmp_path: Path, config: str, args: list[str]
) -> None:
    emu = emulator_factory(SEED)
    root = repo(tmp_path / "repo", config)
    free = pisync(["plan"], cwd=root, url=emu.url)
    with HttpServer(forward(emu.base)) as proxy:
        capped = pisync([*args, "plan"], cwd=root, url=proxy.url())
        times = [got.at for got in proxy.received]

    assert (free.code, capped.code) == (0, 0), capped.all
    assert capped.out == free.out
    assert len(times) == 24  # sign-in, three lists, twenty payloads
    # the first second too (a token bucket that starts full lets 16 through)
    assert busiest_second(times) == 8, [round(t - times[0], 3) for t in times]
    # and it keeps the pace after it, not much slower: each of the 8 places in the window
    # is free a second after its last answer
    assert (24 - 8) / 8 <= max(times) - min(times) < 24 / 8 + 1


def test_retries_count_against_the_budget(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(
        SEED,
        "--fail-rate",
        "0.3",
        "--fault-paths",
        "/users/syncPayload",
        "--fault-seed",
        "3",
    )
    root = repo(tmp_path / "repo", "server: {max_requests_per_second: 10}\n")
    with HttpServer(forward(emu.base)) as proxy:
        r = pisync(["-v", "plan"], cwd=root, url=proxy.url())
        times = [got.at for got in proxy.received]

    assert r.code == 0, r.all
    assert r.err.count("retrying after HTTP 500") == len(times) - 24 > 0
    assert busiest_second(times) <= 10
