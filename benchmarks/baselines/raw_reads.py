"""Baseline: every read a plan or an import does, with a bare httpx client and the same
requests in flight: sign in, the three lists page by page, then every user's payload.

    python benchmarks/baselines/raw_reads.py URL CONCURRENCY

Prints ``{"users", "payloads", "roles", "categories"}`` as JSON. No retries, no checks beyond
the status: the floor pisync's reads are compared with (bench_plan.py, bench_import.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from typing import Any

import httpx

PAGE = 500


async def read_everything(url: str, concurrency: int) -> dict[str, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        basic = base64.b64encode(b"admin:dashboard").decode()
        r = await http.post("/tokens", json={}, headers={"Authorization": f"Basic {basic}"})
        http.headers["Authorization"] = "Bearer " + r.json()["token"]

        async def listing(path: str) -> list[Any]:
            items: list[Any] = []
            page = 1
            while True:
                r = await http.get(path, params={"page": page, "pageSize": PAGE})
                r.raise_for_status()
                body = r.json()
                items += body["content"]
                if body["last"] or not body["content"]:
                    return items
                page += 1

        users, roles, cats = await asyncio.gather(
            listing("/users"), listing("/roles"), listing("/categories")
        )
        codes = iter([u["usercode"] for u in users])
        payloads: dict[str, Any] = {}

        async def worker() -> None:
            for code in codes:
                r = await http.get("/users/syncPayload", params={"usercode": code})
                r.raise_for_status()
                payloads[code] = r.json()[0]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {
            "users": len(users),
            "payloads": len(payloads),
            "roles": len(roles),
            "categories": len(cats),
        }


def main(argv: list[str]) -> None:
    url, concurrency = argv[0], int(argv[1])
    print(json.dumps(asyncio.run(read_everything(url, concurrency))))


if __name__ == "__main__":
    main(sys.argv[1:])
