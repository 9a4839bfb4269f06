"""Read the live state: users (list, then syncPayload for the users that need it), roles,
categories. Any failed or partial read raises; it is never read as "no users"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.core.model import LiveRole, LiveState
from reconciler.errors import UnexpectedResponse
from reconciler.pi import wire
from reconciler.shell.client import PiClient

Progress = Callable[[int, int], None]  # (done, total)


async def read_live(
    client: PiClient,
    *,
    payload_for: Callable[[str], bool],
    concurrency: int,
    progress: Progress | None = None,
) -> LiveState:
    """Read everything a plan needs. ``payload_for(usercode)`` says which users need their
    full syncPayload (declared users and prune candidates); the rest keep the list object."""
    await client.ensure_token()  # sign in once, before anything runs in parallel
    lists: dict[str, list[Mapping[str, Any]]] = {}

    def reader(path: str, what: str) -> Callable[[], Any]:
        async def read() -> None:
            lists[path] = await client.list_all(path, what)

        return read

    await run_workers(
        [
            reader(wire.USERS, "users"),
            reader(wire.ROLES, "roles"),
            reader(wire.CATEGORIES, "categories"),
        ]
    )
    users_raw, roles_raw, cats_raw = (
        lists[wire.USERS],
        lists[wire.ROLES],
        lists[wire.CATEGORIES],
    )
    summaries = _by_usercode(users_raw)
    wanted = [code for code in summaries if payload_for(code)]
    payloads = await _fetch_payloads(client, wanted, concurrency, progress)
    try:
        users = {
            code: wire.live_user(summary, payloads.get(code)) for code, summary in summaries.items()
        }
        roles = _roles(roles_raw)
        categories = {c.name.casefold(): c for c in (wire.category(o) for o in cats_raw)}
    except wire.WireError as exc:
        raise UnexpectedResponse(str(exc)) from None
    return LiveState(users=users, roles=roles, categories=categories)


def _by_usercode(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise UnexpectedResponse("GET /users: a list item is not an object")
        try:
            code = wire.user_code(item)
        except wire.WireError as exc:
            raise UnexpectedResponse(f"GET /users: {exc}") from None
        if code in out:
            raise UnexpectedResponse(
                f"GET /users returned user {code} twice (paging moved under us?); try again"
            )
        out[code] = item
    return out


def _roles(items: Iterable[Mapping[str, Any]]) -> dict[str, LiveRole]:
    return {r.name.casefold(): r for r in (wire.live_role(o) for o in items)}


async def _fetch_payloads(
    client: PiClient, codes: list[str], concurrency: int, progress: Progress | None
) -> dict[str, dict[str, Any]]:
    """syncPayload for each code with ``concurrency`` workers (not one task per user)."""
    out: dict[str, dict[str, Any]] = {}
    queue = iter(codes)
    total = len(codes)

    async def worker() -> None:
        for code in queue:
            out[code] = await client.sync_payload(code)
            if progress is not None:
                progress(len(out), total)

    await run_workers([worker for _ in range(max(1, min(concurrency, total)))])
    return out


async def run_workers(workers: list[Callable[[], Any]]) -> None:
    """Run workers together; the first failure cancels the others and is re-raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            for w in workers:
                group.create_task(w())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
