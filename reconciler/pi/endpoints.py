"""Every request pisync sends to the Panintelligence API, as a value, and how each answer is read.

The shell's transport (:mod:`reconciler.shell.server.transport`) knows HTTP, retries and
time; it knows no Panintelligence path, parameter, header scheme, status meaning or body key.
It sends the :class:`~reconciler.pi.messages.Request` values built here and hands back a
:class:`~reconciler.pi.messages.Reply`, which the functions here read (what a status means:
:mod:`reconciler.pi.statuses`; the operations that combine requests:
:mod:`reconciler.pi.operations`).

Choices the public sources do not establish are marked ``[G Un]`` with their item in the API
reference's list of unknowns (README, "API compatibility"; the marks of every module of
``reconciler/pi/`` are collected by :data:`GUESSES`, which a test compares with the README
table).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from reconciler.errors import AuthenticationFailed, IncompleteRead, UnexpectedResponse
from reconciler.pi import wire
from reconciler.pi.messages import Reply, Request
from reconciler.pi.statuses import NOT_FOUND, TOKEN_REFUSED, error_message, raise_for_status

#: Where the v2 API lives below the server root [C §1.1]; doctor suggests it.
BASE_PATH: Final = "/pi/api/v2"
#: Items per page asked for [G U16]; servers may cap it lower, and paging copes (see Pager).
PAGE_SIZE: Final = 500
#: Pages after which a list that never ends is refused (a server bug, not a big list).
MAX_PAGES: Final = 100_000


# --- answers ----------------------------------------------------------------------------


def read_json(reply: Reply, request: Request) -> Any:
    """The JSON body of a successful answer (``None`` for an empty one)."""
    raise_for_status(reply, request)
    if reply.status == 204 or not reply.body:
        return None
    return reply.json(request.what)


# --- authentication ----------------------------------------------------------------------


def token_request(username: str, password: str) -> Request:
    """``POST /tokens`` with ``Basic base64(user:password)`` [C §1.2]; the body is optional
    and every field of it is, so pisync sends ``{}``."""
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    return Request(
        method="POST",
        path="/tokens",
        body={},
        auth=False,
        headers=(("Authorization", f"Basic {basic}"),),
    )


def bearer(token: str) -> tuple[str, str]:
    """The header every other request carries [C §1.3]."""
    return ("Authorization", f"Bearer {token}")


def token_of(headers: Mapping[str, str]) -> str | None:
    """The token a request was sent with (to tell whether another task already replaced it)."""
    value = headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def read_token(reply: Reply, request: Request, *, url: str, username: str) -> str:
    """The token of a sign-in answer [C §1.2: ``{"token": "..."}``].

    401 means the credentials were refused [G §1.2]; any other answer that is not a token
    means the URL is not the Panintelligence API (a wrong base path answers 404, a web page
    answers HTML): say so, and what the URL usually ends with.
    """
    if reply.status == TOKEN_REFUSED:
        raise AuthenticationFailed(
            f"the server rejected the credentials of PISYNC_USERNAME ({username}):"
            " check PISYNC_USERNAME and PISYNC_PASSWORD"
        )
    body: Any = None
    if 200 <= reply.status < 300:
        try:
            body = json.loads(reply.body)
        except ValueError:
            body = None
    if isinstance(body, Mapping) and isinstance(body.get("token"), str) and body["token"]:
        return str(body["token"])
    said = f"HTTP {reply.status}" if reply.status >= 300 else f"HTTP {reply.status} without a token"
    raise UnexpectedResponse(
        f"{url} does not answer like the Panintelligence API ({request.what} returned {said});"
        f" the URL usually ends in {BASE_PATH}",
        status=reply.status,
    )


def token_refused_message(reply: Reply) -> str:
    """Why a PISYNC_TOKEN was refused, in the server's words when it gives any."""
    return (
        f"the server refused PISYNC_TOKEN ({reply.status}: {error_message(reply)}); set a fresh"
        " token, or PISYNC_USERNAME and PISYNC_PASSWORD so pisync can sign in itself"
    )


# --- lists and paging --------------------------------------------------------------------

USERS: Final = "/users"
ROLES: Final = "/roles"  # [G U13]
CATEGORIES: Final = "/categories"


def list_page(
    path: str, page: int, size: int = PAGE_SIZE, where: tuple[tuple[str, str], ...] = ()
) -> Request:
    """One page of a list: ``page`` 1-based and ``pageSize`` (§4.1), and ``where`` filters."""
    query = (("page", str(page)), ("pageSize", str(size)), *where)
    return Request(method="GET", path=path, query=query)


def where(field: str, op: str, value: str) -> tuple[str, str]:
    """A list filter ``field(op)=value`` (§4.2: eq, ne, gt, lt, ge, le, like, nlike)."""
    return (f"{field}({op})", value)


class Pager:
    """Reads a whole list page by page, and refuses to take a part of it as the whole.

    End-of-list rules (the public sources show a ``{content: [...]}`` envelope [G U16,
    U17] or a bare array on servers that do not page):

    - an envelope ends at ``last: true``, an empty page, or when ``totalElements`` items have
      arrived; a count that then disagrees with ``totalElements`` is an incomplete read;
    - a bare array ends at a page shorter than asked for, or an empty page; a full page is
      followed by the next one. A next page that repeats the previous one means the server
      ignores ``page``: the first page was the whole list if it was longer than asked for
      (the server ignores paging), but if it was exactly as long as asked for the rest of the
      list cannot be read, and that is refused;
    - an item seen twice (``key``) means the list moved while it was read: refused.
    """

    def __init__(
        self,
        path: str,
        noun: str,
        *,
        key: str | None = None,
        size: int = PAGE_SIZE,
        filters: tuple[tuple[str, str], ...] = (),
        keep: Callable[[Any], Any] | None = None,
    ):
        self.path = path
        self.noun = noun
        self._filters = filters
        self._keep = keep  # what of each item to keep, as its page arrives (memory)
        self.items: list[Any] = []
        self._key = key
        self._size = size
        self._page = 1
        self._done = False
        self._seen: set[str] = set()
        self._previous: list[str] | None = None
        self.enveloped: bool | None = None
        self.total: int | None = None

    def next_request(self) -> Request | None:
        if self._done:
            return None
        if self._page > MAX_PAGES:
            raise IncompleteRead(f"GET {self.path}: paging did not end after {MAX_PAGES:,} pages")
        return list_page(self.path, self._page, self._size, self._filters)

    def take(self, body: Any) -> None:
        """Add one page's answer (already decoded JSON)."""
        page = wire.page_info(body, f"GET {self.path}")
        self.enveloped = page.enveloped
        if page.enveloped:
            self._take_envelope(page)
        else:
            self._take_bare(page.items)
        self._page += 1

    def _take_envelope(self, page: wire.Page) -> None:
        self._add(page.items)
        self.total = page.total
        done = (
            page.last is True
            or not page.items
            or (page.total is not None and len(self.items) >= page.total)
        )
        if done:
            self._done = True
            if page.total is not None and len(self.items) != page.total:
                raise IncompleteRead(
                    f"GET {self.path}: the server reported {page.total} {self.noun} but returned"
                    f" {len(self.items)}; not planning from an incomplete list"
                )

    def _take_bare(self, items: list[Any]) -> None:
        previous, self._previous = self._previous, self._identities(items)
        if previous is not None and items and self._previous == previous:
            self._done = True  # the server ignores page=: the first page is all it gives
            if len(previous) == self._size:
                raise IncompleteRead(
                    f"GET {self.path}: the server returns only the first {self._size}"
                    f" {self.noun} and ignores the page parameter; not planning from a list"
                    " that may be cut short"
                )
            return
        self._add(items)
        if len(items) < self._size:
            self._done = True

    def _identities(self, items: Sequence[Any]) -> list[str]:
        """What tells two pages apart (the items themselves are not kept: see ``keep``)."""
        if self._key is not None:
            return [wire.item_key(i, self._key, f"GET {self.path}") for i in items]
        return [json.dumps(i, sort_keys=True, default=str) for i in items]

    def _add(self, items: Sequence[Any]) -> None:
        if self._key is not None:
            for item in items:
                code = wire.item_key(item, self._key, f"GET {self.path}")
                if code in self._seen:
                    raise IncompleteRead(
                        f"GET {self.path} returned {code} twice (the list changed while it was"
                        " read?); try again"
                    )
                self._seen.add(code)
        self.items.extend(items if self._keep is None else map(self._keep, items))


def users_pager(keep: Callable[[Any], Any] | None = None) -> Pager:
    return Pager(USERS, "users", key="usercode", keep=keep)


def administrators_pager() -> Pager:
    """The administrators only (the last-administrator guard of a partial read)."""
    return Pager(USERS, "administrators", key="usercode", filters=(where("userTypeId", "eq", "0"),))


def user_by_code_request(usercode: str) -> Request:
    """The list object of one user: its id (a delete needs it), by a usercode filter."""
    return list_page(USERS, 1, 2, (where("usercode", "eq", usercode),))


def user_count_request() -> Request:
    """A one-user page: its envelope's ``totalElements`` is the server's user count."""
    return list_page(USERS, 1, 1)


def roles_pager() -> Pager:
    return Pager(ROLES, "roles")


def categories_pager() -> Pager:
    return Pager(CATEGORIES, "categories")


# --- users -------------------------------------------------------------------------------

SYNC_PAYLOAD_PARAM: Final = "usercode"  # [G U5]; doctor also tries the alternatives
SYNC_PAYLOAD_ALTERNATIVES: Final = ("usercode", "userId", "id")  # [G U5]


def sync_payload_request(usercode: str, param: str = SYNC_PAYLOAD_PARAM) -> Request:
    """``GET /users/syncPayload?usercode=X`` [C path, G U5 parameter]."""
    return Request(method="GET", path="/users/syncPayload", query=((param, usercode),))


def read_sync_payload(reply: Reply, request: Request, usercode: str) -> dict[str, Any] | None:
    """The user's payload element, or ``None`` when the server says there is no such user
    (404 [G U18]). Nothing else ever reads as "no such user"."""
    if reply.status == NOT_FOUND:
        return None
    body = read_json(reply, request)
    try:
        return wire.payload_element(body, usercode)
    except wire.WireError as exc:
        raise UnexpectedResponse(str(exc)) from None


def sync_request(element: Mapping[str, Any]) -> Request:
    """``POST /users/sync`` with ONE element, one user per call [G U7]. Sending the complete
    payload again is harmless, so it may be retried."""
    return Request(method="POST", path="/users/sync", body=[dict(element)])


def delete_user_request(user_id: str) -> Request:
    """``DELETE /users/{id}`` [G U14]."""
    return Request(method="DELETE", path=f"/users/{user_id}")


# --- roles -------------------------------------------------------------------------------


def create_role_request(body: Mapping[str, Any]) -> Request:
    """``POST /roles`` [G U13]: NOT idempotent (a second send could create a duplicate or
    answer 409), so the transport never resends it once it may have arrived."""
    return Request(method="POST", path=ROLES, body=dict(body), idempotent=False)


def update_role_request(role_id: str, body: Mapping[str, Any]) -> Request:
    return Request(method="PUT", path=f"{ROLES}/{role_id}", body=dict(body))  # [G U13]


def delete_role_request(role_id: str) -> Request:
    return Request(method="DELETE", path=f"{ROLES}/{role_id}")  # [G U13]


# --- the guesses, for the README's compatibility table ------------------------------------

#: Every ``[G]`` item of the adapter (this module and :mod:`reconciler.pi.wire`), by reference
#: id: what pisync does about it. The README's "API compatibility" table lists exactly these.
GUESSES: Final[Mapping[str, str]] = {
    "§1.2": "`POST /tokens` answered 401 means the credentials were refused",
    "§3.1": "`POST /users/sync` is not additive: an omitted or empty `userRoles`,"
    " `userCategories`, `variables` or `restrictions` clears it",
    "§3.3": "a user's parent is written as `parentIdentifier` (`parentId` is read-only)",
    "U1": "variables elements `{name, value, isSecure}`",
    "U2": "restrictions elements, one per value, `{dataConnectionIdentifier, columnIdentifier,"
    " value}` (also read: `{connection, column, values}` and a `values` array)",
    "U3": "userRoles elements `{roleIdentifier}` (also read: a bare string, `name`, `roleName`,"
    " `identifier`, `description`)",
    "U4": "userCategories elements `{categoryIdentifier}` (also read: a bare string,"
    " `description`, `name`, `identifier`)",
    "U5": "`GET /users/syncPayload?usercode=` (doctor also tries `userId` and `id`)",
    "U6": "`POST /users/sync` answers the stored payload array: apply verifies each write"
    " from it, and reads the user back when the answer is anything else",
    "U7": "one user per `POST /users/sync`, as a one-element array",
    "U8": "what a new user gets for the fields pisync does not send: type User, enabled,"
    " external sign-in only, no roles or categories, the privileges accessAccount, audit,"
    " clientExcludePasswordExpiry, editOwnPassword, logoutEnabled and pdf (`import` leaves"
    " these out of the files it writes)",
    "U10": "`userExpirationDate` as `YYYY-MM-DD` or `null`",
    "U12": "only the super administrator may create users through `POST /users/sync`; an"
    " account with `editUsers` may update them",
    "U13": "roles at `GET/POST /roles`, `PUT/DELETE /roles/{id}`, as `{id, name, description,"
    " categories, privileges}`; 409 on create means the role exists",
    "U14": "user delete `DELETE /users/{id}`; a 404 means the user is gone",
    "U15": "a category's parent in `parentId`",
    "U16": "list envelope `{content, totalElements, last}`; `page` (1-based) and `pageSize=500`",
    "U17": "`GET /users` as a bare array or an envelope, paged either way",
    "U18": "errors: the body's `message` (else `error`, `detail`, or the text); 404 means"
    " not found",
    "U19": "one sign-in per run; a 401 signs in again",
    "U22": "read-only fields never sent: `id`, `readableUserCode`, `superAdmin`,"
    " `passwordExpired`, `parentId`, `orgId`, `ownerOrgId`",
    "U24": "the privilege flags sent are stored as sent, whatever the user type",
}


def guess_ids(sources: Iterable[str]) -> set[str]:
    """The reference ids (``U5``, ``§1.2``) inside the ``[G …]`` marks of source texts (for
    the test that keeps :data:`GUESSES` complete)."""
    return {
        uid
        for text in sources
        for mark in re.findall(r"\[G ([^\]]*)\]", text)
        for uid in re.findall(r"U\d+|§\d+(?:\.\d+)*", mark)
    }
