"""Baseline: every read a plan or an import does, with a bare client and the same requests in
flight: sign in, the three lists page by page, then the payloads.

    python benchmarks/baselines/raw_reads.py httpx|aiohttp URL CONCURRENCY [CODES.json]

Without CODES, every listed user's payload is read (what an import reads). With CODES (a JSON
list of the declared usercodes, what a plan reads), the payload of every declared user: the
listed ones as each list page arrives, then the ones the list left out, each one request that
the server answers 404 (the absence check a plan makes before it calls a user new).

Prints ``{"users", "payloads", "absent", "roles", "categories", "requests"}`` as JSON. No
retries, no checks beyond the status, nothing kept: the floor pisync's reads are compared
with (bench_plan.py, bench_import.py). ``aiohttp`` is the leanest client there is.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

PAGE = 500
BASIC = "Basic " + base64.b64encode(b"admin:dashboard").decode()

#: (path, params) -> (status, JSON body or None)
Get = Callable[[str, dict[str, Any]], Awaitable[tuple[int, Any]]]


async def read_everything(get: Get, concurrency: int, declared: list[str] | None) -> dict[str, int]:
    counts = {"users": 0, "payloads": 0, "absent": 0, "roles": 0, "categories": 0, "requests": 0}
    wanted = None if declared is None else set(declared)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    listed: set[str] = set()

    async def listing(path: str, key: str, on_item: Callable[[Any], None] | None) -> None:
        page = 1
        while True:
            status, body = await get(path, {"page": page, "pageSize": PAGE})
            counts["requests"] += 1
            if status != 200:
                raise SystemExit(f"{path}: status {status}")
            counts[key] += len(body["content"])
            if on_item is not None:
                for item in body["content"]:
                    on_item(item)
            if body["last"] or not body["content"]:
                return
            page += 1

    def user(item: Any) -> None:
        code = item["usercode"].upper()
        listed.add(code)
        if wanted is None or code in wanted:
            queue.put_nowait(code)

    async def users() -> None:
        await listing("/users", "users", user)
        for code in declared or ():
            if code.upper() not in listed:
                queue.put_nowait(code)
        for _ in range(concurrency):
            queue.put_nowait(None)

    async def worker() -> None:
        while (code := await queue.get()) is not None:
            status, _ = await get("/users/syncPayload", {"usercode": code})
            counts["requests"] += 1
            if status == 200:
                counts["payloads"] += 1
            elif status == 404 and code not in listed:
                counts["absent"] += 1
            else:
                raise SystemExit(f"syncPayload {code}: status {status}")

    await asyncio.gather(
        users(),
        listing("/roles", "roles", None),
        listing("/categories", "categories", None),
        *(worker() for _ in range(concurrency)),
    )
    return counts


async def with_httpx(url: str, concurrency: int, declared: list[str] | None) -> dict[str, int]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        r = await http.post("/tokens", json={}, headers={"Authorization": BASIC})
        http.headers["Authorization"] = "Bearer " + r.json()["token"]

        async def get(path: str, params: dict[str, Any]) -> tuple[int, Any]:
            r = await http.get(path, params=params)
            return r.status_code, r.json() if r.status_code == 200 else None

        counts = await read_everything(get, concurrency, declared)
    counts["requests"] += 1  # the sign-in
    return counts


async def with_aiohttp(url: str, concurrency: int, declared: list[str] | None) -> dict[str, int]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(url + "/tokens", json={}, headers={"Authorization": BASIC}) as r:
            auth = {"Authorization": "Bearer " + (await r.json())["token"]}

        async def get(path: str, params: dict[str, Any]) -> tuple[int, Any]:
            async with http.get(url + path, params=params, headers=auth) as r:
                body = await r.read()
                return r.status, json.loads(body) if r.status == 200 else None

        counts = await read_everything(get, concurrency, declared)
    counts["requests"] += 1
    return counts


def main(argv: list[str]) -> None:
    client, url, concurrency = argv[0], argv[1], int(argv[2])
    declared = json.loads(Path(argv[3]).read_text(encoding="utf-8")) if len(argv) > 3 else None
    run = {"httpx": with_httpx, "aiohttp": with_aiohttp}[client]
    print(json.dumps(asyncio.run(run(url, concurrency, declared))))


if __name__ == "__main__":
    main(sys.argv[1:])
