"""Read the live state: users (the list, then the payload of each user that needs it),
roles, categories. A failed, short or inconsistent read raises; it is never read as "no
users" or "new user":

- the user list is read whole or not at all (:class:`~reconciler.pi.endpoints.Pager`);
- a declared user the list leaves out (a server that filters its list, an inconsistent read)
  is looked up by usercode: only the server's own "no such user" makes it absent; a user that
  turns out to exist is read like any other and named in ``LiveState.unlisted``;
- a listed user whose payload the server then says does not exist aborts the read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import replace
from typing import Any

from reconciler.core.diff import KeepPayload
from reconciler.core.model import LiveState, LiveUser
from reconciler.errors import IncompleteRead, UnexpectedResponse
from reconciler.pi import wire
from reconciler.shell import memory
from reconciler.shell.api import PiApi

Progress = Callable[[int, int], None]  # (done, total)


async def read_live(
    api: PiApi,
    *,
    payload_for: Callable[[str], bool],
    declared: Collection[str] = (),
    concurrency: int,
    progress: Progress | None = None,
    keep_payload: KeepPayload | None = None,
) -> LiveState:
    """Everything a plan needs. ``payload_for(usercode)`` says which listed users need their
    full payload (declared users and prune candidates); ``declared`` are the usercodes the
    desired state names, each confirmed present or absent even when the list leaves it out.
    Each payload read becomes a record and a fingerprint; the payload itself is kept only for
    the users ``keep_payload`` (given the categories) picks, all of them without it."""
    await api.ensure_token()  # sign in once, before anything runs in parallel

    def reduce(item: Any) -> tuple[str, dict[str, Any] | LiveUser]:
        """Each list object as its page arrives: a user whose payload will be read keeps
        only what its list object adds to it; the others become LiveUsers at once. The full
        objects (dozens of fields each) are never all held: peak memory at 100,000 users."""
        if not isinstance(item, Mapping):
            raise UnexpectedResponse("the user list: an item is not an object")
        code = wire.user_code(item)
        return code, wire.slim_summary(item) if payload_for(code) else wire.live_user(item, None)

    try:
        async with asyncio.TaskGroup() as group:
            users_task = group.create_task(api.list_users(keep=reduce))
            roles_task = group.create_task(api.list_roles())
            categories_task = group.create_task(api.list_categories())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
    reduced: list[tuple[str, dict[str, Any] | LiveUser]] = users_task.result()
    roles, categories = roles_task.result(), categories_task.result()
    del users_task
    users: dict[str, LiveUser] = {}
    listed: dict[str, dict[str, Any] | None] = {}
    for code, kept in reduced:
        if isinstance(kept, LiveUser):
            users[code] = kept
            listed[code] = None
        else:
            listed[code] = kept
    del reduced
    memory.release()
    wanted = {code: summary for code, summary in listed.items() if summary is not None}
    unlisted = [code for code in sorted(set(declared)) if code not in listed]
    by_name = {c.name.casefold(): c for c in categories}
    keep = None if keep_payload is None else keep_payload(by_name)
    found = await _fetch_payloads(api, wanted, unlisted, users, concurrency, progress, keep)
    return LiveState(
        users=dict(sorted(users.items())),
        roles={r.name.casefold(): r for r in roles},
        categories=by_name,
        unlisted=tuple(found),
    )


async def read_some(
    api: PiApi,
    usercodes: Collection[str],
    *,
    ids_for: Collection[str] = (),
    concurrency: int,
    progress: Progress | None = None,
) -> LiveState:
    """Only the users a partial plan needs, by usercode, never the whole list: each one's
    payload (the server's "no such user" makes it absent), the id of those in ``ids_for``
    (a delete needs it), roles, categories and the server's user count."""
    await api.ensure_token()
    try:
        async with asyncio.TaskGroup() as group:
            roles_task = group.create_task(api.list_roles())
            categories_task = group.create_task(api.list_categories())
            count_task = group.create_task(api.count_users())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
    users: dict[str, LiveUser] = {}
    ids = {c.upper() for c in ids_for}
    queue = iter(sorted({c.upper() for c in usercodes}))
    total, done = len({c.upper() for c in usercodes}), 0

    async def worker() -> None:
        nonlocal done
        for code in queue:
            element = await api.sync_payload(code)
            if element is not None:
                summary = (await api.user_summary(code) if code in ids else None) or (
                    wire.summary_of(code)
                )
                users[code] = wire.live_user(summary, element)
            done += 1
            if progress is not None:
                progress(done, total)

    await run_workers([worker for _ in range(max(1, min(concurrency, total)))])
    return LiveState(
        users=dict(sorted(users.items())),
        roles={r.name.casefold(): r for r in roles_task.result()},
        categories={c.name.casefold(): c for c in categories_task.result()},
        complete=False,
        total_users=count_task.result(),
    )


async def with_administrators(api: PiApi, live: LiveState) -> LiveState:
    """``live`` plus every administrator of the server (from the list: type and state are
    all the last-administrator guard reads), for a partial read."""
    admins = {}
    for item in await api.list_administrators():
        code = wire.user_code(item)
        if code not in live.users:
            admins[code] = wire.live_user(item, None)
    return replace(
        live, users=dict(sorted({**live.users, **admins}.items())), all_administrators=True
    )


async def _fetch_payloads(
    api: PiApi,
    listed: Mapping[str, Mapping[str, Any]],
    unlisted: list[str],
    users: dict[str, LiveUser],
    concurrency: int,
    progress: Progress | None,
    keep: Callable[[LiveUser], bool] | None,
) -> list[str]:
    """The payload of each listed user and each unlisted declared user, ``concurrency`` at a
    time; each becomes a LiveUser as it arrives. Returns the unlisted users that exist."""
    queue = iter([*((code, True) for code in listed), *((code, False) for code in unlisted)])
    total = len(listed) + len(unlisted)
    found: list[str] = []
    done = 0

    async def worker() -> None:
        nonlocal done
        for code, was_listed in queue:
            element = await api.sync_payload(code)
            if element is None and was_listed:
                raise IncompleteRead(
                    f"the server listed user {code} but then said it has no such user (it"
                    " changed while pisync read it?); try again"
                )
            if element is not None:
                summary = listed[code] if was_listed else wire.summary_of(code)
                try:
                    users[code] = wire.live_user(summary, element, keep=keep)
                except wire.WireError as exc:
                    raise UnexpectedResponse(f"the payload of {code}: {exc}") from None
                if not was_listed:
                    found.append(code)
            done += 1
            if progress is not None:
                progress(done, total)
            if done % memory.EVERY == 0:
                memory.release()

    await run_workers([worker for _ in range(max(1, min(concurrency, total)))])
    memory.release()
    return sorted(found)


async def run_workers(workers: list[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run workers together; the first failure cancels the others and is re-raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            for w in workers:
                group.create_task(w())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
