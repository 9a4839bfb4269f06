"""HTTP backends: the one place that knows an HTTP library.

A :class:`Backend` sends one request and returns the answer as a
:class:`~reconciler.pi.messages.Reply`, or raises :class:`SendFailed`, which says what the
retry policy needs to know: whether the request can have reached the server, whether the
server took it and said nothing, and whether trying again can help at all (a refused TLS
certificate, :mod:`reconciler.shell.server.tls`, cannot).

:class:`AiohttpBackend` is the real one. aiohttp was measured against httpx on this project's
machine (4,000 user payload reads, 16 in flight, 20 ms latency; ``benchmarks/bench_transport.py``):
0.30 ms of client CPU per request against 2.1 ms for httpx's default transport and 0.79 ms for
httpx over aiohttp, which is what lets pisync read 100,000 users at the server's speed.
:class:`FunctionBackend` answers from a function, so tests fake a server without a socket (as
httpx's ``MockTransport`` does).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from reconciler.pi.messages import Reply
from reconciler.pi.statuses import printable
from reconciler.shell.server import tls


class SendFailed(Exception):
    """The request was not answered. ``reached`` False: it cannot have reached the server
    (no connection was made), so sending it again is safe even when it is not idempotent.
    ``no_answer``: the server took the request and said nothing within the time allowed.
    ``final``: sending it again cannot help (a TLS certificate the client refuses)."""

    def __init__(
        self, reason: str, *, reached: bool, no_answer: bool = False, final: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reached = reached
        self.no_answer = no_answer
        self.final = final


class Backend(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        wait: float | None = None,
    ) -> Reply: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    timeout: float = 30.0  # seconds without data from the server, per request
    connect_timeout: float = 5.0
    connections: int = 8
    verify_tls: bool = True
    url: str = ""  # the server's base URL (to look up a proxy for it)


#: An answer still arriving after this many times its ``wait`` is given up too (a server that
#: trickles a byte now and then never trips the read timeout alone).
WHOLE_ANSWER_FACTOR = 4


def host_port(url: str) -> str:
    """``host:port`` of a URL, the port filled in from the scheme (for messages)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


class AiohttpBackend:
    """One ``aiohttp.ClientSession`` per run: pooled keep-alive connections, no cookies (the
    API is token-based; a session cookie would only be state to leak), proxies from the
    environment (``HTTPS_PROXY``, ``NO_PROXY``) as for any HTTP tool, TLS checked against the
    system's certificate store, and redirects never followed (the transport refuses them:
    following one would send the request, body and all, to wherever the answer points)."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._host = host_port(limits.url) if limits.url else ""

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            limits = self._limits
            self._session = aiohttp.ClientSession(
                # idle connections are dropped before a server would (uvicorn: 5 s), so a
                # write never goes out on a connection the server already closed
                connector=aiohttp.TCPConnector(
                    limit=limits.connections, ssl=limits.verify_tls, keepalive_timeout=4.0
                ),
                timeout=self._timeout(limits.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                # the proxy is looked up once here: aiohttp's trust_env reads the environment
                # and ~/.netrc again on every request (in a thread: 60% of a plan's CPU)
                trust_env=False,
                proxy=self._proxy(),
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": "pisync", "Accept": "application/json"},
            )
            # aiohttp resends a GET/PUT/DELETE once, silently, when a connection drops; the
            # retry policy (and the count of attempts a report gives) is the transport's
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    def _timeout(self, wait: float) -> aiohttp.ClientTimeout:
        """``wait`` seconds without a byte from the server (``sock_read``: the server took the
        request and is silent), the whole answer within a few times that (``total``)."""
        return aiohttp.ClientTimeout(
            total=wait * WHOLE_ANSWER_FACTOR,
            sock_connect=self._limits.connect_timeout,
            sock_read=wait,
        )

    def _proxy(self) -> str | None:
        """The proxy for the server from the environment (HTTPS_PROXY, NO_PROXY…), if any."""
        if not self._limits.url:
            return None
        parts = urlsplit(self._limits.url)
        if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
            return None
        return urllib.request.getproxies().get(parts.scheme)

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        wait: float | None = None,
    ) -> Reply:
        """One request, never redirected; ``wait``: this attempt's read timeout, when not the
        session's ``timeout``."""
        session = self._open()
        hdrs = dict(headers)
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        waited = self._limits.timeout if wait is None else wait
        where = self._host or host_port(url)
        # without a ``timeout`` argument the session's applies (None would mean "none at all")
        sending = (
            session.request(method, url, headers=hdrs, data=body, allow_redirects=False)
            if wait is None
            else session.request(
                method,
                url,
                headers=hdrs,
                data=body,
                allow_redirects=False,
                timeout=self._timeout(wait),
            )
        )
        try:
            async with sending as response:
                data = await response.read()
                return Reply(
                    status=response.status,
                    body=data,
                    headers=_headers(response),
                    host=where,
                )
        except aiohttp.ClientConnectorCertificateError as exc:
            # before ClientConnectorError, of which it is a subclass (its errno 1 would read
            # "operation not permitted")
            problem = tls.certificate_problem(exc.certificate_error, where)
            raise SendFailed(problem, reached=False, final=True) from None
        except aiohttp.ClientSSLError as exc:
            problem = tls.handshake_problem(exc.os_error, where)
            raise SendFailed(problem, reached=False, final=True) from None
        except aiohttp.ClientConnectorDNSError:
            raise SendFailed(f"cannot resolve the host {where}", reached=False) from None
        except aiohttp.ClientConnectorError as exc:
            code = exc.os_error.errno
            reason = os.strerror(code).lower() if code else str(exc.os_error)
            raise SendFailed(
                f"cannot connect to {where} ({printable(reason, 200)})", reached=False
            ) from None
        except aiohttp.ConnectionTimeoutError:
            raise SendFailed(
                f"cannot connect to {where} (no answer within {self._limits.connect_timeout:g} s)",
                reached=False,
            ) from None
        except (TimeoutError, aiohttp.SocketTimeoutError):
            raise SendFailed(
                f"no answer from {where} within {waited:g} s", reached=True, no_answer=True
            ) from None
        except aiohttp.ServerDisconnectedError:
            raise SendFailed(
                f"{where} closed the connection without answering", reached=True
            ) from None
        except aiohttp.ClientError as exc:
            raise SendFailed(
                f"network error talking to {where}: {printable(str(exc), 200)}", reached=True
            ) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    """Only what the transport and the messages read: copying every header of 100,000
    answers costs. ``Retry-After`` always; for an answer that is not a success, where a
    redirect points and what kind of body it has (a proxy's HTML page)."""
    got = response.headers
    kept = {}
    for name in ("Retry-After", *(() if response.status < 300 else ("Location", "Content-Type"))):
        value = got.get(name)
        if value is not None:
            kept[name] = value
    return kept


Handler = Callable[[str, str, Mapping[str, str], bytes | None], Reply | Awaitable[Reply]]


class FunctionBackend:
    """Answers every request with ``handler(method, url, headers, body)`` (tests)."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        wait: float | None = None,
    ) -> Reply:
        answer = self._handler(method, url, headers, body)
        if isinstance(answer, Reply):
            return answer
        return await answer

    async def close(self) -> None:
        return None
