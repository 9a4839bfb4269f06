"""Opening the server connection a command uses, from the settings and the configuration: a
:class:`Server`, the transport and pisync's operations over it."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlencode

from reconciler.core.model.config import Config
from reconciler.pi.messages import Request
from reconciler.pi.operations import PiApi
from reconciler.shell.server.transport import RetryPolicy, Transport
from reconciler.shell.settings import Settings, credentials, verify_tls


class Server:
    """One server connection: the :class:`~reconciler.shell.server.transport.Transport` (HTTP,
    signing in, retries, limits, stopping) and the operations over it (``api``)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.api = PiApi(transport.send)

    @property
    def url(self) -> str:
        return self.transport.url

    async def sign_in(self) -> None:
        """Sign in now, once (before requests run in parallel), unless a token is held."""
        await self.transport.ensure_token()

    def stop(self) -> None:
        """No new retries; backoff waits end now (the first Ctrl-C of an apply)."""
        self.transport.stop()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.__aexit__(*exc)


def open_server(
    settings: Settings,
    config: Config,
    url: str,
    parallelism: int | None = None,
    *,
    gate: asyncio.Semaphore | None = None,
) -> Server:
    """The server connection of a command (``parallelism``: ``apply --parallelism N``);
    ``gate``: a bound on requests in flight shared with other servers' connections (a fleet's
    ``fleet.max_in_flight``)."""
    return Server(transport_for(settings, config, url, parallelism=parallelism, gate=gate))


def transport_for(
    settings: Settings,
    config: Config,
    url: str,
    *,
    parallelism: int | None = None,
    retry: RetryPolicy | None = None,
    gate: asyncio.Semaphore | None = None,
) -> Transport:
    """The one place a connection's settings come from, for every command that talks to
    the server (``doctor`` included): ``server.timeout``, the requests in flight
    (``server.concurrency``, ``auto`` with ``server.max_concurrency``, or ``parallelism``),
    the TLS check (``server.verify_tls``, ``PISYNC_VERIFY_TLS``), the rate budget
    (``server.max_requests_per_second``, ``--max-rps``); what ``-v`` prints (each request,
    retry and change of the in-flight limit) and the one "waiting for HOST…" line that a
    silent server earns (not with ``-q``)."""
    server = config.server
    err = sys.stderr

    def on_retry(kind: str, detail: str) -> None:
        if settings.verbose:
            err.write(f"retrying after {kind}: {detail}\n")

    def on_request(request: Request, status: int | None, seconds: float) -> None:
        """``-v``: the method, path, status and time of each request; ``-vv`` adds the query
        (never a secret: the credentials travel in headers the transport adds)."""
        what = request.what
        if settings.verbose >= 2 and request.query:
            what += "?" + urlencode(request.query)
        shown = "no answer" if status is None else str(status)
        err.write(f"{what} -> {shown} ({seconds * 1000:.0f} ms)\n")

    def on_limit(new: int, old: int, why: str) -> None:
        err.write(f"in flight: at most {new} (was {old}; {why})\n")

    def on_wait(host: str, seconds: float) -> None:
        err.write(
            f"waiting for {host}… (no answer for {seconds:.0f} s; server.timeout is"
            f" {server.timeout:g} s)\n"
        )

    auto = server.auto_concurrency and parallelism is None
    concurrency = parallelism or server.concurrency
    transport = Transport(
        url,
        credentials(settings),
        timeout=server.timeout,
        concurrency=concurrency,
        auto_concurrency=auto,
        verify_tls=verify_tls(settings, config),
        max_rps=settings.max_rps
        if settings.max_rps is not None
        else server.max_requests_per_second,
        retry=retry,
        on_retry=on_retry,
        on_request=on_request if settings.verbose else None,
        gate=gate,
        on_limit=on_limit if settings.verbose else None,
        on_wait=None if settings.quiet else on_wait,
    )
    if settings.verbose:
        if auto:
            how = f"to start (server.concurrency: auto, up to {concurrency})"
        else:
            how = "(--parallelism)" if parallelism else "(server.concurrency)"
        err.write(f"in flight: at most {transport.in_flight.limit} {how}\n")
    return transport
