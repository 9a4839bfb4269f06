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
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import replace
from typing import Any

from reconciler.core.diff.changes import KeepPayload
from reconciler.core.model.values import Category, LiveState, LiveUser
from reconciler.errors import IncompleteRead
from reconciler.pi.operations import ListedUser, PiApi
from reconciler.shell import memory
from reconciler.shell.server.connect import Server

Progress = Callable[[int, int], None]  # (done, total)


async def read_live(
    server: Server,
    *,
    payload_for: Callable[[str], bool],
    declared: Collection[str] = (),
    concurrency: int,
    progress: Progress | None = None,
    keep_payload: KeepPayload | None = None,
    on_user: Callable[[LiveUser], None] | None = None,
    on_declared: Callable[[Mapping[str, Category]], Callable[[str, LiveUser | None], None]]
    | None = None,
) -> LiveState:
    """Everything a plan needs. ``payload_for(usercode)`` says which listed users need their
    full payload (declared users and prune candidates); ``declared`` are the usercodes the
    desired state names, each confirmed present or absent even when the list leaves it out.
    Each payload read becomes a record and a fingerprint; the payload itself is kept only for
    the users ``keep_payload`` (given the categories) picks, all of them without it.

    The reads are one pipeline: payloads are read as soon as the list page naming the user
    has arrived, while the next pages are read (a listed user exists, whatever the rest of the
    list holds). Only what needs the whole list waits for it: looking up the declared users
    it left out. Any failure (the list's own end-of-list checks included) fails the read.
    ``on_user`` is called with each user as soon as it is read (the review makes its rows
    while the rest arrive). ``on_declared``, given the categories, makes the function called
    with each user whose payload was read and each declared user the server does not have
    (None), as soon as that is known (the plan diffs each user while the rest arrive).
    """
    await server.sign_in()  # once, before anything runs in parallel
    api = server.api
    reads = _PayloadReads(api, progress, on_user)

    def on_page(items: list[LiveUser | ListedUser]) -> None:
        """Each page as it arrives: a user whose payload will be read keeps only what its list
        object adds to it (a ListedUser); the others are LiveUsers at once. The full objects
        (dozens of fields each) are never all held: peak memory at 100,000 users."""
        for item in items:
            if isinstance(item, LiveUser):
                reads.users[item.usercode] = item
                if on_user is not None:
                    on_user(item)
            else:
                reads.add(item.usercode, item)

    async def users_then_unlisted() -> None:
        reduced = await api.list_users(payload_for=payload_for, on_page=on_page)
        listed = {item.usercode for item in reduced}
        del reduced
        memory.release()
        reads.finish([code for code in sorted(set(declared)) if code not in listed])

    async def categories_then_keep() -> dict[str, Category]:
        by_name = {c.name.casefold(): c for c in await api.list_categories()}
        reads.keep = None if keep_payload is None else keep_payload(by_name)
        reads.on_declared = None if on_declared is None else on_declared(by_name)
        reads.ready.set()
        return by_name

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(users_then_unlisted())
            roles_task = group.create_task(api.list_roles())
            categories_task = group.create_task(categories_then_keep())
            for _ in range(max(1, concurrency)):
                group.create_task(reads.worker())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
    memory.release()
    return LiveState(
        users=dict(sorted(reads.users.items())),
        roles={r.name.casefold(): r for r in roles_task.result()},
        categories=categories_task.result(),
        unlisted=tuple(sorted(reads.found)),
    )


class _PayloadReads:
    """The payload reads of :func:`read_live`: a queue the list fills page by page (then the
    unlisted declared users), emptied by ``concurrency`` workers; each payload becomes a
    LiveUser as it arrives."""

    def __init__(
        self,
        api: PiApi,
        progress: Progress | None,
        on_user: Callable[[LiveUser], None] | None = None,
    ) -> None:
        self.api = api
        self.progress = progress
        self.on_user = on_user
        self.users: dict[str, LiveUser] = {}
        self.found: list[str] = []  # unlisted declared users that exist
        self.keep: Callable[[LiveUser], bool] | None = None
        self.on_declared: Callable[[str, LiveUser | None], None] | None = None
        self.ready = asyncio.Event()  # the categories (and so ``keep``) are known
        self._queue: deque[tuple[str, ListedUser | None]] = deque()
        self._more = asyncio.Event()
        self._finished = False
        self._queued = 0
        self._done = 0

    def add(self, code: str, listed: ListedUser | None) -> None:
        """Queue one payload read: a listed user or, with ``listed`` None, a declared user
        the list left out."""
        self._queue.append((code, listed))
        self._queued += 1
        self._more.set()

    def finish(self, unlisted: list[str]) -> None:
        """The list is complete: queue the declared users it left out, then stop the workers
        once the queue is empty."""
        for code in unlisted:
            self.add(code, None)
        self._finished = True
        self._more.set()

    async def worker(self) -> None:
        await self.ready.wait()
        while True:
            if not self._queue:
                if self._finished:
                    return
                self._more.clear()
                await self._more.wait()
                continue
            code, listed = self._queue.popleft()
            await self._read(code, listed)

    async def _read(self, code: str, listed: ListedUser | None) -> None:
        user = await self.api.read_user(code, listed=listed, keep=self.keep)
        if user is None and listed is not None:
            raise IncompleteRead(
                f"the server listed user {code} but then said it has no such user (it"
                " changed while pisync read it?); try again"
            )
        if user is not None:
            self.users[code] = user
            if listed is None:
                self.found.append(code)
            if self.on_user is not None:
                self.on_user(user)
        if self.on_declared is not None:
            self.on_declared(code, user)
        self._done += 1
        if self.progress is not None:
            self.progress(self._done, self._queued)
        if self._done % memory.EVERY == 0:
            memory.release()


async def read_some(
    server: Server,
    usercodes: Collection[str],
    *,
    ids_for: Collection[str] = (),
    concurrency: int,
    progress: Progress | None = None,
) -> LiveState:
    """Only the users a partial plan needs, by usercode, never the whole list: each one's
    payload (the server's "no such user" makes it absent), the id of those in ``ids_for``
    (a delete needs it), roles, categories and the server's user count."""
    await server.sign_in()
    api = server.api
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
            user = await api.read_user(code, find_id=code in ids)
            if user is not None:
                users[code] = user
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


async def with_administrators(server: Server, live: LiveState) -> LiveState:
    """``live`` plus every administrator of the server (from the list: type and state are
    all the last-administrator guard reads), for a partial read."""
    admins = {a.usercode: a for a in await server.api.list_administrators(besides=live.users)}
    return replace(
        live, users=dict(sorted({**live.users, **admins}.items())), all_administrators=True
    )


async def with_users(server: Server, live: LiveState, usercodes: Collection[str]) -> LiveState:
    """``live`` with the whole record (the payload) of each of ``usercodes`` the server has."""
    found = {}
    for code in sorted(usercodes):
        user = await server.api.read_user(code)
        if user is not None:
            found[code] = user
    return replace(live, users=dict(sorted({**live.users, **found}.items())))


async def run_workers(workers: list[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run workers together; the first failure cancels the others and is re-raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            for w in workers:
                group.create_task(w())
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
