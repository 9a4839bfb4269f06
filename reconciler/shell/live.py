"""Read the live state: users (list, then syncPayload for the users that need it), roles,
categories. Any failed or partial read raises; it is never read as "no users"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.core.model import LiveRole, LiveState, LiveUser
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
    try:
        roles = _roles(lists.pop(wire.ROLES))
        categories = {
            c.name.casefold(): c for c in (wire.category(o) for o in lists.pop(wire.CATEGORIES))
        }
        # Reduce the user list at once: a user whose syncPayload will be read needs only its
        # id from the list, the others become LiveUsers now. The full list objects (dozens
        # of fields each) are freed before the payloads arrive: peak memory at 100,000 users.
        users: dict[str, LiveUser] = {}
        slim: dict[str, dict[str, Any]] = {}
        for code, summary in _by_usercode(lists.pop(wire.USERS)).items():
            if payload_for(code):
                slim[code] = {k: summary[k] for k in _SLIM if k in summary}
            else:
                users[code] = wire.live_user(summary, None)
    except wire.WireError as exc:
        raise UnexpectedResponse(str(exc)) from None
    await _fetch_payloads(client, slim, users, concurrency, progress)
    return LiveState(users=dict(sorted(users.items())), roles=roles, categories=categories)


#: what a user's list object contributes once its syncPayload is read
_SLIM = ("usercode", "id", "superAdmin")


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
    client: PiClient,
    slim: Mapping[str, Mapping[str, Any]],
    users: dict[str, LiveUser],
    concurrency: int,
    progress: Progress | None,
) -> None:
    """syncPayload for each code in ``slim`` with ``concurrency`` workers (not one task per
    user); each becomes a LiveUser as it arrives, so no parsed payload outlives its turn."""
    queue = iter(list(slim))
    total = len(slim)
    done = 0

    async def worker() -> None:
        nonlocal done
        for code in queue:
            element = await client.sync_payload(code)
            try:
                users[code] = wire.live_user(slim[code], element)
            except wire.WireError as exc:
                raise UnexpectedResponse(f"syncPayload for {code}: {exc}") from None
            done += 1
            if progress is not None:
                progress(done, total)

    await run_workers([worker for _ in range(max(1, min(concurrency, total)))])


async def run_workers(workers: list[Callable[[], Any]]) -> None:
    """Run workers together; the first failure cancels the others and is re-raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            for w in workers:
                group.create_task(w())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
