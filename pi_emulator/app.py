"""The Starlette application: API routes under ``/pi/api/v2``, control routes under ``/_emulator``,
and the JWT login path (``/pi/auth/jwtLogin``, ``/pi/?jwt=``).

Handlers only translate HTTP to calls on the store, sync, catalog and query modules and back;
every refusal is an ``ApiError`` turned into ``{"message": ...}`` here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from pi_emulator import catalog, control, query, quirks, reqlog, writes
from pi_emulator.auth import check_active, check_login, parse_basic
from pi_emulator.emulator import Emulator, EmulatorOptions
from pi_emulator.errors import ApiError, bad_request, forbidden, not_found, unauthorized
from pi_emulator.jwtroutes import JwtLogin
from pi_emulator.layer import is_api_path, serve_api
from pi_emulator.model import UserRecord
from pi_emulator.render import (
    category_object,
    role_object,
    sync_element,
    user_object,
    user_value,
)
from pi_emulator.responses import json_response
from pi_emulator.wire import (
    BASE_PATH,
    CATEGORY_FILTER_FIELDS,
    ROLE_FILTER_FIELDS,
    SUPER_ADMIN_ID,
    USER_FILTER_FIELDS,
    JsonObj,
)


async def read_json(request: Request, *, required: bool = True) -> Any:
    """The parsed JSON body; 400 if it is missing (when required) or not JSON."""
    raw = await request.body()
    if raw.strip() == b"":
        if required:
            raise bad_request("a JSON request body is required")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


class Api:
    """The ``/pi/api/v2`` handlers for one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.em = emulator

    # -- auth ------------------------------------------------------------------------------

    def actor(self, request: Request) -> UserRecord:
        """The signed-in user behind the request's Bearer token, or 401."""
        config = self.em.faults.config
        session = self.em.sessions.resolve(
            request.headers.get("authorization"),
            config.token_ttl,
            config.token_ttl_mode == "sliding",  # noqa: S105 - a mode, not a secret
        )
        user = self.em.store.user(session.user_id)
        if user is None or user.usercode != session.usercode:
            raise unauthorized("the user this token belongs to no longer exists")
        return check_active(user, self.em.today())

    def require(self, user: UserRecord, privilege: str, purpose: str) -> None:
        if not self.em.store.has_privilege(user, privilege):
            raise forbidden(f"{user.usercode} needs the {privilege} privilege {purpose}")

    async def tokens(self, request: Request) -> Response:
        usercode, password = parse_basic(request.headers.get("authorization"))
        body = await read_json(request, required=False)
        if body is not None and not isinstance(body, dict):
            raise bad_request("the body of POST /tokens must be a JSON object")
        store = self.em.store
        user = check_login(store, usercode, password, self.em.today())
        target = None if body is None else body.get("logInAsUsercode")
        if target is not None:
            if not isinstance(target, str) or target == "":
                raise bad_request("logInAsUsercode must be a usercode")
            self.require(user, "canLogInAsAnotherUser", "to use logInAsUsercode")
            other = store.user_by_code(target)
            if other is None:
                raise bad_request(f'logInAsUsercode: no user has usercode "{target}"')
            user = check_active(other, self.em.today())
        return json_response({"token": self.em.sessions.issue(user)})

    async def keep_alive(self, request: Request) -> Response:
        self.actor(request)
        return json_response({})

    async def invalidate(self, request: Request) -> Response:
        self.actor(request)
        token = request.headers["authorization"].strip().partition(" ")[2].strip()
        self.em.sessions.invalidate(token)
        return json_response({})

    # -- users -----------------------------------------------------------------------------

    async def list_users(self, request: Request) -> Response:
        actor = self.actor(request)
        self.require(actor, "editUsers", "to list users")
        store = self.em.store
        shape = self.em.shape
        page = query.page_request(request.query_params) if shape.list_paging else None
        filters = query.parse_filters(request.query_params.multi_items(), USER_FILTER_FIELDS)
        hidden = shape.hidden
        if not filters and not hidden:
            total = store.user_count
            page_of = store.user_page
        else:
            candidates = self._candidates(filters)
            if hidden:
                candidates = (r for r in candidates if r.usercode not in hidden)
            matches = query.apply(candidates, filters, lambda r, n: user_value(store, r, n))
            total = len(matches)

            def page_of(offset: int, size: int) -> list[UserRecord]:
                return matches[offset : offset + size]

        view = self.em.view

        def window(start: int, stop: int) -> list[JsonObj]:
            return [user_object(store, r, view) for r in page_of(start, stop - start)]

        body = query.list_body(window, total, page, cap=shape.list_cap, bare=shape.bare_lists)
        return json_response(body)

    def _candidates(self, filters: list[query.Filter]) -> Iterable[UserRecord]:
        """All users, or just one when a ``usercode(eq)`` filter names it (index lookup)."""
        for f in filters:
            if f.field == "usercode" and f.op == "eq" and f.value.casefold() != "null":
                record = self.em.store.user_by_code(f.value)
                return [] if record is None else [record]
        return self.em.store.iter_users()

    async def get_user(self, request: Request) -> Response:
        actor = self.actor(request)
        user_id: int = request.path_params["user_id"]
        if user_id != actor.id:
            self.require(actor, "editUsers", "to read other users")
        record = self.em.store.require_user(user_id)
        return json_response(user_object(self.em.store, record, self.em.view))

    async def sync_payload(self, request: Request) -> Response:
        actor = self.actor(request)
        store = self.em.store
        shape = self.em.shape
        params = request.query_params
        by_id = shape.sync_payload_param == "id"
        usercode = None if by_id else params.get("usercode")
        raw_id = params.get("id") or params.get("userId")
        if usercode:
            user = store.user_by_code(usercode)
            missing = f'no user has usercode "{usercode}"'
        elif raw_id:
            user = store.user(int(raw_id)) if raw_id.isdigit() else None
            missing = f"no user with id {raw_id}"
        else:
            raise bad_request(f"the {shape.sync_payload_param} query parameter is required")
        if user is None:
            raise not_found(missing)
        if user.id != actor.id:
            self.require(actor, "editUsers", "to read other users")
        return json_response([sync_element(store, user, self.em.view)])

    async def sync(self, request: Request) -> Response:
        actor = self.actor(request)
        body = await read_json(request)
        store = self.em.store
        records = writes.sync_users(store, actor, body, self.em.shape)
        answer = self.em.shape.sync_answer
        if answer == "empty":
            return Response(status_code=200)
        view = self.em.view
        if answer == "user":
            users = [user_object(store, r, view) for r in records]
            return json_response(users[0] if len(users) == 1 else users)
        return json_response([sync_element(store, r, view) for r in records])

    async def delete_user(self, request: Request) -> Response:
        refusal = quirks.delete_refusal(self.em.shape.store_quirks, request.url.path)
        if refusal is not None and refusal.status == 405:
            raise refusal
        actor = self.actor(request)
        self.require(actor, "editUsers", "to delete users")
        if refusal is not None:
            raise refusal
        user_id: int = request.path_params["user_id"]
        store = self.em.store
        store.require_user(user_id)
        if user_id == actor.id and user_id != SUPER_ADMIN_ID:
            raise bad_request("you cannot delete the user you are signed in as")
        store.delete_user(user_id)
        return Response(status_code=204)

    # -- roles -----------------------------------------------------------------------------

    async def list_roles(self, request: Request) -> Response:
        self.actor(request)
        store = self.em.store
        objects = [role_object(store, r) for r in sorted(store.roles.values(), key=_by_id)]
        return self._list_response(request, objects, ROLE_FILTER_FIELDS)

    async def get_role(self, request: Request) -> Response:
        self.actor(request)
        role = self.em.store.require_role(request.path_params["role_id"])
        return json_response(role_object(self.em.store, role))

    async def create_role(self, request: Request) -> Response:
        self.require(self.actor(request), "editRoles", "to change roles")
        role = catalog.save_role(self.em.store, await read_json(request), None)
        return json_response(role_object(self.em.store, role), 201)

    async def update_role(self, request: Request) -> Response:
        self.require(self.actor(request), "editRoles", "to change roles")
        current = self.em.store.require_role(request.path_params["role_id"])
        role = catalog.save_role(self.em.store, await read_json(request), current)
        return json_response(role_object(self.em.store, role))

    async def delete_role(self, request: Request) -> Response:
        self.require(self.actor(request), "editRoles", "to change roles")
        catalog.delete_role(self.em.store, request.path_params["role_id"])
        return Response(status_code=204)

    # -- categories ------------------------------------------------------------------------

    async def list_categories(self, request: Request) -> Response:
        self.actor(request)
        cats = sorted(self.em.store.categories.values(), key=_by_id)
        objects = [category_object(c) for c in cats]
        return self._list_response(request, objects, CATEGORY_FILTER_FIELDS)

    async def get_category(self, request: Request) -> Response:
        self.actor(request)
        category = self.em.store.require_category(request.path_params["category_id"])
        return json_response(category_object(category))

    async def create_category(self, request: Request) -> Response:
        self.require(self.actor(request), "editCategories", "to change categories")
        category = catalog.save_category(self.em.store, await read_json(request), None)
        return json_response(category_object(category), 201)

    async def update_category(self, request: Request) -> Response:
        self.require(self.actor(request), "editCategories", "to change categories")
        current = self.em.store.require_category(request.path_params["category_id"])
        category = catalog.save_category(self.em.store, await read_json(request), current)
        return json_response(category_object(category))

    async def delete_category(self, request: Request) -> Response:
        self.require(self.actor(request), "editCategories", "to change categories")
        catalog.delete_category(self.em.store, request.path_params["category_id"])
        return Response(status_code=204)

    def _list_response(
        self, request: Request, objects: list[JsonObj], fields: dict[str, Any]
    ) -> Response:
        """A filtered list answer over a small list of rendered objects (roles, categories)."""
        shape = self.em.shape
        page = query.page_request(request.query_params) if shape.list_paging else None
        filters = query.parse_filters(request.query_params.multi_items(), fields)
        matches = query.apply(objects, filters, lambda o, n: o[n])
        body = query.list_body(
            lambda a, b: matches[a:b], len(matches), page, cap=shape.list_cap, bare=shape.bare_lists
        )
        return json_response(body)

    def routes(self) -> list[Route]:
        # Starlette tries routes in order: the most frequent come first (a plan at 100k
        # users is 100k syncPayload reads).
        return [
            Route("/users/syncPayload", self.sync_payload, methods=["GET"]),
            Route("/users/sync", self.sync, methods=["POST"]),
            Route("/users", self.list_users, methods=["GET"]),
            Route("/tokens", self.tokens, methods=["POST"]),
            Route("/tokens/keepAlive", self.keep_alive, methods=["POST"]),
            Route("/tokens/invalidate", self.invalidate, methods=["POST"]),
            Route("/users/{user_id:int}", self.get_user, methods=["GET"]),
            Route("/users/{user_id:int}", self.delete_user, methods=["DELETE"]),
            Route("/roles", self.list_roles, methods=["GET"]),
            Route("/roles", self.create_role, methods=["POST"]),
            Route("/roles/{role_id:int}", self.get_role, methods=["GET"]),
            Route("/roles/{role_id:int}", self.update_role, methods=["PUT"]),
            Route("/roles/{role_id:int}", self.delete_role, methods=["DELETE"]),
            Route("/categories", self.list_categories, methods=["GET"]),
            Route("/categories", self.create_category, methods=["POST"]),
            Route("/categories/{category_id:int}", self.get_category, methods=["GET"]),
            Route("/categories/{category_id:int}", self.update_category, methods=["PUT"]),
            Route("/categories/{category_id:int}", self.delete_category, methods=["DELETE"]),
        ]


def _by_id(item: Any) -> int:
    return int(item.id)


# -- errors -------------------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.detail is not None:
        reqlog.note(request.scope, detail=exc.detail)
    return json_response({"message": exc.message}, exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return JSONResponse({"message": message}, exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return json_response({"message": f"internal error in pi-emulator: {exc!r}"}, 500)


# -- the application ----------------------------------------------------------------------------


class EmulatorApp(Starlette):
    """Starlette plus the fault/log layer, which must see the server's raw ``send``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(
            routes=[
                Mount(BASE_PATH, routes=Api(emulator).routes()),
                Mount("/_emulator", routes=control.routes(emulator)),
                *JwtLogin(emulator).routes(),
            ],
            exception_handlers={
                ApiError: _api_error,
                HTTPException: _http_error,
                Exception: _server_error,
            },
            lifespan=_lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await serve_api(self.emulator, scope, receive, send, super().__call__)
        elif scope["type"] == "http" and scope["path"] in JwtLogin.PATHS:
            await serve_api(self.emulator, scope, receive, send, super().__call__, faulted=False)
        else:
            await super().__call__(scope, receive, send)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    assert isinstance(app, EmulatorApp)
    persister = app.emulator.persister
    if persister is not None:
        persister.start()
    try:
        yield
    finally:
        if persister is not None:
            await persister.stop()


def create_app(source: Emulator | EmulatorOptions | None = None) -> EmulatorApp:
    """The ASGI app for an emulator (built from options, or a fresh one with only ADMIN)."""
    emulator = source if isinstance(source, Emulator) else Emulator(source)
    return EmulatorApp(emulator)
