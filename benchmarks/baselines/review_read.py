"""Baseline: the live read of ``pisync review`` alone, through pisync's own client: sign in,
the user list with every user's payload, roles, categories, and the server's user count.

    python benchmarks/baselines/review_read.py URL CONCURRENCY

Prints ``{"users", "roles", "categories", "count"}`` as JSON. What the review adds to this
(the desired state, git, the rows and their outputs) is what bench_review.py measures.
"""

from __future__ import annotations

import json
import sys

from reconciler.core.model.config import Config, ServerConfig
from reconciler.shell.loop import run
from reconciler.shell.server.connect import open_server
from reconciler.shell.server.live import read_live
from reconciler.shell.settings import Settings


async def read(url: str, concurrency: int) -> dict[str, int | None]:
    config = Config(server=ServerConfig(url=url, concurrency=concurrency, timeout=60))
    async with open_server(Settings(), config, url) as server:
        live = await read_live(
            server,
            payload_for=lambda code: True,
            concurrency=concurrency,
            keep_payload=lambda categories: lambda user: False,  # as the review: no copies
        )
        count = await server.api.count_users()
    return {
        "users": len(live.users),
        "roles": len(live.roles),
        "categories": len(live.categories),
        "count": count,
    }


if __name__ == "__main__":
    print(json.dumps(run(read(sys.argv[1], int(sys.argv[2])))))
