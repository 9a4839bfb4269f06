"""``pisync doctor``'s probe: every assumption the adapter makes, tried against a real server.

Read-only: only ``POST /tokens`` (signing in) and ``GET`` requests are sent. Each check says
what pisync assumes, what the server did — as shapes and counts only, never a name, an email
or a value — and what to change (in this package) when it differs. Where the reference lists
alternatives (the syncPayload parameter, the Basic forms), each is tried and the answer named.

The probe is given ``send``, which sends one request as built (no sign-in, no token added) and
returns the reply; it does no I/O of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from reconciler.core.model.checks import Check, Findings, Result
from reconciler.core.model.privileges import PRIVILEGES
from reconciler.errors import ConnectionFailed, IncompleteRead, PisyncError, UnexpectedResponse
from reconciler.pi import endpoints, statuses, wire
from reconciler.pi.messages import Reply, Request, Send

#: How many users' payloads are read to find an example of each element kind.
SAMPLE = 30
#: A usercode no server has (the not-found check asks for it).
ABSENT = "PISYNC-DOCTOR-NO-SUCH-USER"
_WHERE = "reconciler/pi/endpoints.py"
_WIRE = "reconciler/pi/wire.py"


@dataclass(frozen=True, slots=True, kw_only=True)
class Login:
    username: str | None = None
    password: str | None = None
    token: str | None = None


async def probe(send: Send, *, url: str, login: Login, account: str | None = None) -> Findings:
    """Every check, in a fixed order; a failure that stops the rest makes them UNKNOWN, and
    when it is not about the API (no server, refused credentials) :attr:`Findings.stopped`
    says what is wrong and what to do. ``account``: the usercode pisync signs in as (None:
    not known), for the account check."""
    p = _Probe(send, url, account)
    try:
        token = await p.sign_in(login)
        if token is None:
            p.checks += [_unknown(c, "not signed in") for c in _AFTER_SIGN_IN]
            return p.findings()
        await p.run_signed_in(token)
    except ConnectionFailed as exc:  # the server went away, or was never there
        done = {c.id for c in p.checks}
        if not p.connected:
            p.add("connect", "no answer", Result.UNKNOWN, detail=str(exc))
            p.stopped = STOPPED_NO_SERVER
        else:
            p.stopped = STOPPED_GONE
        p.checks += [_unknown(c, "not reached") for c in _BEFORE_SIGN_IN + _AFTER_SIGN_IN
                     if c[0] not in done and c[0] != "connect"]  # fmt: skip
    return p.findings()


#: Why the checks stopped, when it is not about the API (what is wrong, what to do).
STOPPED_NO_SERVER = (
    "pisync could not connect to the server: check the URL (PISYNC_URL, or server.url in"
    " pisync.yaml) and that the server is up, then run pisync doctor again."
)
STOPPED_GONE = (
    "The server stopped answering part-way through: check that it is up, then run pisync"
    " doctor again."
)
STOPPED_CREDENTIALS = (
    "The server refused the credentials (HTTP 401): check PISYNC_USERNAME and"
    " PISYNC_PASSWORD, then run pisync doctor again."
)
STOPPED_BEARER = (
    "The server refused PISYNC_TOKEN (HTTP 401): set a fresh token, or PISYNC_USERNAME and"
    " PISYNC_PASSWORD so that pisync signs in itself, then run pisync doctor again."
)


def _stopped_not_api(status: int) -> str:
    return (
        f"The URL does not answer like the Panintelligence API (POST /tokens answered HTTP"
        f" {status}): it usually ends in {endpoints.BASE_PATH}; check PISYNC_URL (or"
        " server.url in pisync.yaml), then run pisync doctor again."
    )


_AFTER_SIGN_IN: tuple[tuple[str, str, str], ...] = (
    ("bearer", "every other request carries Authorization: Bearer <token>", "§1.3"),
    ("users-list", "GET /users answers a page envelope {content: [...]} or a bare array", "U17"),
    ("users-paging", "GET /users honours page (1-based) and pageSize", "U16"),
    ("users-total", "the list's totalElements matches the users it returns", "U16"),
    ("account", "the account pisync signs in with is the super administrator, the only one"
     " that may create users through POST /users/sync", "U12"),
    ("sync-payload-param", "GET /users/syncPayload?usercode=X answers user X", "U5"),
    ("sync-payload-shape", "syncPayload is one element {user, variables, restrictions, userRoles,"
     " userCategories}", "§3.2"),
    ("user-fields", "the user section has the fields pisync maps, with their types", "§3.3"),
    ("expiry-format", "userExpirationDate is YYYY-MM-DD or null", "U10"),
    ("role-refs", "userRoles elements are {roleIdentifier}", "U3"),
    ("category-refs", "userCategories elements are {categoryIdentifier}", "U4"),
    ("variables", "variables elements are {name, value, isSecure}", "U1"),
    ("restrictions", "restrictions elements are {dataConnectionIdentifier, columnIdentifier,"
     " value}, one per value", "U2"),
    ("roles", "GET /roles lists {id, name, description, categories, privileges}", "U13"),
    ("categories", "GET /categories lists {id, description, parentId}", "U15"),
    ("not-found", "an unknown usercode is answered 404 (the only answer pisync reads as 'no such"
     " user')", "U18"),
    ("error-body", "an error body is JSON with a message", "U18"),
)  # fmt: skip


def _check(id_: str, observed: str, result: Result, advice: str = "", detail: str = "") -> Check:
    return Check.of(_SPECS[id_], observed, result, advice, detail)


def _unknown(spec: tuple[str, str, str], why: str) -> Check:
    return _check(spec[0], why, Result.UNKNOWN)


def _ids_between(first: str, last: str) -> list[str]:
    ids = [c[0] for c in _AFTER_SIGN_IN]
    return ids[ids.index(first) : ids.index(last) + 1]


_BEFORE_SIGN_IN: tuple[tuple[str, str, str], ...] = (
    ("connect", "the URL answers HTTP", "§1.1"),
    ("sign-in", "POST /tokens with Basic base64(user:password) answers {token}", "§1.2"),
    ("sign-in-clear", "POST /tokens also takes clear-text Basic user:password", "§1.2"),
)


_SPECS = {c[0]: c for c in _BEFORE_SIGN_IN + _AFTER_SIGN_IN}


class _Probe:
    def __init__(self, send: Send, url: str, account: str | None) -> None:
        self._send = send
        self.url = url
        self.account = account.upper() if account else None
        self.connected = False
        self.checks: list[Check] = []
        self.stopped: str | None = None
        self.token_from_env = False  # the token is PISYNC_TOKEN's, not a sign-in's
        self._last_status = 0  # of the last sign-in attempt
        self._list_status = 0  # of the last list page

    def findings(self) -> Findings:
        return Findings(checks=tuple(self.checks), stopped=self.stopped)

    async def send(self, request: Request) -> Reply:
        reply = await self._send(request)
        if not self.connected:
            self.connected = True
            self.add("connect", f"HTTP {reply.status}", Result.OK)
        return reply

    def add(
        self, id_: str, observed: str, result: Result, advice: str = "", detail: str = ""
    ) -> None:
        self.checks.append(_check(id_, observed, result, advice, detail))

    def unknown(self, first: str, last: str, why: str) -> None:
        for id_ in _ids_between(first, last):
            self.add(id_, why, Result.UNKNOWN)

    # --- signing in ------------------------------------------------------------------------

    async def sign_in(self, login: Login) -> str | None:
        if login.username is None or login.password is None:
            self.add("sign-in", "not tried: only PISYNC_TOKEN is set", Result.UNKNOWN)
            self.add("sign-in-clear", "not tried: only PISYNC_TOKEN is set", Result.UNKNOWN)
            self.token_from_env = True
            return login.token
        base64_request = endpoints.token_request(login.username, login.password)
        token = await self._token(base64_request)
        clear = replace(
            base64_request,
            headers=(("Authorization", f"Basic {login.username}:{login.password}"),),
        )
        clear_token = await self._token(clear)
        self._sign_in_checks(token, clear_token)
        return token or clear_token

    async def _token(self, request: Request) -> str | None:
        reply = await self.send(request)
        self._last_status = reply.status
        try:
            body = json.loads(reply.body) if reply.body else None
        except ValueError:
            return None
        if reply.status == 200 and isinstance(body, Mapping) and isinstance(body.get("token"), str):
            return str(body["token"]) or None
        return None

    def _sign_in_checks(self, token: str | None, clear_token: str | None) -> None:
        if token is not None:
            self.add("sign-in", "HTTP 200 with a token", Result.OK)
        elif clear_token is not None:
            self.add(
                "sign-in",
                "refused base64 Basic; clear-text Basic worked",
                Result.DIFFERENT,
                f"make endpoints.token_request send clear-text Basic ({_WHERE})",
            )
        elif self._last_status == statuses.TOKEN_REFUSED:  # [G §1.2] credentials refused
            self.add("sign-in", "HTTP 401 to both Basic forms", Result.UNKNOWN)
            self.stopped = STOPPED_CREDENTIALS
        else:
            self.add("sign-in", f"no token (HTTP {self._last_status})", Result.UNKNOWN)
            self.stopped = _stopped_not_api(self._last_status)
        if clear_token is not None:
            self.add("sign-in-clear", "HTTP 200 with a token", Result.OK)
        else:
            self.add(
                "sign-in-clear",
                "refused" + (" (pisync sends base64, which works)" if token else ""),
                Result.OK if token else Result.UNKNOWN,
            )

    # --- signed in -------------------------------------------------------------------------

    async def get(self, request: Request, token: str) -> Reply:
        return await self.send(replace(request, auth=False, headers=(endpoints.bearer(token),)))

    async def run_signed_in(self, token: str) -> None:
        first = await self.get(endpoints.list_page(endpoints.USERS, 1), token)
        if first.status == statuses.TOKEN_REFUSED:
            if self.token_from_env:
                self.add("bearer", "HTTP 401 with PISYNC_TOKEN", Result.UNKNOWN)
                self.stopped = STOPPED_BEARER
            else:
                self.add("bearer", "HTTP 401 with the token", Result.DIFFERENT, "report this")
            self.unknown("users-list", "error-body", "the token was refused")
            return
        self.add("bearer", f"HTTP {first.status}", Result.OK)
        users = await self._users(first, token)
        sample = await self._sample(users, token)
        self._element_checks(sample)
        await self._roles(token)
        await self._categories(token)
        await self._not_found(token)

    async def _users(self, first: Reply, token: str) -> _Listed:
        try:
            body = endpoints.read_json(first, endpoints.list_page(endpoints.USERS, 1))
            page = wire.page_info(body, "GET /users")
        except PisyncError:
            self.add(
                "users-list",
                f"HTTP {first.status}, {_json_kind(first)}",
                Result.DIFFERENT,
                f"pisync reads a bare array or {{content: [...]}} ({_WIRE}, page_info)",
            )
            self.unknown("users-paging", "account", "the list could not be read")
            return _Listed([], complete=False)
        shape = (
            "an envelope {" + ", ".join(sorted(body)) + "}" if page.enveloped else "a bare array"
        )
        self.add("users-list", shape, Result.OK)
        await self._paging(token)
        listed = await self._total(token)
        self._account(listed)
        return listed

    async def _paging(self, token: str) -> None:
        one = await self._page_items(token, 1, 2)
        two = await self._page_items(token, 2, 2)
        if one is None or two is None:
            self.add("users-paging", "a page could not be read", Result.UNKNOWN)
        elif len(one) > 2:
            self.add(
                "users-paging",
                f"pageSize ignored: pageSize=2 answered {len(one)} users",
                Result.OK,
                "pisync reads a list that ignores paging whole, but refuses one exactly"
                f" {endpoints.PAGE_SIZE} long (it may be cut short)",
            )
        elif len(one) < 2:
            self.add("users-paging", "fewer than 3 users: paging not tested", Result.UNKNOWN)
        elif _codes(one) == _codes(two):
            self.add(
                "users-paging",
                "page ignored: page=2 repeated page=1",
                Result.DIFFERENT,
                "pisync cannot read past the first page of such a server; report this",
            )
        else:
            self.add("users-paging", "honoured (page=2 continues page=1)", Result.OK)

    async def _page_items(self, token: str, page: int, size: int) -> list[Any] | None:
        request = endpoints.list_page(endpoints.USERS, page, size)
        try:
            body = endpoints.read_json(await self.get(request, token), request)
            return wire.page_info(body, request.what).items
        except PisyncError:
            return None

    async def _total(self, token: str) -> _Listed:
        """The whole user list; what arrived before a failure when it could not be read whole
        (a capped or moving list), so that the checks after it still have users to read."""
        pager = endpoints.users_pager()
        try:
            while (request := pager.next_request()) is not None:
                pager.take(endpoints.read_json(await self.get(request, token), request))
        except PisyncError as exc:
            self.add("users-total", _shape_only(exc), Result.DIFFERENT, "report this")
            return _Listed([u for u in pager.items if isinstance(u, Mapping)], complete=False)
        if pager.total is None:
            self.add("users-total", f"{len(pager.items)} users, no total given", Result.OK)
        else:
            self.add("users-total", f"{len(pager.items)} users, totalElements agrees", Result.OK)
        return _Listed([u for u in pager.items if isinstance(u, Mapping)], complete=True)

    def _account(self, listed: _Listed) -> None:
        """Whether the account pisync signs in with is the super administrator [G U12]."""
        if self.account is None:
            self.add(
                "account",
                "not known: only PISYNC_TOKEN is set",
                Result.UNKNOWN,
                "set PISYNC_ACCOUNT to the token's usercode to check it",
            )
            return
        mine = next(
            (u for u in listed.users if str(u.get("usercode", "")).upper() == self.account), None
        )
        if mine is None:
            self.add("account", "the account is not in the user list", Result.UNKNOWN)
        elif mine.get("superAdmin") is True:
            self.add("account", "the super administrator", Result.OK)
        else:
            self.add(
                "account",
                "not the super administrator: it may update users but not create them",
                Result.OK,
                "plans that create users stop at a guard (create-needs-super-admin); sign in"
                " as the super administrator to create users",
            )

    async def _sample(self, listed: _Listed, token: str) -> list[Mapping[str, Any]]:
        """Payloads of up to SAMPLE users (never the super admin), after the parameter check."""
        users = listed.users
        candidates = [u for u in users if u.get("superAdmin") is not True] or list(users)
        if not candidates:
            why = (
                "the server has no user to read"
                if listed.complete
                else "the user list returned no user to read (it could not be read whole: see"
                " users-total)"
            )
            self.unknown("sync-payload-param", "restrictions", why)
            return []
        first = candidates[0]
        answers = {}
        for param in endpoints.SYNC_PAYLOAD_ALTERNATIVES:
            value = str(first.get("id")) if param != "usercode" else wire.user_code(first)
            request = endpoints.sync_payload_request(value, param)
            reply = await self.get(request, token)
            answers[param] = reply.status == 200 and _names_user(reply, wire.user_code(first))
        working = [p for p, ok in answers.items() if ok]
        said = ", ".join(f"{p}: {'yes' if ok else 'no'}" for p, ok in answers.items())
        if answers[endpoints.SYNC_PAYLOAD_PARAM]:
            self.add("sync-payload-param", f"answers {said}", Result.OK)
        else:
            self.add(
                "sync-payload-param",
                f"answers {said}",
                Result.DIFFERENT,
                (
                    f"set SYNC_PAYLOAD_PARAM to {working[0]!r} in {_WHERE} (and look users up by"
                    " that key)"
                )
                if working
                else "no parameter answered: report this",
            )
        # the element checks read through whichever parameter the server answers
        through = working[0] if working else None
        elements = []
        for user in candidates[:SAMPLE] if through else []:
            value = wire.user_code(user) if through == "usercode" else str(user.get("id"))
            request = endpoints.sync_payload_request(value, through or "")
            reply = await self.get(request, token)
            try:
                body = endpoints.read_json(reply, request)
            except PisyncError:
                continue
            elements.append(body)
        self._payload_shape(elements)
        return [e[0] for e in elements if _is_element_list(e)]

    def _payload_shape(self, bodies: Sequence[Any]) -> None:
        if not bodies:
            self.add("sync-payload-shape", "no payload could be read", Result.UNKNOWN)
            return
        good = [b for b in bodies if _is_element_list(b)]
        if len(good) == len(bodies):
            keys = sorted({k for b in good for k in b[0]})
            self.add(
                "sync-payload-shape",
                f"{_count(len(good), 'payload')} read, each [{{{', '.join(keys)}}}]",
                Result.OK,
            )
        else:
            self.add(
                "sync-payload-shape",
                f"{len(bodies) - len(good)} of {len(bodies)} payloads are not a one-element"
                " array of {user, ...}",
                Result.DIFFERENT,
                f"change payload_element in {_WIRE}",
            )

    def _element_checks(self, elements: Sequence[Mapping[str, Any]]) -> None:
        if not elements:
            if not any(c.id == "user-fields" for c in self.checks):
                self.unknown("user-fields", "restrictions", "no payload was read")
            return
        self._user_fields([e.get("user") or {} for e in elements])
        self._expiry([e.get("user") or {} for e in elements])
        self._elements("role-refs", elements, "userRoles", {"roleIdentifier"}, _role_ok)
        self._elements(
            "category-refs", elements, "userCategories", {"categoryIdentifier"}, _category_ok
        )
        self._elements(
            "variables", elements, "variables", {"name", "value", "isSecure"}, _variable_ok
        )
        self._elements(
            "restrictions",
            elements,
            "restrictions",
            {"dataConnectionIdentifier", "columnIdentifier", "value"},
            _restriction_ok,
        )

    def _user_fields(self, users: Sequence[Mapping[str, Any]]) -> None:
        problems: set[str] = set()
        unknown: set[str] = set()
        for user in users:
            for name, kind in _USER_FIELD_TYPES.items():
                if name not in user:
                    problems.add(f"{name} missing")
                elif _kind(user[name]) not in kind:
                    problems.add(f"{name} is {_kind(user[name])}")
            type_id = user.get("userTypeId")
            if isinstance(type_id, int) and type_id not in wire.USER_TYPE_NAMES:
                problems.add(f"userTypeId {type_id} (pisync knows 0-4)")
            unknown |= set(user) - _KNOWN_USER_FIELDS
        extra = (
            f"; fields pisync keeps as they are: {', '.join(sorted(unknown))}" if unknown else ""
        )
        if problems:
            self.add(
                "user-fields",
                "; ".join(sorted(problems)) + extra,
                Result.DIFFERENT,
                f"correct record_from_user and _SCALARS in {_WIRE}",
            )
        else:
            self.add(
                "user-fields",
                f"all {len(_USER_FIELD_TYPES)} mapped fields present with their types{extra}",
                Result.OK,
            )

    def _expiry(self, users: Sequence[Mapping[str, Any]]) -> None:
        dates = [u.get("userExpirationDate") for u in users if u.get("userExpirationDate")]
        if not dates:
            self.add("expiry-format", "no sampled user has an expiry date", Result.UNKNOWN)
            return
        shapes = sorted({date_shape(d) for d in dates})
        if shapes == ["YYYY-MM-DD"]:
            self.add("expiry-format", f"{_count(len(dates), 'date')}, all YYYY-MM-DD", Result.OK)
        else:
            self.add(
                "expiry-format",
                f"{_count(len(dates), 'date')} shaped {', '.join(shapes)}",
                Result.DIFFERENT,
                f"pisync reads the first 10 characters and writes YYYY-MM-DD ({_WIRE})",
            )

    def _elements(
        self,
        id_: str,
        elements: Sequence[Mapping[str, Any]],
        key: str,
        written: set[str],
        readable: Callable[[Any], bool] | None,
    ) -> None:
        items = [i for e in elements for i in (e.get(key) or []) if isinstance(e.get(key), list)]
        wrong_container = [e for e in elements if key in e and not isinstance(e[key], list)]
        if wrong_container:
            self.add(id_, f"{key} is not an array", Result.DIFFERENT, f"correct {_WIRE}")
            return
        if not items:
            self.add(id_, f"no sampled user has {key}", Result.UNKNOWN)
            return
        shapes = sorted({item_shape(i) for i in items})
        observed = f"{_count(len(items), 'element')} shaped {', '.join(shapes)}"
        if shapes == [_keys_shape(written)]:
            self.add(id_, observed, Result.OK)
        elif readable is not None and all(readable(i) for i in items):
            self.add(
                id_,
                observed,
                Result.DIFFERENT,
                f"pisync reads these but writes {_keys_shape(written)}: check that an apply"
                f" followed by a plan is empty on a test user, or change _overlay in {_WIRE}",
            )
        else:
            self.add(
                id_,
                observed,
                Result.DIFFERENT,
                f"pisync writes {_keys_shape(written)}; change the reader and _overlay in {_WIRE}",
            )

    # --- roles, categories, not found ------------------------------------------------------

    async def _roles(self, token: str) -> None:
        objects = await self._list(endpoints.roles_pager(), token)
        if objects is None:
            self.add(
                "roles",
                f"GET /roles answered HTTP {self._list_status}",
                Result.DIFFERENT,
                "pisync cannot manage roles on this server; leave roles: out of the desired"
                f" state, or correct ROLES in {_WHERE}",
            )
            return
        shapes = sorted({_keys_shape(set(o)) for o in objects if isinstance(o, Mapping)})
        observed = _count(len(objects), "role") + (f" shaped {', '.join(shapes)}" * bool(shapes))
        try:
            for o in objects:
                wire.live_role(o)
        except PisyncError:
            self.add("roles", observed, Result.DIFFERENT, f"correct live_role in {_WIRE}")
            return
        self.add("roles", observed, Result.OK)

    async def _categories(self, token: str) -> None:
        objects = await self._list(endpoints.categories_pager(), token)
        if objects is None:
            status = f"GET /categories answered HTTP {self._list_status}"
            self.add("categories", status, Result.DIFFERENT, "report this")
            return
        maps = [o for o in objects if isinstance(o, Mapping)]
        if not maps:
            self.add("categories", "no categories", Result.UNKNOWN)
            return
        with_parent = sum(1 for o in maps if "parentId" in o)
        readable = all(isinstance(o.get("description", o.get("name")), str) for o in maps)
        observed = (
            f"{_count(len(maps), 'category', 'categories')}, {with_parent} with a parentId key"
        )
        if readable and with_parent == len(maps):
            self.add("categories", observed, Result.OK)
        else:
            self.add(
                "categories",
                observed + ("" if readable else "; some without a description"),
                Result.DIFFERENT,
                f"correct category in {_WIRE} (the parent field, the name field)",
            )

    async def _list(self, pager: endpoints.Pager, token: str) -> list[Any] | None:
        try:
            while (request := pager.next_request()) is not None:
                reply = await self.get(request, token)
                self._list_status = reply.status
                pager.take(endpoints.read_json(reply, request))
        except PisyncError:
            return None
        return pager.items

    async def _not_found(self, token: str) -> None:
        request = endpoints.sync_payload_request(ABSENT)
        reply = await self.get(request, token)
        if reply.status == statuses.NOT_FOUND:
            self.add("not-found", "HTTP 404", Result.OK)
        else:
            self.add(
                "not-found",
                f"HTTP {reply.status}",
                Result.DIFFERENT,
                "pisync would refuse to plan any new user on this server (it never guesses"
                f" 'no such user'); correct read_sync_payload in {_WHERE}",
            )
        try:
            body = json.loads(reply.body) if reply.body else None
        except ValueError:
            body = None
        keys = [k for k in statuses.ERROR_BODY_KEYS if isinstance(body, Mapping) and k in body]
        if keys:
            self.add("error-body", f"JSON with {', '.join(keys)}", Result.OK)
        else:
            self.add(
                "error-body",
                _json_kind(reply),
                Result.DIFFERENT,
                f"pisync then shows the body's text; add its key to ERROR_BODY_KEYS in {_WHERE}",
            )


# --- shapes, never values ------------------------------------------------------------------

#: The fields of the user section pisync maps, and the kinds each may be (:func:`_kind`).
_TEXT = frozenset({"a string", "null"})
_USER_FIELD_TYPES: dict[str, frozenset[str]] = {
    "usercode": frozenset({"a string"}),
    "forenames": _TEXT,
    "surname": _TEXT,
    "email": _TEXT,
    "userTypeId": frozenset({"a number"}),
    "clientEnabled": frozenset({"a boolean"}),
    "lite": frozenset({"a boolean"}),
    "parentIdentifier": _TEXT,
    "orgIdentifier": _TEXT,
    "themeName": _TEXT,
    "userExpirationDate": _TEXT,
    "allowPasswordLogin": frozenset({"a boolean"}),
    "allowExternalLogin": frozenset({"a boolean"}),
    "requireMfa": frozenset({"a boolean"}),
}
_KNOWN_USER_FIELDS = frozenset(
    {
        "usercode",
        "forenames",
        "surname",
        "email",
        "lite",
        "orgAdmin",
        *wire.READ_ONLY_USER_FIELDS,
        *wire.WIRE_ONLY_NAMES,
        *PRIVILEGES,
    }
)


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _codes(items: Iterable[Any]) -> list[str]:
    return [str(i.get("usercode")) if isinstance(i, Mapping) else "?" for i in items]


def _names_user(reply: Reply, usercode: str) -> bool:
    try:
        element = wire.payload_element(json.loads(reply.body), usercode)
    except (ValueError, PisyncError):
        return False
    code = element["user"].get("usercode")
    return isinstance(code, str) and code.upper() == usercode.upper()


def _is_element_list(body: Any) -> bool:
    return (
        isinstance(body, list)
        and len(body) == 1
        and isinstance(body[0], Mapping)
        and isinstance(body[0].get("user"), Mapping)
    )


_KINDS: dict[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _kind(value: Any) -> str:
    """What a JSON value is, in words (never the value)."""
    return "null" if value is None else _KINDS.get(type(value), type(value).__name__)


def _keys_shape(keys: Iterable[str]) -> str:
    return "{" + ", ".join(sorted(keys)) + "}"


def item_shape(item: Any) -> str:
    return _keys_shape(item) if isinstance(item, Mapping) else _kind(item)


def _json_kind(reply: Reply) -> str:
    try:
        body = json.loads(reply.body) if reply.body else None
    except ValueError:
        return "a body that is not JSON" if reply.body else "no body"
    return item_shape(body) if body is not None else "no body"


def date_shape(value: Any) -> str:
    if not isinstance(value, str):
        return _kind(value)
    return re.sub(r"[0-9]", "9", value).replace("9999-99-99", "YYYY-MM-DD")


def _shape_only(exc: PisyncError) -> str:
    """What went wrong reading a list, without any usercode, host or server text in it."""
    if isinstance(exc, IncompleteRead):
        return re.sub(r"returned \S+ twice", "returned a user twice", str(exc))
    status = exc.status if isinstance(exc, UnexpectedResponse) else None
    return f"HTTP {status}" if status is not None else "an answer pisync cannot read"


@dataclass(frozen=True, slots=True)
class _Listed:
    """The users of the list (their objects), and whether the list was read whole."""

    users: list[Mapping[str, Any]]
    complete: bool


def _role_ok(item: Any) -> bool:
    return isinstance(item, str) or (
        isinstance(item, Mapping) and any(isinstance(item.get(k), str) for k in wire.ROLE_REF_KEYS)
    )


def _category_ok(item: Any) -> bool:
    return isinstance(item, str) or (
        isinstance(item, Mapping)
        and any(isinstance(item.get(k), str) for k in wire.CATEGORY_REF_KEYS)
    )


def _variable_ok(item: Any) -> bool:
    return _reads(wire.variables_from, [item])


def _restriction_ok(item: Any) -> bool:
    return _reads(wire.restrictions_from, [item])


def _reads(reader: Callable[[Any], Any], items: list[Any]) -> bool:
    try:
        reader(items)
    except PisyncError:
        return False
    return True


def redact_url(url: str) -> str:
    """The URL for a bug report: scheme, port and path; never the host name (the server's
    own) nor anything before it (credentials), nor a query."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<url>"
    if not parts.scheme or not parts.netloc:
        return "<url>"
    return f"{parts.scheme}://<host>{'' if port is None else f':{port}'}{parts.path}"
