"""The HTTP client for the Panintelligence API: auth, timeouts, retries, paging.

Every network call pisync makes goes through :class:`PiClient`. Policy, with reasons:

- One ``httpx.AsyncClient`` per run, connections bounded by ``concurrency`` (writes peak near
  8 on this hardware; more in flight only queues).
- Explicit timeouts on every request (``server.timeout`` for reads and writes, 5 s to connect).
- Retries (stamina: exponential backoff with jitter, bounded attempts and total time) on
  connection errors, timeouts, 429 and 5xx. ``Retry-After`` is honoured (capped at 60 s) and
  pauses every worker, because a 429 is a server-wide signal.
- A request that is not idempotent (``POST /roles``) is retried only when it cannot have
  reached the server (connect errors); the sync endpoint takes the complete payload, so
  repeating it is harmless.
- A 401 triggers one re-login, then the request is sent again (see :meth:`PiClient.call`).
- Credentials and tokens never appear in messages or logs.
- :func:`counting` counts the requests one task sends (the apply report's ``attempts``):
  the client is shared by concurrent workers, so its own ``stats`` cannot say that.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import datetime as dt
import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from reconciler.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    IncompleteRead,
    UnexpectedResponse,
)
from reconciler.pi import wire
from reconciler.shell.settings import Credentials

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
MAX_RELOGINS = 3  # per request


class _Retryable(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class _PreSend(Exception):
    """A connection failure before the request could have reached the server."""


@dataclass(slots=True)
class RetryStats:
    attempts: int = 0
    retries: int = 0


_TASK_STATS: contextvars.ContextVar[RetryStats | None] = contextvars.ContextVar(
    "pisync_task_stats", default=None
)


@contextlib.contextmanager
def counting() -> Iterator[RetryStats]:
    """Count the API requests (retries included, sign-ins not) sent inside this block by
    the current task only; concurrent tasks each count their own."""
    stats = RetryStats()
    token = _TASK_STATS.set(stats)
    try:
        yield stats
    finally:
        _TASK_STATS.reset(token)


class PiClient:
    """A narrow async client over the endpoints pisync uses (paths in :mod:`reconciler.pi.wire`)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        concurrency: int = 8,
        verify_tls: bool = True,
        attempts: int = 6,
        total_timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_retry: Callable[[str, str], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._credentials = credentials
        self._token = credentials.token
        self._attempts = attempts
        self._total_timeout = total_timeout
        self._on_retry = on_retry
        self._login_lock = asyncio.Lock()
        self._resume_at = 0.0  # monotonic time before which nobody sends (429 gate)
        self._slots = asyncio.Semaphore(concurrency)
        self.stats = RetryStats()
        # stamina logs every retry as a WARNING by default; pisync reports retries itself
        stamina.instrumentation.set_on_retry_hooks([])
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout), pool=None),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            verify=verify_tls,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> PiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    # --- auth ------------------------------------------------------------------------------

    async def login(self) -> None:
        """Exchange username and password for a token (``POST /tokens``, Basic base64)."""
        creds = self._credentials
        if creds.username is None or creds.password is None:
            if self._token is None:
                raise AuthenticationFailed(
                    "no credentials: set PISYNC_USERNAME and PISYNC_PASSWORD, or PISYNC_TOKEN"
                )
            raise AuthenticationFailed(
                "the server rejected PISYNC_TOKEN (401); set a fresh token, or"
                " PISYNC_USERNAME and PISYNC_PASSWORD so pisync can sign in again"
            )
        basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        response, _ = await self._send(
            "POST", wire.TOKENS, headers={"Authorization": f"Basic {basic}"}, json={}, auth=False
        )
        if response.status_code == 401:
            raise AuthenticationFailed(
                f"the server rejected the credentials of PISYNC_USERNAME ({creds.username!s}):"
                " check PISYNC_USERNAME and PISYNC_PASSWORD"
            )
        self._token = wire.token_from(_json(response, "POST /tokens"))

    async def ensure_token(self) -> None:
        if self._token is None:
            async with self._login_lock:
                if self._token is None:
                    await self.login()

    async def _relogin(self, stale: str | None) -> bool:
        """Sign in again unless another task already replaced ``stale``; True if we did."""
        async with self._login_lock:
            if self._token != stale:
                return False
            self._token = None
            await self.login()
            return True

    # --- requests ------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one API request with the retry policy; return the JSON body (or None)."""
        await self.ensure_token()
        response, tries = await self._send(
            method, path, params=params, json=json, idempotent=idempotent
        )
        relogins, fresh = 0, False
        while response.status_code == 401:
            # One re-login per 401, then the request again. A token can also expire while a
            # retry waits out its backoff, so a 401 after retries earns another re-login (at
            # most MAX_RELOGINS); a token this call just got, refused on its first use, means
            # the server refuses fresh tokens: give up.
            if (fresh and tries == 1) or relogins == MAX_RELOGINS:
                raise AuthenticationFailed(
                    f"{method} {path}: the server answered 401 after signing in again"
                )
            relogins += 1
            fresh = await self._relogin(self._token_of(response))
            response, tries = await self._send(
                method, path, params=params, json=json, idempotent=idempotent
            )
        if response.status_code >= 400:
            raise UnexpectedResponse(
                f"{method} {path}: HTTP {response.status_code}: {server_message(response)}",
                status=response.status_code,
            )
        if response.status_code == 204 or not response.content:
            return None
        return _json(response, f"{method} {path}")

    @staticmethod
    def _token_of(response: httpx.Response) -> str | None:
        header = response.request.headers.get("Authorization", "")
        return header.split(" ", 1)[1] if " " in header else None

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        idempotent: bool = True,
    ) -> tuple[httpx.Response, int]:
        """The response and how many times the request was sent."""
        what = f"{method} {path}"
        tries = 0
        try:
            async for attempt in stamina.retry_context(
                on=self._retry_hook(what, idempotent),
                attempts=self._attempts,
                timeout=self._total_timeout,
                wait_initial=0.2,
                wait_max=5.0,
            ):
                with attempt:
                    tries += 1
                    return await self._once(method, path, params, json, headers, auth), tries
        except _Retryable as exc:
            # count what was sent: a request that is not idempotent is sent only once, and
            # the total timeout can end the retries early
            after = f" after {tries} attempts" if tries > 1 else ""
            raise UnexpectedResponse(
                f"{what}: HTTP {exc.status}{after}: {exc.message}", status=exc.status
            ) from None
        except (httpx.TransportError, _PreSend) as exc:
            cause = exc.__cause__ if isinstance(exc, _PreSend) else exc
            raise ConnectionFailed(f"{what}: {describe_transport_error(cause)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        auth: bool,
    ) -> httpx.Response:
        self.stats.attempts += 1
        if auth and (mine := _TASK_STATS.get()) is not None:
            mine.attempts += 1
        wait = self._resume_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        hdrs = dict(headers or {})
        if auth and self._token is not None:
            hdrs["Authorization"] = f"Bearer {self._token}"
        async with self._slots:
            try:
                response = await self._http.request(
                    method, path, params=params, json=json, headers=hdrs
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise _PreSend() from exc
        if response.status_code in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
            raise _Retryable(response.status_code, server_message(response), retry_after)
        return response

    def _retry_hook(self, what: str, idempotent: bool) -> Callable[[Exception], bool | float]:
        def hook(exc: Exception) -> bool | float:
            if isinstance(exc, _PreSend):
                decision: bool | float = True
            elif isinstance(exc, _Retryable):
                # a 429 was refused unread; a 5xx may have been processed
                ok = idempotent or exc.status == 429
                decision = (
                    (exc.retry_after if exc.retry_after is not None else True) if ok else False
                )
            elif isinstance(exc, httpx.TransportError):
                decision = idempotent  # it may have reached the server
            else:
                decision = False
            if decision is not False and self._on_retry is not None:
                self._on_retry(*_retry_reason(what, exc))
            if decision is not False:
                self.stats.retries += 1
                if (mine := _TASK_STATS.get()) is not None:
                    mine.retries += 1
            return decision

        return hook

    # --- endpoints -----------------------------------------------------------------------

    async def list_all(self, path: str, what: str) -> list[Mapping[str, Any]]:
        """Every item of a list endpoint, paging until the server says it is done.

        A bare array is the whole list (older servers do not page). An envelope is paged
        until ``last``, until ``totalElements`` items arrived, or until an empty page; a
        count that does not match ``totalElements`` aborts (never a plan from half a list).
        """
        items: list[Mapping[str, Any]] = []
        page_no = 1
        while True:
            body = await self.call(
                "GET", path, params={"page": page_no, "pageSize": wire.PAGE_SIZE}
            )
            try:
                page = wire.page_info(body, f"GET {path}")
            except wire.WireError as exc:
                raise UnexpectedResponse(str(exc)) from None
            items.extend(page.items)
            if not page.enveloped:
                return items
            done = (
                page.last is True
                or not page.items
                or (page.total is not None and len(items) >= page.total)
            )
            if done:
                if page.total is not None and len(items) != page.total:
                    raise IncompleteRead(
                        f"GET {path}: the server reported {page.total} {what} but returned"
                        f" {len(items)}; not planning from an incomplete list"
                    )
                return items
            page_no += 1
            if page_no > 100_000:
                raise IncompleteRead(f"GET {path}: paging did not end after 100,000 pages")

    async def sync_payload(self, usercode: str) -> dict[str, Any]:
        body = await self.call("GET", wire.SYNC_PAYLOAD, params={"usercode": usercode})
        try:
            return wire.payload_element(body, usercode)
        except wire.WireError as exc:
            raise UnexpectedResponse(str(exc)) from None

    async def sync(self, element: Mapping[str, Any]) -> Any:
        return await self.call("POST", wire.SYNC, json=[element])

    async def delete_user(self, user_id: str) -> None:
        await self.call("DELETE", f"{wire.USERS}/{user_id}")

    async def create_role(self, body: Mapping[str, Any]) -> Any:
        return await self.call("POST", wire.ROLES, json=body, idempotent=False)

    async def update_role(self, role_id: str, body: Mapping[str, Any]) -> Any:
        return await self.call("PUT", f"{wire.ROLES}/{role_id}", json=body)

    async def delete_role(self, role_id: str) -> None:
        await self.call("DELETE", f"{wire.ROLES}/{role_id}")


def server_message(response: httpx.Response) -> str:
    """The server's own words: ``{"message"}`` when JSON, else the text, shortened."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    text = response.text.strip()
    return (text[:300] + "…") if len(text) > 300 else (text or response.reason_phrase)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), capped at 60."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def _retry_reason(what: str, exc: Exception) -> tuple[str, str]:
    """(kind, detail) for the ``on_retry`` hook, e.g. ``("HTTP 500", "POST /users/sync: …")``:
    what was retried and why, in the server's words, never an internal class name."""
    if isinstance(exc, _Retryable):
        return f"HTTP {exc.status}", f"{what}: {exc.message}"
    cause = exc.__cause__ if isinstance(exc, _PreSend) else exc
    return type(cause).__name__, f"{what}: {describe_transport_error(cause)}"


def describe_transport_error(exc: BaseException | None) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to the server (is the URL right and the server up?)"
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time (server.timeout in pisync.yaml)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without answering"
    return f"network error: {type(exc).__name__}"


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponse(
            f"{what}: HTTP {response.status_code} but the body is not JSON"
        ) from None
