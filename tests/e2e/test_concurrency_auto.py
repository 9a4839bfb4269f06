"""``server.concurrency: auto`` against a real emulator that serves at most K requests at once
(``--capacity K``; the rest queue): behaviour, read from what ``-v`` prints each time the
in-flight limit changes, never from timing figures.

- with no other setting, the limit climbs from 2 and settles near K;
- when the server's latency doubles mid-run (``PUT /_emulator/faults``), the limit comes down
  within seconds;
- a 429 halves it;
- it never passes ``server.max_concurrency``.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PISYNC, pisync

pytestmark = pytest.mark.e2e

LIMIT = re.compile(r"^in flight: at most (\d+) \(was (\d+); (.*)\)$")
START = "in flight: at most 2 to start (server.concurrency: auto, up to {ceiling})"


def organisation(root: Path, users: int, config: str) -> tuple[Path, dict[str, Any]]:
    """A repository declaring ``users`` users exactly as the seed has them (a plan reads
    each one's payload and finds nothing to change)."""
    codes = [f"U{i:05d}" for i in range(users)]
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    (root / "users" / "all.yaml").write_text(
        "users:\n" + "".join(f"  - {{usercode: {c}, forenames: F, surname: S}}\n" for c in codes),
        encoding="utf-8",
    )
    seed = {"users": [{"user": {"usercode": c, "forenames": "F", "surname": "S"}} for c in codes]}
    return root, seed


@dataclass(frozen=True)
class Change:
    at: float  # when the line was read (time.monotonic())
    limit: int
    was: int
    why: str


def changes(err: str, at: float = 0.0) -> list[Change]:
    found = []
    for line in err.splitlines():
        m = LIMIT.match(line)
        if m:
            found.append(Change(at, int(m[1]), int(m[2]), m[3]))
    return found


def test_auto_climbs_from_two_and_settles_near_the_servers_capacity(
    emulator_factory: Any, tmp_path: Path
) -> None:
    capacity = 8
    root, seed = organisation(tmp_path / "repo", 1000, "server:\n  concurrency: auto\n")
    # 50 ms: a busy machine's own delay in each answer (tens of ms under the full test suite)
    # must not pass for the server's queue
    emu = emulator_factory(seed, "--capacity", str(capacity), "--latency-ms", "50")

    r = pisync(["-v", "plan"], cwd=root, url=emu.url)

    assert r.code == 0, r.err[-3000:]
    assert r.err.splitlines()[0] == START.format(ceiling=32)
    steps = changes(r.err)
    assert [s.limit for s in steps[:2]] == [4, 8]  # slow start: doubling while answers hold
    assert all(s.limit <= 32 for s in steps)
    # after slow start's overshoot (the highest limit), it settles a few above K: the server
    # never idles between an answer and the next request (a short run may change the limit
    # only twice after the overshoot, so the overshoot itself is not part of the median)
    peak = max(range(len(steps)), key=lambda i: steps[i].limit)
    settled = [s.limit for s in steps[peak + 1 :]]
    assert settled, steps  # it came down from the overshoot
    # (a loaded machine's noise in each answer can add a few more: far under the ceiling)
    assert capacity <= statistics.median(settled) <= 2 * capacity, settled
    assert any(s.why.startswith("answers slowed to ") for s in steps)  # it found the queue
    stats = emu.control("GET", "stats")
    assert stats["peak_serving"] == capacity


def test_auto_never_passes_max_concurrency(emulator_factory: Any, tmp_path: Path) -> None:
    config = "server:\n  concurrency: auto\n  max_concurrency: 3\n"
    root, seed = organisation(tmp_path / "repo", 200, config)
    emu = emulator_factory(seed, "--latency-ms", "10")
    emu.control("DELETE", "stats")

    r = pisync(["-v", "plan"], cwd=root, url=emu.url)

    assert r.code == 0, r.err[-3000:]
    assert r.err.splitlines()[0] == START.format(ceiling=3)
    assert max(s.limit for s in changes(r.err)) == 3  # 2 -> 3, and no further
    assert emu.control("GET", "stats")["peak_serving"] == 3


def test_auto_lowers_the_limit_within_seconds_when_the_latency_doubles(
    emulator_factory: Any, tmp_path: Path
) -> None:
    root, seed = organisation(tmp_path / "repo", 2000, "server:\n  concurrency: auto\n")
    emu = emulator_factory(seed, "--capacity", "8", "--latency-ms", "30")
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(
        [PISYNC, "-v", "plan"],
        cwd=root,
        env=env_for(emu.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    reader = threading.Thread(
        target=lambda: lines.extend((time.monotonic(), line.rstrip("\n")) for line in proc.stderr),
        daemon=True,
    )
    reader.start()
    try:
        # let it settle: 600 payloads read (about 2 s at 8 in flight and 30 ms)
        deadline = time.monotonic() + 60
        while sum(1 for _, x in list(lines) if x.startswith("GET /users/syncPayload")) < 600:
            assert time.monotonic() < deadline, lines[-20:]
            assert proc.poll() is None, lines[-20:]
            time.sleep(0.05)
        before = [c.limit for c in changes_in(lines, until=time.monotonic())][-10:]
        doubled_at = time.monotonic()
        emu.control("PUT", "faults", {"latency_ms": 60})
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)

    after = [c for c in changes_in(lines, since=doubled_at) if c.at < doubled_at + 3.0]
    settled = statistics.mean(before)
    assert settled >= 8, before
    lowest = min(c.limit for c in after)
    assert lowest <= settled / 2, (before, [(c.limit, c.why) for c in after])
    assert any(c.why.startswith("answers slowed to ") for c in after)


def test_auto_halves_the_limit_on_a_429(emulator_factory: Any, tmp_path: Path) -> None:
    root, seed = organisation(tmp_path / "repo", 600, "server:\n  concurrency: auto\n")
    emu = emulator_factory(
        seed,
        *("--capacity", "8", "--latency-ms", "20", "--rate-limit-rate", "0.03"),
        *("--retry-after", "0", "--fault-paths", "/users/syncPayload", "--fault-seed", "5"),
    )

    r = pisync(["-v", "plan"], cwd=root, url=emu.url)

    assert r.code == 0, r.err[-3000:]
    cuts = [s for s in changes(r.err) if s.why == "the server is overloaded: HTTP 429"]
    assert cuts, r.err[-3000:]
    assert all(s.limit == max(1, s.was // 2) or s.limit < s.was for s in cuts)
    assert r.err.count("-> 429 (") >= len(cuts)


def changes_in(
    lines: list[tuple[float, str]], *, since: float = 0.0, until: float = float("inf")
) -> list[Change]:
    return [
        Change(at, c.limit, c.was, c.why)
        for at, line in list(lines)
        if since <= at < until
        for c in changes(line)
    ]


def env_for(url: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
    env.update(PISYNC_URL=url, PISYNC_USERNAME="admin", PISYNC_PASSWORD="dashboard")
    env.update(NO_COLOR="1", PISYNC_TODAY="2026-11-26")
    return env
