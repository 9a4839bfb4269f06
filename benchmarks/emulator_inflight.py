"""The emulator's own CPU per ``GET /users/syncPayload`` under a plan-like load.

    .venv/bin/python benchmarks/emulator_inflight.py [--users 100000] [--requests 20000]
        [--inflight 16] [--latency-ms 20] [--client httpx|aiohttp] [-- EMULATOR-ARGS...]

Starts ``pi-emulator`` seeded with N users (the shared generator's, ``workload.py``) and
``--latency-ms``, reads every page of ``GET /users?pageSize=1000`` once, then ``--requests``
syncPayload reads with ``--inflight`` httpx requests in flight, and prints the startup time and
the emulator's CPU per request (from /proc, so Linux only), and the client's. The emulator's
CPU per request depends on how requests arrive (fewer per wake-up costs more each), so it is
worth measuring with httpx (what pisync uses) and with aiohttp (a client that keeps up; install
it by hand, it is not a dependency). With ``PYTHONPATH`` pointing at another checkout's
``pi_emulator`` the same command measures that one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from emulator_100k import make_seed

from pi_emulator.process import EmulatorProcess


async def read_pages(client: Any) -> int:
    pages = 0
    while True:
        pages += 1
        body = (await client.get("/users", params={"page": pages, "pageSize": 1000})).json()
        items = body if isinstance(body, list) else body["content"]
        if len(items) < 1000:
            return pages


async def read_payloads(client: Any, codes: list[str], inflight: int) -> int:
    pending = iter(codes)
    failed = 0

    async def worker() -> None:
        nonlocal failed
        for code in pending:
            response = await client.get("/users/syncPayload", params={"usercode": code})
            failed += response.status_code != 200

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return failed


class AiohttpClient:
    """The two calls this script makes, through aiohttp, shaped like httpx's."""

    def __init__(self, url: str, inflight: int) -> None:
        import aiohttp

        self.url = url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=inflight), raise_for_status=False
        )
        self.headers: dict[str, str] = {}

    async def get(self, path: str, params: dict[str, object]) -> _Answer:
        query = {k: str(v) for k, v in params.items()}
        async with self.session.get(self.url + path, params=query, headers=self.headers) as r:
            return _Answer(r.status, await r.read())

    async def post(self, path: str, headers: dict[str, str]) -> _Answer:
        async with self.session.post(self.url + path, headers=headers) as r:
            return _Answer(r.status, await r.read())


class _Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


async def drive(emu: EmulatorProcess, args: argparse.Namespace) -> None:
    if args.client == "aiohttp":
        session = AiohttpClient(emu.url, args.inflight)
        try:
            await measure(emu, args, session)
        finally:
            await session.session.close()
        return
    limits = httpx.Limits(max_connections=args.inflight, max_keepalive_connections=args.inflight)
    async with httpx.AsyncClient(base_url=emu.url, limits=limits, timeout=60) as client:
        await measure(emu, args, client)


async def measure(emu: EmulatorProcess, args: argparse.Namespace, client: Any) -> None:
    token = await client.post("/tokens", headers={"Authorization": "Basic admin:dashboard"})
    client.headers["Authorization"] = f"Bearer {token.json()['token']}"
    cpu, started = emu.cpu_seconds(), time.monotonic()
    pages = await read_pages(client)
    used = emu.cpu_seconds() - cpu
    print(f"{pages} list pages: {time.monotonic() - started:.1f} s, "
          f"emulator CPU {used / pages * 1000:.1f} ms per page")  # fmt: skip
    codes = [f"U{(i * 7919) % args.users:06d}" for i in range(args.requests)]
    cpu, started, mine = emu.cpu_seconds(), time.monotonic(), time.process_time()
    failed = await read_payloads(client, codes, args.inflight)
    wall, used = time.monotonic() - started, emu.cpu_seconds() - cpu
    mine = time.process_time() - mine
    ideal = len(codes) * args.latency_ms / 1000 / args.inflight
    print(f"{len(codes)} syncPayload at {args.inflight} in flight, latency {args.latency_ms:g} ms: "
          f"{wall:.1f} s (ideal {ideal:.1f} s), emulator CPU {used / len(codes) * 1000:.3f} ms "
          f"per request (client {mine / len(codes) * 1000:.3f} ms), {failed} failed")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--inflight", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--client", choices=["httpx", "aiohttp"], default="httpx")
    parser.add_argument("emulator_args", nargs="*", help="more pi-emulator options (after --)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pi-emulator-inflight-"))
    try:
        seed = work / "seed.json"
        seed.write_text(json.dumps(make_seed(args.users)))
        started = time.monotonic()
        extra = ["--latency-ms", str(args.latency_ms), *args.emulator_args]
        with EmulatorProcess.start(work, seed=seed, args=extra, ready_timeout=300) as emu:
            print(f"startup with {args.users} seeded users: {time.monotonic() - started:.2f} s "
                  f"(emulator CPU {emu.cpu_seconds():.2f} s)")  # fmt: skip
            asyncio.run(drive(emu, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
