"""The transport and the operations over it against a scripted server (a function backend):
paging, auth, retries, stops, rate budget and what each failure says. (What an answer means to
an operation, without a transport: tests/pi/test_operations.py.)"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from reconciler.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    IncompleteRead,
    UnexpectedResponse,
)
from reconciler.pi import endpoints, statuses
from reconciler.pi.messages import Reply, Request
from reconciler.pi.operations import ListedUser, PiApi
from reconciler.shell.server.connect import Server
from reconciler.shell.server.http import FunctionBackend, SendFailed
from reconciler.shell.server.transport import RetryPolicy, Transport, parse_retry_after
from reconciler.shell.settings import Credentials

URL = "http://pi.test/pi/api/v2"
CREDS = Credentials(username="admin", password="dashboard")
NO_WAIT = RetryPolicy(initial=0.0)


class Seen:
    """The requests a scripted server received: (method, path?query, Authorization)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []
        self.bodies: list[Any] = []


Handler = Callable[[str, str, Mapping[str, str], bytes | None], Reply]


def reply(status: int = 200, body: Any = None, **headers: str) -> Reply:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return Reply(status=status, body=raw, headers=headers)


def server(
    answer: Callable[[str, str, dict[str, list[str]]], Reply], seen: Seen | None = None
) -> Handler:
    """A handler that signs in anyone and answers the rest with ``answer(method, path, query)``."""

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        path = parts.path.removeprefix("/pi/api/v2")
        if seen is not None:
            shown = path + (f"?{parts.query}" if parts.query else "")
            seen.requests.append((method, shown, headers.get("Authorization", "")))
            seen.bodies.append(None if body is None else json.loads(body))
        if path == "/tokens":
            return reply(200, {"token": "t1"})
        return answer(method, path, parse_qs(parts.query))

    return handler


def run(
    handler: Handler,
    call: Callable[[PiApi], Awaitable[Any]],
    creds: Credentials = CREDS,
    **options: Any,
) -> Any:
    async def main() -> Any:
        options.setdefault("retry", NO_WAIT)
        transport = Transport(URL, creds, backend=FunctionBackend(handler), **options)
        async with Server(transport) as connection:
            return await call(connection.api)

    return asyncio.run(main())


def listed(api: PiApi) -> Awaitable[list[tuple[str, str | None]]]:
    """The usercodes and ids of the whole user list, as the operations read it."""

    async def read() -> list[tuple[str, str | None]]:
        users = await api.list_users(payload_for=lambda code: False)
        return [(u.usercode, u.id) for u in users if not isinstance(u, ListedUser)]

    return read()


def ids(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(str(i["usercode"]).upper(), str(i["id"])) for i in items]


def sent(request: Request, **options: Any) -> Callable[[Handler], Any]:
    """Send ``request`` through a transport to a handler; its JSON answer."""

    def go(handler: Handler) -> Any:
        async def main() -> Any:
            options.setdefault("retry", NO_WAIT)
            transport = Transport(URL, CREDS, backend=FunctionBackend(handler), **options)
            async with transport:
                return endpoints.read_json(await transport.send(request), request)

        return asyncio.run(main())

    return go


def paged(items: list[dict[str, Any]], size: int, *, total: int | None, last: bool) -> Handler:
    def answer(method: str, path: str, query: dict[str, list[str]]) -> Reply:
        page = int(query["page"][0])
        chunk = items[(page - 1) * size : page * size]
        body: dict[str, Any] = {"content": chunk}
        if total is not None:
            body["totalElements"] = total
        if last:
            body["last"] = page * size >= len(items)
        return reply(200, body)

    return server(answer)


USERS = [{"usercode": f"U{i}", "id": i} for i in range(5)]


# --- lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "last"), [(5, False), (None, True), (None, False), (5, True)], ids=str
)
def test_list_pages_through_a_server_that_caps_page_size(total: int | None, last: bool) -> None:
    assert run(paged(USERS, 2, total=total, last=last), listed) == ids(USERS)


def test_a_bare_array_shorter_than_a_page_is_the_whole_list() -> None:
    seen = Seen()
    got = run(server(lambda m, p, q: reply(200, USERS), seen), listed)
    assert got == ids(USERS)
    assert [r[1] for r in seen.requests] == ["/tokens", "/users?page=1&pageSize=500"]


def test_a_full_bare_page_is_followed_by_the_next() -> None:
    many = [{"usercode": f"U{i}", "id": i} for i in range(750)]

    def answer(method: str, path: str, query: dict[str, list[str]]) -> Reply:
        page, size = int(query["page"][0]), int(query["pageSize"][0])
        return reply(200, many[(page - 1) * size : page * size])

    assert run(server(answer), listed) == ids(many)


def test_a_bare_list_that_ignores_paging_and_is_longer_than_a_page_is_whole() -> None:
    many = [{"usercode": f"U{i}", "id": i} for i in range(600)]
    got = run(server(lambda m, p, q: reply(200, many)), listed)
    assert got == ids(many)


def test_a_bare_list_cut_at_exactly_one_page_that_ignores_page_is_refused() -> None:
    cut = [{"usercode": f"U{i}", "id": i} for i in range(500)]
    with pytest.raises(IncompleteRead) as exc:
        run(server(lambda m, p, q: reply(200, cut)), listed)
    assert str(exc.value) == (
        "GET /users: the server returns only the first 500 users and ignores the page"
        " parameter; not planning from a list that may be cut short"
    )


def test_a_short_list_is_refused() -> None:
    with pytest.raises(IncompleteRead) as exc:
        run(paged(USERS[:3], 2, total=5, last=False), listed)
    assert str(exc.value) == (
        "GET /users: the server reported 5 users but returned 3; not planning from an"
        " incomplete list"
    )


def test_a_user_listed_twice_is_refused() -> None:
    twice = [USERS[0], USERS[1], USERS[0]]
    with pytest.raises(IncompleteRead) as exc:
        run(server(lambda m, p, q: reply(200, {"content": twice})), listed)
    assert str(exc.value) == (
        "GET /users returned U0 twice (the list changed while it was read?); try again"
    )


def test_an_unknown_list_shape_is_refused() -> None:
    with pytest.raises(UnexpectedResponse) as exc:
        run(server(lambda m, p, q: reply(200, {"items": []})), listed)
    assert str(exc.value) == "GET /users: expected a JSON array or an object with a 'content' array"


# --- auth ----------------------------------------------------------------------------------


def test_signs_in_with_base64_basic_then_sends_bearer() -> None:
    seen = Seen()
    run(server(lambda m, p, q: reply(200, []), seen), lambda api: api.list_roles())
    basic = base64.b64encode(b"admin:dashboard").decode()
    assert seen.requests == [
        ("POST", "/tokens", f"Basic {basic}"),
        ("GET", "/roles?page=1&pageSize=500", "Bearer t1"),
    ]
    assert seen.bodies == [{}, None]


def test_a_401_signs_in_again_once_then_retries() -> None:
    tokens = iter(["t1", "t2"])
    seen: list[str] = []

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        if url.endswith("/tokens"):
            return reply(200, {"token": next(tokens)})
        seen.append(headers["Authorization"])
        ok = headers["Authorization"] == "Bearer t2"
        return reply(200, []) if ok else reply(401, {"message": "expired"})

    assert run(handler, lambda api: api.list_roles()) == []
    assert seen == ["Bearer t1", "Bearer t2"]


def test_a_fresh_token_refused_at_once_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationFailed) as exc:
        run(
            server(lambda m, p, q: reply(401, {"message": "expired"})), lambda api: api.list_roles()
        )
    assert str(exc.value) == "GET /roles: the server answered 401 after signing in again"


def test_bad_credentials_say_which_variables_to_check() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        return reply(401, {"message": "bad credentials"})

    with pytest.raises(AuthenticationFailed) as exc:
        run(handler, lambda api: api.list_roles())
    assert str(exc.value) == (
        "the server rejected the credentials of PISYNC_USERNAME (admin):"
        " check PISYNC_USERNAME and PISYNC_PASSWORD"
    )
    assert "dashboard" not in str(exc.value)


def test_no_credentials_at_all() -> None:
    with pytest.raises(AuthenticationFailed) as exc:
        run(server(lambda m, p, q: reply(200, [])), lambda api: api.list_roles(), Credentials())
    assert str(exc.value) == (
        "no credentials: set PISYNC_USERNAME and PISYNC_PASSWORD, or PISYNC_TOKEN"
    )


def test_a_token_from_the_environment_skips_signing_in() -> None:
    seen = Seen()
    run(
        server(lambda m, p, q: reply(200, []), seen),
        lambda api: api.list_roles(),
        Credentials(token="tok"),
    )
    assert seen.requests == [("GET", "/roles?page=1&pageSize=500", "Bearer tok")]


def test_a_refused_token_without_a_username_says_so_at_once() -> None:
    seen = Seen()
    with pytest.raises(AuthenticationFailed) as exc:
        run(
            server(lambda m, p, q: reply(401, {"message": "invalid token"}), seen),
            lambda api: api.list_roles(),
            Credentials(token="stale"),
        )
    assert str(exc.value) == (
        "the server refused PISYNC_TOKEN (401: invalid token); set a fresh token, or"
        " PISYNC_USERNAME and PISYNC_PASSWORD so pisync can sign in itself"
    )
    assert len(seen.requests) == 1
    assert "stale" not in str(exc.value)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (reply(404, {"message": "no such endpoint: POST /x/tokens"}), "HTTP 404"),
        (reply(200, b"<html>login</html>"), "HTTP 200 without a token"),
        (reply(405, b""), "HTTP 405"),
    ],
    ids=["404", "html", "405"],
)
def test_a_url_that_is_not_the_api_says_what_the_url_usually_ends_with(
    answer: Reply, said: str
) -> None:
    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        return answer

    with pytest.raises(UnexpectedResponse) as exc:
        run(handler, lambda api: api.list_roles())
    assert str(exc.value) == (
        f"{URL} does not answer like the Panintelligence API (POST /tokens returned {said});"
        " the URL usually ends in /pi/api/v2"
    )


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        reply(503, {"message": "busy"}),
        reply(500, b"oops"),
        reply(429, {"message": "slow down"}, **{"Retry-After": "0"}),
    ],
    ids=["503", "500", "429"],
)
def test_retryable_statuses_are_retried(first: Reply) -> None:
    answers = iter([first, reply(200, [{"user": {"usercode": "A"}}])])
    got = run(server(lambda m, p, q: next(answers)), lambda api: api.sync_payload("A"))
    assert got == {"user": {"usercode": "A"}}


def test_retries_are_bounded_and_the_message_is_the_servers() -> None:
    seen = Seen()
    with pytest.raises(UnexpectedResponse) as exc:
        run(
            server(lambda m, p, q: reply(503, {"message": "maintenance"}), seen),
            listed,
        )
    assert str(exc.value) == "GET /users: HTTP 503 after 6 attempts: maintenance"
    assert len(seen.requests) == 1 + 6


def test_a_non_idempotent_post_is_not_retried_after_a_500() -> None:
    seen = Seen()
    with pytest.raises(UnexpectedResponse) as exc:
        sent(endpoints.create_role_request({"name": "X"}))(
            server(lambda m, p, q: reply(500, {"message": "boom"}), seen)
        )
    assert str(exc.value) == "POST /roles: HTTP 500: boom"  # sent once: no "after N"
    assert [r[1] for r in seen.requests] == ["/tokens", "/roles"]


def test_a_400_is_not_retried_and_carries_the_message() -> None:
    seen = Seen()
    with pytest.raises(UnexpectedResponse) as exc:
        sent(endpoints.sync_request({"user": {"usercode": "A"}}))(
            server(lambda m, p, q: reply(400, {"message": "unknown role 'X'"}), seen)
        )
    assert str(exc.value) == "POST /users/sync: HTTP 400: unknown role 'X'"
    assert seen.bodies[1:] == [[{"user": {"usercode": "A"}}]]  # one element per sync


def test_a_refused_connection_is_retried_twice_quickly_then_names_the_host() -> None:
    calls = 0

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        nonlocal calls
        calls += 1
        raise SendFailed("cannot connect to pi.test:80 (connection refused)", reached=False)

    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as exc:
        run(handler, listed, retry=RetryPolicy())
    assert str(exc.value) == (
        "POST /tokens: cannot connect to pi.test:80 (connection refused) after 3 attempts;"
        " check that the server is up and that the URL is right"
    )
    assert calls == 3
    assert time.monotonic() - started < 1.0


def test_a_dropped_connection_is_retried_for_an_idempotent_request() -> None:
    answers: list[Reply | None] = [None, reply(200, [{"user": {"usercode": "A"}}])]

    def answer(method: str, path: str, query: dict[str, list[str]]) -> Reply:
        got = answers.pop(0)
        if got is None:
            raise SendFailed("pi.test:80 closed the connection without answering", reached=True)
        return got

    assert run(server(answer), lambda api: api.sync_payload("A")) == {"user": {"usercode": "A"}}


def test_stop_ends_a_retry_wait_at_once() -> None:
    async def main() -> float:
        transport = Transport(
            URL,
            CREDS,
            backend=FunctionBackend(server(lambda m, p, q: reply(503, {"message": "busy"}))),
            retry=RetryPolicy(initial=30.0, max_wait=30.0),
        )
        async with Server(transport) as connection:
            task = asyncio.ensure_future(listed(connection.api))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            transport.stop()
            with pytest.raises(UnexpectedResponse):
                await task
            return time.monotonic() - started

    assert asyncio.run(main()) < 0.5


def test_the_rate_budget_holds_in_the_first_second() -> None:
    seen = Seen()
    started = time.monotonic()
    times: list[float] = []

    def stamped(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        times.append(time.monotonic())
        return server(lambda m, p, q: reply(200, [{"user": {"usercode": "A"}}]), seen)(
            method, url, headers, body
        )

    run(stamped, lambda api: asyncio.gather(*(api.sync_payload("A") for _ in range(11))), max_rps=6)
    assert len(seen.requests) == 12
    assert sum(1 for t in times if t < started + 1.0) == 6  # not 12: no burst on top
    assert time.monotonic() - started >= 1.0


class Scripted:
    """A backend that fails or answers as scripted, recording each attempt's ``wait``."""

    def __init__(self, *outcomes: Reply | SendFailed) -> None:
        self.outcomes = list(outcomes)
        self.waits: list[float | None] = []

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        wait: float | None = None,
    ) -> Reply:
        self.waits.append(wait)
        got = self.outcomes.pop(0)
        if isinstance(got, SendFailed):
            raise got
        return got

    async def close(self) -> None:
        return None


def send_raw(backend: Scripted, request: Request, **options: Any) -> Reply:
    async def main() -> Reply:
        options.setdefault("retry", NO_WAIT)
        async with Transport(URL, CREDS, backend=backend, **options) as transport:
            return await transport.send_raw(request)

    return asyncio.run(main())


PAGE = Request(method="GET", path="/users", query=(("page", "1"),))


def test_no_answer_is_retried_twice_quickly_then_named_with_the_timeout() -> None:
    silence = SendFailed("no answer from pi.test:80 within 9 s", reached=True, no_answer=True)
    backend = Scripted(silence, silence, silence, reply(200, []))
    with pytest.raises(ConnectionFailed) as exc:
        send_raw(backend, PAGE, timeout=9.0)
    assert str(exc.value) == (
        "GET /users: no answer from pi.test:80 within 9 s (3 attempts); the server takes"
        " requests but does not answer them: check that it is healthy, or give it longer with"
        " server.timeout in pisync.yaml"
    )
    assert backend.waits == [None, 5.0, 5.0]  # the session's timeout, then quick ones


def test_a_quick_retry_that_is_answered_succeeds() -> None:
    silence = SendFailed("no answer", reached=True, no_answer=True)
    backend = Scripted(silence, reply(200, [1]))
    assert send_raw(backend, PAGE, timeout=2.0).body == b"[1]"
    assert backend.waits == [None, 2.0]  # never longer than server.timeout


def test_no_answer_to_a_request_that_is_not_idempotent_is_not_retried() -> None:
    backend = Scripted(SendFailed("no answer", reached=True, no_answer=True))
    with pytest.raises(ConnectionFailed):
        send_raw(backend, endpoints.create_role_request({"name": "R"}))
    assert backend.waits == [None]


def test_a_tls_failure_is_not_retried() -> None:
    refused = SendFailed(
        "the TLS certificate of pi.test:443 has expired", reached=False, final=True
    )
    backend = Scripted(refused, reply(200, []))
    with pytest.raises(ConnectionFailed) as exc:
        send_raw(backend, PAGE)
    assert str(exc.value) == "GET /users: the TLS certificate of pi.test:443 has expired"
    assert len(backend.waits) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_and_not_retried(status: int) -> None:
    elsewhere = "http://other.test/pi/api/v2/users"
    backend = Scripted(Reply(status=status, headers={"Location": elsewhere}), reply(200, []))
    with pytest.raises(UnexpectedResponse) as exc:
        send_raw(backend, PAGE)
    assert str(exc.value).startswith(
        f"the server redirected GET /users to {elsewhere} (HTTP {status}); set PISYNC_URL to"
        " the final address, http://other.test/pi/api/v2: "
    )
    assert exc.value.status == status
    assert len(backend.waits) == 1


def test_a_proxy_page_after_the_retries_is_its_status_and_title() -> None:
    html = Reply(
        status=502,
        body=b"<html><title>502 Bad Gateway</title><body>nginx</body></html>",
        headers={"Content-Type": "text/html"},
        host="pi.test:80",
    )
    with pytest.raises(UnexpectedResponse) as exc:
        send_raw(Scripted(html, html, html), PAGE, retry=RetryPolicy(attempts=3, initial=0.0))
    assert str(exc.value) == (
        "GET /users: pi.test:80 answered 502 Bad Gateway after 3 attempts (from a proxy page"
        " titled '502 Bad Gateway')"
    )


def test_auto_concurrency_halves_on_a_503() -> None:
    limits: list[tuple[int, int, str]] = []

    async def main() -> int:
        backend = Scripted(*([reply(200, [])] * 6), reply(503, {"message": "busy"}), reply(200, []))
        transport = Transport(
            URL,
            CREDS,
            backend=backend,
            retry=NO_WAIT,
            concurrency=16,
            auto_concurrency=True,
            on_limit=lambda new, old, why: limits.append((new, old, why)),
        )
        async with transport:
            for _ in range(7):
                await transport.send_raw(PAGE)
        return transport.in_flight.limit

    assert asyncio.run(main()) <= 2
    assert (1, 2, "the server is overloaded: HTTP 503") in limits


def test_each_request_is_reported_with_its_status_and_never_a_secret() -> None:
    lines: list[tuple[str, int | None]] = []
    run(
        server(lambda m, p, q: reply(200, [])),
        lambda api: api.list_roles(),
        on_request=lambda request, status, seconds: lines.append((request.what, status)),
    )
    assert lines == [("POST /tokens", 200), ("GET /roles", 200)]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("3", 3.0), ("999", 60.0), ("-4", 0.0), ("soon", None)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_error_message_reads_the_server_words() -> None:
    assert statuses.error_message(reply(400, {"error": "bad"})) == "bad"
    assert statuses.error_message(reply(400, b"plain text")) == "plain text"
    assert statuses.error_message(reply(502, b"")) == "HTTP 502"
