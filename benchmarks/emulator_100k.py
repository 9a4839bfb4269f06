"""Performance sanity check at 100,000 users (a script, not a test).

    .venv/bin/python benchmarks/emulator_100k.py [--users N]

Writes a seed with N users, starts ``pi-emulator --seed ... --state ...`` on a free port and
times: startup (seed applied through sync validation), paging all users at pageSize=1000,
random ``GET /users/syncPayload`` and ``POST /users/sync`` calls, a filtered scan, and the
debounced state-file write.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from workload import Workload, seed_document

EMULATOR = str(Path(sys.executable).parent / "pi-emulator")
API = "/pi/api/v2"


def make_seed(count: int) -> dict[str, Any]:
    """The shared generator's organisation of ``count`` users, every one on the server."""
    return seed_document(Workload(users=count, changed=0.0))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(label: str, durations: list[float]) -> None:
    durations.sort()
    p95 = durations[int(len(durations) * 0.95) - 1] if len(durations) > 1 else durations[0]
    print(
        f"{label:<38} n={len(durations):<5} mean={statistics.mean(durations) * 1000:7.1f} ms"
        f"  p95={p95 * 1000:7.1f} ms  max={durations[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--no-state", action="store_true", help="run without --state")
    args = parser.parse_args()
    count = args.users
    work = Path(tempfile.mkdtemp(prefix="pi-emulator-perf-"))
    seed_path, state_path = work / "seed.json", work / "state.json"
    seed_path.write_text(json.dumps(make_seed(count)))
    port = free_port()
    started = time.monotonic()
    state_args = [] if args.no_state else ["--state", str(state_path)]
    proc = subprocess.Popen([EMULATOR, "--port", str(port), "--seed", str(seed_path), *state_args])
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                try:
                    if client.get("/_emulator/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            print(f"startup with {count} seeded users: {time.monotonic() - started:.2f} s")
            run(client, count, state_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def run(client: httpx.Client, count: int, state_path: Path) -> None:
    token = client.post(f"{API}/tokens", headers={"Authorization": "Basic admin:dashboard"})
    client.headers["Authorization"] = f"Bearer {token.json()['token']}"
    pages: list[float] = []
    seen = 0
    page = 1
    while True:
        t = time.monotonic()
        body = client.get(f"{API}/users", params={"page": page, "pageSize": 1000}).json()
        pages.append(time.monotonic() - t)
        seen += len(body["content"])
        if body["last"]:
            break
        page += 1
    assert seen == count + 1, seen
    timed("GET /users?pageSize=1000 (every page)", pages)
    rng = random.Random(1)
    codes = [f"U{rng.randrange(count):06d}" for _ in range(300)]
    reads: list[float] = []
    payloads = []
    for code in codes:
        t = time.monotonic()
        payloads.append(client.get(f"{API}/users/syncPayload", params={"usercode": code}).json())
        reads.append(time.monotonic() - t)
    timed("GET /users/syncPayload", reads)
    writes: list[float] = []
    for payload in payloads[:300]:
        payload[0]["user"]["lite"] = not payload[0]["user"]["lite"]
        t = time.monotonic()
        assert client.post(f"{API}/users/sync", json=payload).status_code == 200
        writes.append(time.monotonic() - t)
    timed("POST /users/sync (update)", writes)
    scans: list[float] = []
    for _ in range(10):
        t = time.monotonic()
        client.get(f"{API}/users", params={"email(like)": "99@", "userTypeId(eq)": "4"})
        scans.append(time.monotonic() - t)
    timed("GET /users with 2 filters (full scan)", scans)
    t = time.monotonic()
    if not client.post("/_emulator/flush").json()["written"] and not state_path.exists():
        return
    print(f"state file after writes: {state_path.stat().st_size / 1e6:.1f} MB "
          f"(final flush {time.monotonic() - t:.2f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
