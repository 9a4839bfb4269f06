"""The Panintelligence operations pisync performs: each one a request the adapter builds, sent
by the transport, its answer read by the adapter. Nothing here knows a path or a field name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from reconciler.core.model.values import Category, LiveRole
from reconciler.errors import UnexpectedResponse
from reconciler.pi import endpoints, wire
from reconciler.pi.endpoints import Pager, Request
from reconciler.shell.client import Transport


class PiApi:
    """Typed operations over one :class:`~reconciler.shell.client.Transport`."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def url(self) -> str:
        return self.transport.url

    async def __aenter__(self) -> PiApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.__aexit__(*exc)

    async def ensure_token(self) -> None:
        await self.transport.ensure_token()

    async def json(self, request: Request) -> Any:
        """Send ``request``; its JSON answer (statuses >= 400 raise with the server's words)."""
        return endpoints.read_json(await self.transport.send(request), request)

    async def read_all(
        self, pager: Pager, on_page: Callable[[list[Any]], None] | None = None
    ) -> list[Any]:
        """Every item of a list, page by page (see :class:`~reconciler.pi.endpoints.Pager`);
        ``on_page`` gets each page's new items as it arrives (work can start on them: the
        list as a whole is still only complete when this returns)."""
        while (request := pager.next_request()) is not None:
            before = len(pager.items)
            pager.take(await self.json(request))
            if on_page is not None:
                on_page(pager.items[before:])
        return pager.items

    # --- users -----------------------------------------------------------------------------

    async def list_users(
        self,
        keep: Callable[[Any], Any] | None = None,
        on_page: Callable[[list[Any]], None] | None = None,
    ) -> list[Any]:
        """Every user of the list; ``keep(item)`` (when given) is stored instead of each item,
        as its page arrives, so the whole list objects are never all held at once."""
        return await self.read_all(endpoints.users_pager(keep), on_page)

    async def list_administrators(self) -> list[Any]:
        return await self.read_all(endpoints.administrators_pager())

    async def user_summary(self, usercode: str) -> Mapping[str, Any] | None:
        """The list object of one user (with its id), or None when the list has no such user."""
        request = endpoints.user_by_code_request(usercode)
        page = wire.page_info(await self.json(request), request.what)
        return next(
            (
                item
                for item in page.items
                if isinstance(item, Mapping) and wire.user_code(item) == usercode.upper()
            ),
            None,
        )

    async def count_users(self) -> int | None:
        """The server's user count, when its list says so (a page envelope's total)."""
        request = endpoints.user_count_request()
        return wire.page_info(await self.json(request), request.what).total

    async def sync_payload(self, usercode: str) -> dict[str, Any] | None:
        """The user's payload element, or ``None`` when the server says it has no such user."""
        request = endpoints.sync_payload_request(usercode)
        return endpoints.read_sync_payload(await self.transport.send(request), request, usercode)

    async def sync(self, element: dict[str, Any]) -> None:
        await self.json(endpoints.sync_request(element))

    async def delete_user(self, user_id: str, usercode: str) -> None:
        """Delete a user; a "not found" counts as done once a lookup confirms it is gone."""
        request = endpoints.delete_user_request(user_id)
        reply = await self.transport.send(request)
        if reply.status == endpoints.NOT_FOUND and await self.sync_payload(usercode) is None:
            return
        endpoints.raise_for_status(reply, request)

    # --- roles and categories --------------------------------------------------------------

    async def list_roles(self) -> list[LiveRole]:
        return [_read(wire.live_role, o) for o in await self.read_all(endpoints.roles_pager())]

    async def list_categories(self) -> list[Category]:
        items = await self.read_all(endpoints.categories_pager())
        return [_read(wire.category, o) for o in items]

    async def create_role(self, body: dict[str, Any]) -> int:
        """``POST`` the role; the status (a 409 says the role exists), other errors raise."""
        request = endpoints.create_role_request(body)
        reply = await self.transport.send(request)
        if reply.status != endpoints.CONFLICT:
            endpoints.raise_for_status(reply, request)
        return reply.status

    async def update_role(self, role_id: str, body: dict[str, Any]) -> None:
        await self.json(endpoints.update_role_request(role_id, body))

    async def delete_role(self, role_id: str, name: str) -> None:
        """Delete a role; a "not found" counts as done once the role list confirms it."""
        request = endpoints.delete_role_request(role_id)
        reply = await self.transport.send(request)
        if reply.status == endpoints.NOT_FOUND:
            roles = await self.list_roles()
            if not any(r.name.casefold() == name.casefold() for r in roles):
                return
        endpoints.raise_for_status(reply, request)


T = TypeVar("T")


def _read(convert: Callable[[Mapping[str, Any]], T], obj: Any) -> T:
    try:
        return convert(obj)
    except wire.WireError as exc:
        raise UnexpectedResponse(str(exc)) from None
