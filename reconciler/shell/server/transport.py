"""The transport: sends the requests the adapter builds, with auth, retries, limits and stops.

It knows HTTP and time; what a path or a header scheme means to Panintelligence is asked of
:mod:`reconciler.pi.endpoints`, and which statuses are retried of :mod:`reconciler.pi.statuses`.
Policy, with reasons:

- Requests in flight are bounded by ``concurrency``; ``max_rps``
  (``server.max_requests_per_second``) caps the rate for servers that must not be hammered,
  every attempt counted, retries too.
- Retries with exponential backoff and full jitter, bounded in attempts and in total time,
  on connection failures, timeouts and :data:`~reconciler.pi.statuses.RETRY_STATUSES` (429
  and 5xx). ``Retry-After`` is honoured (capped at 60 s) and pauses every request, because a
  429 is a server-wide signal.
- A connection that cannot be made at all (refused, unknown host) is retried only twice,
  quickly: a server that is down should say so in a second, not after minutes of silence.
- A request that is not idempotent is sent again only when it cannot have reached the server.
- A refused token signs in again (once per refusal, at most :data:`MAX_RELOGINS` times per
  request); a refused ``PISYNC_TOKEN`` with no username to fall back on is an error at once.
- :meth:`Transport.stop`: no new retries, and every backoff wait ends now (the first Ctrl-C
  of an apply); requests already sent finish.
- Credentials and tokens never appear in messages or logs; ``on_request`` sees the request
  (method, path, query; its headers hold no credentials, the transport adds them), status and
  time.
- :func:`counting` counts the requests one task sends (the apply report's ``attempts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from aiolimiter import AsyncLimiter

from reconciler.errors import AuthenticationFailed, ConnectionFailed, UnexpectedResponse
from reconciler.pi import endpoints, statuses
from reconciler.pi.messages import Reply, Request
from reconciler.shell.server.http import AiohttpBackend, Backend, Limits, SendFailed
from reconciler.shell.settings import Credentials

MAX_RELOGINS: Final = 3  # per request
#: Attempts for a connection that cannot be made at all (refused, unknown host).
CONNECT_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to ``initial * 2**n`` seconds
    (at most ``max_wait``); at most ``attempts`` sends and ``total`` seconds of waiting."""

    attempts: int = 6
    initial: float = 0.2
    max_wait: float = 5.0
    total: float = 300.0

    def wait(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_wait, self.initial * 2**retry))


@dataclass(slots=True)
class RetryStats:
    attempts: int = 0
    retries: int = 0


_TASK_STATS: contextvars.ContextVar[RetryStats | None] = contextvars.ContextVar(
    "pisync_task_stats", default=None
)


@contextlib.contextmanager
def counting() -> Iterator[RetryStats]:
    """Count the API requests (retries included, sign-ins not) sent inside this block by the
    current task only; concurrent tasks each count their own."""
    stats = RetryStats()
    token = _TASK_STATS.set(stats)
    try:
        yield stats
    finally:
        _TASK_STATS.reset(token)


OnRetry = Callable[[str, str], None]  # (kind, detail): ("HTTP 503", "GET /users: busy")
OnRequest = Callable[[Request, int | None, float], None]  # (request, status or None, seconds)


class _Retry(Exception):
    """One attempt failed in a way that may be retried."""

    def __init__(self, why: str, *, reply: Reply | None = None, reached: bool = True) -> None:
        # ``why``: the server's words for an answer (``reply``), else the network failure
        super().__init__(why)
        self.why = why
        self.reply = reply
        self.reached = reached


class Transport:
    """Sends :class:`~reconciler.pi.messages.Request` values to one server."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        concurrency: int = 8,
        verify_tls: bool = True,
        max_rps: float = 0.0,
        retry: RetryPolicy | None = None,
        backend: Backend | None = None,
        on_retry: OnRetry | None = None,
        on_request: OnRequest | None = None,
        rng: random.Random | None = None,
        gate: asyncio.Semaphore | None = None,
    ) -> None:
        """``gate``: a bound shared with other servers' transports (a fleet's requests in
        flight in all), taken after this server's own slot, for the send alone."""
        self.url = url.rstrip("/")
        self._credentials = credentials
        self._token = credentials.token
        self._retry = retry or RetryPolicy()
        self._backend = backend or AiohttpBackend(
            Limits(
                timeout=timeout,
                connect_timeout=min(5.0, timeout),
                connections=concurrency,
                verify_tls=verify_tls,
                url=url,
            )
        )
        self._on_retry = on_retry
        self._on_request = on_request
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._login_lock = asyncio.Lock()
        self._resume_at = 0.0  # monotonic time before which nobody sends (the 429 gate)
        self._slots = asyncio.Semaphore(concurrency)
        self._gate = gate or contextlib.nullcontext()
        self._limiter = AsyncLimiter(max_rps, 1.0) if max_rps > 0 else None
        self._stopping = asyncio.Event()
        self.stats = RetryStats()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._backend.close()

    def stop(self) -> None:
        """No more retries; backoff waits end now. Requests already sent finish."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # --- auth ------------------------------------------------------------------------------

    async def ensure_token(self) -> None:
        if self._token is None:
            async with self._login_lock:
                if self._token is None:
                    await self._login()

    async def _login(self) -> None:
        creds = self._credentials
        if creds.username is None or creds.password is None:
            raise AuthenticationFailed(
                "no credentials: set PISYNC_USERNAME and PISYNC_PASSWORD, or PISYNC_TOKEN"
            )
        request = endpoints.token_request(creds.username, creds.password)
        reply, _ = await self._send(request)
        self._token = endpoints.read_token(reply, request, url=self.url, username=creds.username)

    async def _relogin(self, stale: str | None, refused: Reply) -> None:
        """Sign in again unless another task already replaced ``stale``."""
        async with self._login_lock:
            if self._token != stale:
                return
            creds = self._credentials
            if creds.username is None or creds.password is None:
                raise AuthenticationFailed(endpoints.token_refused_message(refused))
            self._token = None
            await self._login()

    # --- requests --------------------------------------------------------------------------

    async def send(self, request: Request) -> Reply:
        """Send an authenticated request; the answer, whatever its status (the adapter reads
        it). A refused token signs in again; failures that outlast the retries raise."""
        await self.ensure_token()
        relogins = 0
        while True:
            token = self._token
            reply, _ = await self._send(request, token)
            if reply.status != statuses.TOKEN_REFUSED:
                return reply
            # A token can expire while the request waits (a retry's backoff, a busy server),
            # so each refusal earns another sign-in, at most MAX_RELOGINS: a server that
            # refuses every token fails after that many, never loops.
            if relogins == MAX_RELOGINS:
                raise AuthenticationFailed(
                    f"{request.what}: the server answered 401 after signing in again"
                )
            relogins += 1
            await self._relogin(token, reply)

    async def send_raw(self, request: Request) -> Reply:
        """Send ``request`` exactly as built (no sign-in, no token added), with the retry
        policy; for probes that test signing in themselves (``pisync doctor``)."""
        reply, _ = await self._send(request)
        return reply

    async def _send(self, request: Request, token: str | None = None) -> tuple[Reply, int]:
        """One request with the retry policy (``token`` None: no token header); the answer
        and how many times it was sent."""
        headers = dict(request.headers)
        if request.auth and token is not None:
            key, value = endpoints.bearer(token)
            headers[key] = value
        url = self.url + request.path
        if request.query:
            url += "?" + urlencode(request.query)
        body = request.json_body
        started = time.monotonic()
        sent = 0
        while True:
            sent += 1
            self._count(request, retried=False)
            try:
                return await self._attempt(request, url, headers, body), sent
            except _Retry as failure:
                if not self._may_retry(request, failure, sent, started):
                    raise self._final(request, failure, sent) from None
                self._count(request, retried=True)
                if self._on_retry is not None:
                    kind = (
                        "network error" if failure.reply is None else f"HTTP {failure.reply.status}"
                    )
                    self._on_retry(kind, f"{request.what}: {failure.why}")
                await self._pause(self._wait(failure, sent - 1))

    async def _attempt(
        self, request: Request, url: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        gate = self._resume_at - time.monotonic()
        if gate > 0:
            await self._pause(gate)
        if self._limiter is not None:
            await self._limiter.acquire()
        started = time.monotonic()
        async with self._slots, self._gate:
            try:
                reply = await self._backend.send(request.method, url, headers, body)
            except SendFailed as exc:
                self._log(request, None, started)
                raise _Retry(exc.reason, reached=exc.reached) from None
        self._log(request, reply.status, started)
        if reply.status in statuses.RETRY_STATUSES:
            after = parse_retry_after(reply.headers.get("Retry-After"))
            if after is not None:
                self._resume_at = max(self._resume_at, time.monotonic() + after)
            raise _Retry(statuses.error_message(reply), reply=reply)
        return reply

    def _may_retry(self, request: Request, failure: _Retry, sent: int, started: float) -> bool:
        if self.stopping:
            return False
        if not failure.reached:
            return sent < CONNECT_ATTEMPTS  # it never arrived: safe, but do not linger
        refused_unread = (
            failure.reply is not None and failure.reply.status == statuses.TOO_MANY_REQUESTS
        )
        if not request.idempotent and not refused_unread:
            return False  # it may have been processed
        return sent < self._retry.attempts and time.monotonic() - started < self._retry.total

    def _wait(self, failure: _Retry, retry: int) -> float:
        if failure.reply is not None:
            after = parse_retry_after(failure.reply.headers.get("Retry-After"))
            if after is not None:
                return after
        return self._retry.wait(retry, self._rng)

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless :meth:`stop` is called first."""
        if seconds <= 0 or self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _final(self, request: Request, failure: _Retry, sent: int) -> Exception:
        after = f" after {sent} attempts" if sent > 1 else ""
        if failure.reply is not None:
            status = failure.reply.status
            return UnexpectedResponse(
                f"{request.what}: HTTP {status}{after}: {failure.why}", status=status
            )
        if not failure.reached:
            return ConnectionFailed(
                f"{request.what}: {failure.why}{after}; check that the server is up and that"
                " the URL is right"
            )
        return ConnectionFailed(f"{request.what}: {failure.why}{after}")

    def _count(self, request: Request, *, retried: bool) -> None:
        mine = _TASK_STATS.get() if request.auth else None  # sign-ins are not the task's
        if retried:
            self.stats.retries += 1
            if mine is not None:
                mine.retries += 1
        else:
            self.stats.attempts += 1
            if mine is not None:
                mine.attempts += 1

    def _log(self, request: Request, status: int | None, started: float) -> None:
        if self._on_request is not None:
            self._on_request(request, status, time.monotonic() - started)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header, now (:func:`reconciler.pi.statuses.retry_after`)."""
    return statuses.retry_after(value, dt.datetime.now(dt.UTC))
