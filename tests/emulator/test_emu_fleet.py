"""The fleet helper: several real ``pi-emulator`` processes, each with its own seed and options,
all stopped at the end whatever happens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from emu_helpers import SEED
from fleet import Member, StartFleet

from pi_emulator.process import EmulatorProcess, fleet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.json"


def _children() -> list[int]:
    """This process's ``pi-emulator`` children, reaped or not (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(") ")
        ppid = int(rest.split()[1]) if rest else -1
        if ppid == os.getpid() and name.startswith("pi-emulator"):
            found.append(int(entry.name))
    return found


def test_three_emulators_each_with_its_own_seed_and_options(emulator_fleet: StartFleet) -> None:
    emus = emulator_fleet(
        Member(seed=EXAMPLE),
        Member(seed=SEED, args=["--list-shape", "bare", "--latency-ms", "5"]),
        Member(args=["--store-quirk", "sync-additive"]),
    )
    assert len({emu.url for emu in emus}) == 3
    assert [emu.url for emu in emus] == [f"http://127.0.0.1:{e.port}/pi/api/v2" for e in emus]
    assert [emu.control("GET", "health")["users"] for emu in emus] == [10, 3, 1]
    assert [emu.control("GET", "options")["list_shape"] for emu in emus] == [
        "envelope",
        "bare",
        "envelope",
    ]
    assert [emu.control("GET", "faults")["latency_ms"] for emu in emus] == [0.0, 5.0, 0.0]
    assert emus[2].control("GET", "options")["store_quirks"] == ["sync-additive"]


def test_every_emulator_stops_when_the_body_fails(tmp_path: Path) -> None:
    seen: list[EmulatorProcess] = []

    def failing_test_body() -> None:
        with fleet(tmp_path, [Member(), Member()]) as emus:
            seen.extend(emus)
            assert len(_children()) == 2
            raise KeyError("the test failed")

    with pytest.raises(KeyError):
        failing_test_body()
    assert [emu.process.poll() for emu in seen] == [0, 0]
    assert _children() == []


def test_a_member_that_cannot_start_is_named_and_the_others_are_stopped(tmp_path: Path) -> None:
    bad_seed = tmp_path / "bad.json"
    bad_seed.write_text('{"roles": [{"name": "R", "categories": ["Ghost"]}]}', encoding="utf-8")
    with (
        pytest.raises(RuntimeError) as failed,
        fleet(tmp_path, [Member(), Member(seed=bad_seed), Member()]),
    ):
        pytest.fail("the fleet must not start")
    assert str(failed.value) == (
        f"fleet member 1: pi-emulator exited with 2: pi-emulator: invalid seed {bad_seed}: "
        f'roles[0]: unknown category "Ghost"'
    )
    assert _children() == []
