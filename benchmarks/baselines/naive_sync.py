"""Baseline: a naive apply that syncs every user's complete payload, one per request, with the
same requests in flight, through httpx or aiohttp.

    python benchmarks/baselines/naive_sync.py httpx|aiohttp URL CONCURRENCY PAYLOADS.json

Prints ``{"sent": N}`` as JSON. What pisync's apply (which writes only what differs) is
compared with in bench_plan.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BASIC = base64.b64encode(b"admin:dashboard").decode()


async def with_httpx(url: str, concurrency: int, payloads: Iterator[Any]) -> int:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        r = await http.post("/tokens", json={}, headers={"Authorization": f"Basic {BASIC}"})
        http.headers["Authorization"] = "Bearer " + r.json()["token"]
        sent = 0

        async def worker() -> None:
            nonlocal sent
            for element in payloads:
                (await http.post("/users/sync", json=[element])).raise_for_status()
                sent += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sent


async def with_aiohttp(url: str, concurrency: int, payloads: Iterator[Any]) -> int:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(
            url + "/tokens", json={}, headers={"Authorization": f"Basic {BASIC}"}
        ) as r:
            token = (await r.json())["token"]
        auth = {"Authorization": "Bearer " + token}
        sent = 0

        async def worker() -> None:
            nonlocal sent
            for element in payloads:
                async with http.post(url + "/users/sync", json=[element], headers=auth) as r:
                    r.raise_for_status()
                    await r.read()
                sent += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sent


def main(argv: list[str]) -> None:
    client, url, concurrency, file = argv[0], argv[1], int(argv[2]), Path(argv[3])
    payloads = iter(json.loads(file.read_text(encoding="utf-8")))
    run = {"httpx": with_httpx, "aiohttp": with_aiohttp}[client]
    print(json.dumps({"sent": asyncio.run(run(url, concurrency, payloads))}))


if __name__ == "__main__":
    main(sys.argv[1:])
