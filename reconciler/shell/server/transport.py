"""The transport: sends the requests the adapter builds, with auth, retries, limits and stops.

It knows HTTP and time; what a path or a header scheme means to Panintelligence is asked of
:mod:`reconciler.pi.endpoints`, and which statuses are retried of :mod:`reconciler.pi.statuses`.
Policy, with reasons:

- Requests in flight are bounded by ``concurrency``, or follow the server's pace with
  ``auto`` (:mod:`reconciler.shell.server.inflight`); ``max_rps``
  (``server.max_requests_per_second``) caps the rate in every one-second window
  (:mod:`reconciler.shell.server.rate`), every attempt counted, retries too.
- Retries with exponential backoff and full jitter, bounded in attempts and in total time,
  on connection failures, timeouts and :data:`~reconciler.pi.statuses.RETRY_STATUSES` (429
  and 5xx). ``Retry-After`` is honoured (capped at 60 s) and pauses every request, because a
  429 is a server-wide signal.
- A connection that cannot be made at all (refused, unknown host) is retried only twice,
  quickly: a server that is down should say so in a second, not after minutes of silence.
- A server that takes a request and says nothing for ``timeout`` seconds gets two more
  tries of :data:`QUICK_WAIT` seconds at most (a stuck connection answers on a fresh one;
  a stuck server is not worth minutes more): the error comes within ``timeout`` plus a few
  seconds. ``on_wait`` is told once per run when a request has had no answer for
  :data:`WAIT_NOTICE` seconds.
- Never retried: a redirect (any 3xx is an error naming where it pointed; the request is
  never sent there) and a TLS failure (the same certificate comes back).
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

from reconciler.errors import AuthenticationFailed, ConnectionFailed, UnexpectedResponse
from reconciler.pi import endpoints, statuses
from reconciler.pi.messages import Reply, Request
from reconciler.shell.server.http import AiohttpBackend, Backend, Limits, SendFailed, host_port
from reconciler.shell.server.inflight import InFlight, OnLimit
from reconciler.shell.server.rate import RateBudget
from reconciler.shell.settings import Credentials

MAX_RELOGINS: Final = 3  # per request
#: Attempts for a connection that cannot be made at all (refused, unknown host).
CONNECT_ATTEMPTS: Final = 3
#: Attempts for a request the server took and did not answer; the retries wait at most
#: QUICK_WAIT seconds each (or ``timeout`` if shorter).
NO_ANSWER_ATTEMPTS: Final = 3
QUICK_WAIT: Final = 5.0
#: Seconds without an answer before ``on_wait`` is told (once per run).
WAIT_NOTICE: Final = 3.0


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
OnWait = Callable[[str, float], None]  # (host:port, seconds without an answer so far)


class _Retry(Exception):
    """One attempt failed in a way that may be retried."""

    def __init__(
        self,
        why: str,
        *,
        reply: Reply | None = None,
        reached: bool = True,
        no_answer: bool = False,
    ) -> None:
        # ``why``: the server's words for an answer (``reply``), else the network failure
        super().__init__(why)
        self.why = why
        self.reply = reply
        self.reached = reached
        self.no_answer = no_answer


class Transport:
    """Sends :class:`~reconciler.pi.messages.Request` values to one server."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        concurrency: int = 8,
        auto_concurrency: bool = False,
        verify_tls: bool = True,
        max_rps: float = 0.0,
        retry: RetryPolicy | None = None,
        backend: Backend | None = None,
        on_retry: OnRetry | None = None,
        on_request: OnRequest | None = None,
        on_limit: OnLimit | None = None,
        on_wait: OnWait | None = None,
        rng: random.Random | None = None,
        gate: asyncio.Semaphore | None = None,
    ) -> None:
        """``concurrency``: the requests in flight, or with ``auto_concurrency`` the most
        the limit may reach (it starts low and follows the server).
        ``gate``: a bound shared with other servers' transports (a fleet's requests in flight
        in all), taken after this server's own slot and the rate budget, for the send alone."""
        self.url = url.rstrip("/")
        self.host = host_port(self.url)
        self._credentials = credentials
        self._token = credentials.token
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
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
        self.in_flight = InFlight(concurrency, auto=auto_concurrency, on_limit=on_limit)
        self._rate = RateBudget(max_rps) if max_rps > 0 else None
        self._gate = gate or contextlib.nullcontext()
        self._stopping = asyncio.Event()
        self._on_wait = on_wait
        #: request number -> since when it has had no answer (its retries included)
        self._waiting: dict[int, float] = {}
        self._numbered = 0
        self._watch: asyncio.Task[None] | None = None
        self.stats = RetryStats()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
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
        sent = no_answers = 0
        number = self._numbered = self._numbered + 1
        try:
            while True:
                sent += 1
                self._count(request, retried=False)
                wait = None if no_answers == 0 else min(QUICK_WAIT, self._timeout)
                try:
                    return await self._attempt(request, url, headers, body, wait, number), sent
                except _Retry as failure:
                    no_answers += failure.no_answer
                    if not self._may_retry(request, failure, sent, no_answers, started):
                        raise self._final(request, failure, sent) from None
                    self._count(request, retried=True)
                    if self._on_retry is not None:
                        kind = (
                            "network error"
                            if failure.reply is None
                            else f"HTTP {failure.reply.status}"
                        )
                        self._on_retry(kind, f"{request.what}: {failure.why}")
                    await self._pause(self._wait(failure, sent - 1))
        finally:
            self._waiting.pop(number, None)

    async def _attempt(
        self,
        request: Request,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        wait: float | None,
        number: int,
    ) -> Reply:
        """Send once: after the 429 pause, a slot in flight and the rate budget's moment."""
        gate = self._resume_at - time.monotonic()
        if gate > 0:
            await self._pause(gate)
        slots = self.in_flight
        await slots.acquire()
        sent: float | None = None
        ticket = None
        try:
            if self._rate is not None:
                ticket = await self._rate.acquire()
            async with self._gate:
                sent = slots.sent()
                self._waiting.setdefault(number, sent)
                if self._on_wait is not None and self._watch is None:
                    self._watch = asyncio.create_task(self._watch_for_silence(self._on_wait))
                reply = await self._backend.send(request.method, url, headers, body, wait=wait)
        except SendFailed as exc:
            slots.done(sent, overload="no answer" if exc.no_answer else None, sample=exc.no_answer)
            if not exc.no_answer:
                self._waiting.pop(number, None)  # silence since this request was first sent
            self._log(request, None, sent)
            if exc.final:
                raise ConnectionFailed(f"{request.what}: {exc.reason}") from None
            raise _Retry(exc.reason, reached=exc.reached, no_answer=exc.no_answer) from None
        except BaseException:
            slots.done(sent, sample=False)
            raise
        finally:
            if ticket is not None:
                ticket.done()  # answered, failed or never sent: its second starts now
        self._waiting.pop(number, None)
        status = reply.status
        overloaded = status in statuses.OVERLOAD_STATUSES
        slots.done(sent, overload=f"HTTP {status}" if overloaded else None)
        self._log(request, status, sent)
        if statuses.is_redirect(status):
            raise UnexpectedResponse(statuses.redirect_message(request, reply, url), status=status)
        if status in statuses.RETRY_STATUSES:
            after = parse_retry_after(reply.headers.get("Retry-After"))
            if after is not None:
                self._resume_at = max(self._resume_at, time.monotonic() + after)
            raise _Retry(statuses.error_message(reply), reply=reply)
        return reply

    async def _watch_for_silence(self, on_wait: OnWait) -> None:
        """Tell ``on_wait`` once, when a request has waited :data:`WAIT_NOTICE` seconds for
        an answer (its retries included)."""
        while True:
            await asyncio.sleep(WAIT_NOTICE / 6)
            if self._waiting:
                silent = time.monotonic() - min(self._waiting.values())
                if silent >= WAIT_NOTICE:
                    on_wait(self.host, silent)
                    return

    def _may_retry(
        self, request: Request, failure: _Retry, sent: int, no_answers: int, started: float
    ) -> bool:
        if self.stopping:
            return False
        if not failure.reached:
            return sent < CONNECT_ATTEMPTS  # it never arrived: safe, but do not linger
        refused_unread = (
            failure.reply is not None and failure.reply.status == statuses.TOO_MANY_REQUESTS
        )
        if not request.idempotent and not refused_unread:
            return False  # it may have been processed
        if failure.no_answer and no_answers >= NO_ANSWER_ATTEMPTS:
            return False
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
                f"{request.what}: {statuses.describe(failure.reply, after)}", status=status
            )
        if failure.no_answer:
            tries = f" ({sent} attempts)" if sent > 1 else ""
            return ConnectionFailed(
                f"{request.what}: no answer from {self.host} within {self._timeout:g} s{tries};"
                " the server takes requests but does not answer them: check that it is"
                " healthy, or give it longer with server.timeout in pisync.yaml"
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

    def _log(self, request: Request, status: int | None, started: float | None) -> None:
        if self._on_request is not None and started is not None:
            self._on_request(request, status, time.monotonic() - started)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header, now (:func:`reconciler.pi.statuses.retry_after`)."""
    return statuses.retry_after(value, dt.datetime.now(dt.UTC))
