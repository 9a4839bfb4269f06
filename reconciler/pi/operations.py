"""Pisync's operations on a Panintelligence server, over an injected ``send``.

Each operation is one or a few requests built by :mod:`~reconciler.pi.endpoints`, sent by the
``send`` it is given (the shell's transport, which signs in, retries and limits; a plain
function in tests, as :mod:`~reconciler.pi.probe` is given one), and its answers read into
live values (:class:`~reconciler.core.model.values.LiveUser`, ``LiveRole``, ``Category``).
What an answer means to an operation is decided here, and nowhere else:

- a 404 on a payload read is "no such user" (:func:`~reconciler.pi.endpoints.read_sync_payload`);
- a 404 on a delete is done only once a lookup confirms the object is gone;
- a 409 on a role create says the role exists; a create whose answer was lost
  (:func:`~reconciler.pi.statuses.outcome_unknown`) is sent again only when the role list shows
  it never arrived, and a role found there is made to match the plan.

No I/O of its own: no clock, no network but through ``send``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.core.model.values import ROLE_FIELDS, Category, LiveRole, LiveState, LiveUser
from reconciler.core.plans.compare import same
from reconciler.core.plans.plan import Action, Change, Kind
from reconciler.errors import PisyncError, ServerError, StoredDifferently, UnexpectedResponse
from reconciler.pi import endpoints, statuses, wire
from reconciler.pi.endpoints import GUESSES, Pager
from reconciler.pi.messages import Request, Send
from reconciler.pi.verify import role_differences, stored_message, user_differences

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListedUser:
    """A user of the list whose payload is still to be read: what its list object adds to the
    payload (its id and flags), and nothing else, so that the whole list objects are never all
    held at once. Opaque outside the adapter: hand it back to :meth:`PiApi.read_user`."""

    usercode: str
    summary: Mapping[str, Any]


#: Which users a plan merges a write onto: their server copy is kept (the others' dropped).
KeepCopy = Callable[[LiveUser], bool]


class PiApi:
    """The operations pisync performs, over one ``send`` (see the module docstring)."""

    def __init__(self, send: Send) -> None:
        self._send = send

    # --- users -----------------------------------------------------------------------------

    async def list_users(
        self,
        *,
        payload_for: Callable[[str], bool],
        on_page: Callable[[list[LiveUser | ListedUser]], None] | None = None,
    ) -> list[LiveUser | ListedUser]:
        """Every user of the list, each as its page arrives: a :class:`ListedUser` for the
        usercodes ``payload_for`` picks (their payload is read next), a LiveUser of its list
        object for the others. ``on_page`` gets each page's users as it arrives."""

        def reduce(item: Any) -> LiveUser | ListedUser:
            if not isinstance(item, Mapping):
                raise UnexpectedResponse("the user list: an item is not an object")
            code = wire.user_code(item)
            if payload_for(code):
                return ListedUser(code, wire.slim_summary(item))
            return wire.live_user(item, None)

        return await self._read_all(endpoints.users_pager(reduce), on_page)

    async def list_administrators(self, *, besides: Collection[str] = ()) -> list[LiveUser]:
        """Every administrator of the server but those in ``besides`` (usercodes), from the
        list: their type and state, no payload."""
        admins = []
        for item in await self._read_all(endpoints.administrators_pager()):
            if wire.user_code(item) not in besides:
                admins.append(wire.live_user(item, None))
        return admins

    async def read_user(
        self,
        usercode: str,
        *,
        listed: ListedUser | None = None,
        find_id: bool = False,
        keep: KeepCopy | None = None,
    ) -> LiveUser | None:
        """The user with its payload, or None when the server says it has no such user.

        ``listed``: what its list object said; without it the user is read by usercode alone,
        and ``find_id`` looks its id up in the list (a delete needs it). ``keep`` says whether
        its server copy is kept (always, without ``keep``).
        """
        element = await self.sync_payload(usercode)
        if element is None:
            return None
        if listed is not None:
            summary = listed.summary
        elif find_id:
            summary = await self._user_summary(usercode) or wire.summary_of(usercode)
        else:
            summary = wire.summary_of(usercode)
        try:
            return wire.live_user(summary, element, keep=keep)
        except wire.WireError as exc:
            raise UnexpectedResponse(f"the payload of {usercode}: {exc}") from None

    async def first_users(self, count: int) -> list[tuple[str, bool]]:
        """The first ``count`` users of the list (one page): each usercode, and whether it is
        the super admin."""
        request = endpoints.list_page(endpoints.USERS, 1, count)
        page = wire.page_info(await self._json(request), request.what)
        return [
            (wire.user_code(item), item.get("superAdmin") is True)
            for item in page.items[:count]
            if isinstance(item, Mapping)
        ]

    async def user_id(self, usercode: str) -> str | None:
        """The id of a user, from its list object (None: the list does not have it)."""
        summary = await self._user_summary(usercode)
        return None if summary is None or summary.get("id") is None else wire.ident(summary["id"])

    async def count_users(self) -> int | None:
        """The server's user count, when its list says so (a page envelope's total)."""
        request = endpoints.user_count_request()
        return wire.page_info(await self._json(request), request.what).total

    async def sync_payload(self, usercode: str) -> dict[str, Any] | None:
        """The user's payload element, or ``None`` when the server says it has no such user."""
        request = endpoints.sync_payload_request(usercode)
        return endpoints.read_sync_payload(await self._send(request), request, usercode)

    async def _user_summary(self, usercode: str) -> Mapping[str, Any] | None:
        """The list object of one user (with its id), or None when the list has no such user."""
        request = endpoints.user_by_code_request(usercode)
        page = wire.page_info(await self._json(request), request.what)
        return next(
            (
                item
                for item in page.items
                if isinstance(item, Mapping) and wire.user_code(item) == usercode.upper()
            ),
            None,
        )

    # --- roles and categories --------------------------------------------------------------

    async def list_roles(self) -> list[LiveRole]:
        return [_read(wire.live_role, o) for o in await self._read_all(endpoints.roles_pager())]

    async def list_categories(self) -> list[Category]:
        items = await self._read_all(endpoints.categories_pager())
        return [_read(wire.category, o) for o in items]

    # --- writes ----------------------------------------------------------------------------

    async def write(
        self, change: Change, live: LiveState, secrets: Mapping[str, str], *, verify: bool = True
    ) -> None:
        """The request(s) of one change of a plan made against ``live``: a user create, update
        or disable is one sync of the complete payload (the server's copy with the plan's
        values overlaid); a delete deletes by id; roles are created, updated or deleted.

        ``verify``: then prove the write landed as sent (:mod:`reconciler.pi.verify`): from the
        sync or role answer when it carries the stored object, else with one read; a write
        stored otherwise raises :class:`~reconciler.errors.StoredDifferently`."""
        if change.kind is Kind.ROLE:
            await self._write_role(change, live, verify)
            return
        if change.action is Action.DELETE:
            confirmed = await self._delete_user(_required_id(change), change.key)
            if verify and not confirmed and await self.sync_payload(change.key) is not None:
                raise StoredDifferently(
                    f"{change.label} was deleted (the server said so) but can still be read"
                    f" (guess U14: {GUESSES['U14']})"
                )
            return
        current = live.users.get(change.key)
        base = wire.json_of(current.server_copy) if current is not None else None
        if change.action is not Action.CREATE and base is None:
            base = await self.sync_payload(change.key)
            if base is None:
                raise PisyncError(f"{change.label} no longer exists on the server")
        element = wire.sync_element(
            base, change.key, change.desired, secrets, changed_variables=True
        )
        answer = await self._json(endpoints.sync_request(element))
        if verify:
            await self._verify_user(change, element, answer)

    async def _verify_user(self, change: Change, sent: dict[str, Any], answer: Any) -> None:
        stored = wire.stored_element(answer, change.key) or await self.sync_payload(change.key)
        if stored is None:
            raise StoredDifferently(
                f"{change.label} was written (the server answered the sync) but then the server"
                " said it has no such user"
            )
        try:
            differences = user_differences(sent, stored)
        except wire.WireError as exc:
            raise UnexpectedResponse(f"the stored payload of {change.key}: {exc}") from None
        if differences:
            raise StoredDifferently(stored_message(change.label, differences))

    async def _delete_user(self, user_id: str, usercode: str) -> bool:
        """Delete a user; a "not found" counts as done once a lookup confirms it is gone
        (then True: confirmed gone already)."""

        async def gone() -> bool:
            return await self.sync_payload(usercode) is None

        return await self._delete(endpoints.delete_user_request(user_id), gone)

    async def _write_role(self, change: Change, live: LiveState, verify_it: bool) -> None:
        current = live.roles.get(change.key.casefold())
        if change.action is Action.CREATE:
            stored = await self._create_role(change)
        elif change.action is Action.UPDATE:
            base = current.server_copy if current is not None else None
            stored = await self._update_role(
                _required_id(change), wire.role_body(change.key, change.desired, base)
            )
        else:
            confirmed = await self._delete_role(_required_id(change), change.key)
            if verify_it and not confirmed and await self._find_role(change.key) is not None:
                raise StoredDifferently(
                    f"{change.label} was deleted (the server said so) but is still listed"
                    f" (guess U13: {GUESSES['U13']})"
                )
            return
        if not verify_it:
            return
        found = stored or await self._find_role(change.key)
        if found is None:
            raise StoredDifferently(
                f"{change.label} was written (the server said so) but is not listed"
                f" (guess U13: {GUESSES['U13']})"
            )
        differences = role_differences(change.desired, found)
        if differences:
            raise StoredDifferently(stored_message(change.label, differences))

    async def _create_role(self, change: Change) -> LiveRole | None:
        """Create a role without ever sending it twice to a server that may have processed it:
        when the answer is lost, the role list says whether the create arrived; "exists" on a
        second send means the first landed late, and the role found is made to match. The
        stored role when an answer carried it."""
        body = wire.role_body(change.key, change.desired, None)
        try:
            status, stored = await self._post_role(body, change.key)
            if status != statuses.CONFLICT:
                return stored
        except ServerError as exc:
            if not statuses.outcome_unknown(exc):
                raise
        found = await self._find_role(change.key)
        if found is None:
            status, stored = await self._post_role(body, change.key)
            if status != statuses.CONFLICT:  # it never arrived: resend
                return stored
            found = await self._find_role(change.key)
            if found is None:
                raise PisyncError(
                    f"{change.label}: the server says the role exists but does not list it"
                )
        if not _role_matches(found, change.desired):
            return await self._update_role(
                found.id, wire.role_body(change.key, change.desired, found.server_copy)
            )
        return found

    async def _post_role(self, body: dict[str, Any], name: str) -> tuple[int, LiveRole | None]:
        """``POST`` the role: the status (a 409 says the role exists; other errors raise) and
        the stored role when the answer is one."""
        request = endpoints.create_role_request(body)
        reply = await self._send(request)
        if reply.status == statuses.CONFLICT:
            return reply.status, None
        statuses.raise_for_status(reply, request)
        answer: Any
        try:  # created whatever its body says: an unreadable one only means "look it up"
            answer = endpoints.read_json(reply, request)
        except UnexpectedResponse:
            answer = None
        return reply.status, _role_answer(answer, name)

    async def _update_role(self, role_id: str, body: dict[str, Any]) -> LiveRole | None:
        """``PUT`` the role; the stored role when the answer is one."""
        return _role_answer(
            await self._json(endpoints.update_role_request(role_id, body)), str(body["name"])
        )

    async def _delete_role(self, role_id: str, name: str) -> bool:
        """Delete a role; a "not found" counts as done once the role list confirms it (then
        True: confirmed gone already)."""

        async def gone() -> bool:
            return await self._find_role(name) is None

        return await self._delete(endpoints.delete_role_request(role_id), gone)

    async def _delete(self, request: Request, gone: Callable[[], Awaitable[bool]]) -> bool:
        """Send a delete: done (False), or a "not found" that ``gone()`` confirms (True); else
        it raises."""
        reply = await self._send(request)
        if reply.status == statuses.NOT_FOUND and await gone():
            return True
        statuses.raise_for_status(reply, request)
        return False

    async def _find_role(self, name: str) -> LiveRole | None:
        roles = await self.list_roles()
        return next((r for r in roles if r.name.casefold() == name.casefold()), None)

    # --- reading ---------------------------------------------------------------------------

    async def _json(self, request: Request) -> Any:
        """Send ``request``; its JSON answer (statuses >= 400 raise with the server's words)."""
        return endpoints.read_json(await self._send(request), request)

    async def _read_all(
        self, pager: Pager, on_page: Callable[[list[T]], None] | None = None
    ) -> list[Any]:
        """Every item of a list, page by page (see :class:`~reconciler.pi.endpoints.Pager`);
        ``on_page`` gets each page's new items as it arrives (work can start on them: the
        list as a whole is still only complete when this returns)."""
        while (request := pager.next_request()) is not None:
            before = len(pager.items)
            pager.take(await self._json(request))
            if on_page is not None:
                on_page(pager.items[before:])
        return pager.items


def _role_answer(body: Any, name: str) -> LiveRole | None:
    """The role a create or update answered with [G U13: the role object], when it is one
    (and the one written); None for anything else (an empty answer): the role list says."""
    if not isinstance(body, Mapping) or not isinstance(body.get("name"), str):
        return None
    try:
        role = wire.live_role(body)
    except wire.WireError:
        return None
    return role if role.name.casefold() == name.casefold() else None


def _role_matches(role: LiveRole, desired: Mapping[str, Any]) -> bool:
    """Whether a role found on the server already is what the plan wants (as the diff
    compares roles: :func:`~reconciler.core.plans.compare.same`)."""
    return all(same(k, desired[k], role.fields.get(k)) for k in ROLE_FIELDS if k in desired)


def _required_id(change: Change) -> str:
    if change.live_id is None:
        raise PisyncError(
            f"{change.label}: the plan has no server id for this {change.action.value}"
        )
    return change.live_id


def _read(convert: Callable[[Mapping[str, Any]], T], obj: Any) -> T:
    try:
        return convert(obj)
    except wire.WireError as exc:
        raise UnexpectedResponse(str(exc)) from None
