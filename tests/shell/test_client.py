"""PiClient against a scripted server (httpx.MockTransport): paging, auth, retries."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
import stamina

from reconciler.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    IncompleteRead,
    UnexpectedResponse,
)
from reconciler.shell.client import PiClient, parse_retry_after
from reconciler.shell.settings import Credentials

URL = "http://pi.test/pi/api/v2"
CREDS = Credentials(username="admin", password="dashboard")


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=6, cap=True):
        yield


Handler = Callable[[httpx.Request], httpx.Response]


def run(handler: Handler, coro: Callable[[PiClient], object], creds: Credentials = CREDS) -> object:
    async def main() -> object:
        async with PiClient(URL, creds, transport=httpx.MockTransport(handler)) as client:
            return await coro(client)  # type: ignore[misc]

    return asyncio.run(main())


def tokens_ok(request: httpx.Request) -> httpx.Response | None:
    if request.url.path.endswith("/tokens"):
        return httpx.Response(200, json={"token": "t1"})
    return None


def paged(items: list[dict[str, object]], size: int, *, total: int | None, last: bool) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if (r := tokens_ok(request)) is not None:
            return r
        page = int(request.url.params["page"])
        chunk = items[(page - 1) * size : page * size]
        body: dict[str, object] = {"content": chunk}
        if total is not None:
            body["totalElements"] = total
        if last:
            body["last"] = page * size >= len(items)
        return httpx.Response(200, json=body)

    return handler


USERS = [{"usercode": f"U{i}", "id": i} for i in range(5)]


@pytest.mark.parametrize(
    ("total", "last"), [(5, False), (None, True), (None, False), (5, True)], ids=str
)
def test_list_all_pages_through_a_server_that_caps_page_size(total: int | None, last: bool) -> None:
    got = run(paged(USERS, 2, total=total, last=last), lambda c: c.list_all("/users", "users"))
    assert got == USERS


def test_list_all_takes_a_bare_array_as_the_whole_list() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if (r := tokens_ok(request)) is not None:
            return r
        calls.append(str(request.url))
        return httpx.Response(200, json=USERS)

    assert run(handler, lambda c: c.list_all("/users", "users")) == USERS
    assert len(calls) == 1


def test_list_all_refuses_a_short_list() -> None:
    handler = paged(USERS[:3], 2, total=5, last=False)
    with pytest.raises(IncompleteRead) as exc:
        run(handler, lambda c: c.list_all("/users", "users"))
    assert str(exc.value) == (
        "GET /users: the server reported 5 users but returned 3; not planning from an"
        " incomplete list"
    )


def test_list_all_rejects_an_unknown_shape() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return tokens_ok(request) or httpx.Response(200, json={"items": []})

    with pytest.raises(UnexpectedResponse) as exc:
        run(handler, lambda c: c.list_all("/users", "users"))
    assert str(exc.value) == (
        "GET /users: expected a JSON array or an object with a 'content' array"
    )


def test_login_sends_base64_basic_then_bearer() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers["Authorization"]))
        return tokens_ok(request) or httpx.Response(200, json=[])

    run(handler, lambda c: c.call("GET", "/roles"))
    basic = base64.b64encode(b"admin:dashboard").decode()
    assert seen == [
        ("/pi/api/v2/tokens", f"Basic {basic}"),
        ("/pi/api/v2/roles", "Bearer t1"),
    ]


def test_a_401_signs_in_again_once_then_retries() -> None:
    tokens = iter(["t1", "t2"])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens"):
            return httpx.Response(200, json={"token": next(tokens)})
        seen.append(request.headers["Authorization"])
        ok = request.headers["Authorization"] == "Bearer t2"
        return httpx.Response(200, json=[]) if ok else httpx.Response(401, json={"message": "x"})

    assert run(handler, lambda c: c.call("GET", "/roles")) == []
    assert seen == ["Bearer t1", "Bearer t2"]


def test_a_second_401_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return tokens_ok(request) or httpx.Response(401, json={"message": "expired"})

    with pytest.raises(AuthenticationFailed) as exc:
        run(handler, lambda c: c.call("GET", "/roles"))
    assert str(exc.value) == "GET /roles: the server answered 401 after signing in again"


def test_bad_credentials_say_which_variables_to_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "bad credentials"})

    with pytest.raises(AuthenticationFailed) as exc:
        run(handler, lambda c: c.call("GET", "/roles"))
    assert str(exc.value) == (
        "the server rejected the credentials of PISYNC_USERNAME (admin):"
        " check PISYNC_USERNAME and PISYNC_PASSWORD"
    )
    assert "dashboard" not in str(exc.value)


def test_no_credentials_at_all() -> None:
    with pytest.raises(AuthenticationFailed) as exc:
        run(lambda r: httpx.Response(200), lambda c: c.call("GET", "/roles"), Credentials())
    assert str(exc.value) == (
        "no credentials: set PISYNC_USERNAME and PISYNC_PASSWORD, or PISYNC_TOKEN"
    )


def test_token_from_the_environment_skips_login() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=[])

    run(handler, lambda c: c.call("GET", "/roles"), Credentials(token="tok"))
    assert seen == ["/pi/api/v2/roles"]


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(500, text="oops"),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "slow down"}),
    ],
    ids=["503", "500", "429"],
)
def test_retryable_statuses_are_retried(first: httpx.Response) -> None:
    answers = iter([first, httpx.Response(200, json={"ok": True})])

    def handler(request: httpx.Request) -> httpx.Response:
        return tokens_ok(request) or next(answers)

    assert run(handler, lambda c: c.call("GET", "/users/syncPayload")) == {"ok": True}


def test_retries_are_bounded_and_the_message_is_the_servers() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        if (r := tokens_ok(request)) is not None:
            return r
        count += 1
        return httpx.Response(503, json={"message": "maintenance"})

    with pytest.raises(UnexpectedResponse) as exc:
        run(handler, lambda c: c.call("GET", "/users"))
    assert str(exc.value) == "GET /users: HTTP 503 after 6 attempts: maintenance"
    assert count == 6


def test_a_non_idempotent_post_is_not_retried_after_a_500() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        if (r := tokens_ok(request)) is not None:
            return r
        count += 1
        return httpx.Response(500, json={"message": "boom"})

    with pytest.raises(UnexpectedResponse) as exc:
        run(handler, lambda c: c.create_role({"name": "X"}))
    assert count == 1
    assert str(exc.value) == "POST /roles: HTTP 500: boom"  # sent once, so no "after N"


def test_a_400_is_not_retried_and_carries_the_message() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        if (r := tokens_ok(request)) is not None:
            return r
        count += 1
        return httpx.Response(400, json={"message": "unknown role 'X'"})

    with pytest.raises(UnexpectedResponse) as exc:
        run(handler, lambda c: c.sync({"user": {"usercode": "A"}}))
    assert str(exc.value) == "POST /users/sync: HTTP 400: unknown role 'X'"
    assert count == 1


def test_connection_refused_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ConnectionFailed) as exc:
        run(handler, lambda c: c.call("GET", "/users"))
    assert str(exc.value) == (
        "POST /tokens: cannot connect to the server (is the URL right and the server up?)"
    )


def test_sync_sends_a_one_element_array() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if (r := tokens_ok(request)) is not None:
            return r
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=[])

    run(handler, lambda c: c.sync({"user": {"usercode": "A"}}))
    assert bodies == [[{"user": {"usercode": "A"}}]]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("3", 3.0), ("999", 60.0), ("-4", 0.0), ("soon", None)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
