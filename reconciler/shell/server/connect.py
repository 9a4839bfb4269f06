"""Opening the server connection a command uses, from the settings and the configuration: a
:class:`Server`, the transport and pisync's operations over it."""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlencode

from reconciler.core.model.config import Config
from reconciler.pi.messages import Request
from reconciler.pi.operations import PiApi
from reconciler.shell.server.transport import Transport
from reconciler.shell.settings import Settings, credentials


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
    concurrency: int | None = None,
    *,
    gate: asyncio.Semaphore | None = None,
) -> Server:
    """The connection to ``url``; ``gate``: a bound on requests in flight shared with other
    servers' connections (a fleet's ``fleet.max_in_flight``)."""

    def on_retry(kind: str, detail: str) -> None:
        if settings.verbose:
            sys.stderr.write(f"retrying after {kind}: {detail}\n")

    def on_request(request: Request, status: int | None, seconds: float) -> None:
        """``-v``: the method, path, status and time of each request; ``-vv`` adds the query
        (never a secret: the credentials travel in headers the transport adds)."""
        what = request.what
        if settings.verbose >= 2 and request.query:
            what += "?" + urlencode(request.query)
        shown = "no answer" if status is None else str(status)
        sys.stderr.write(f"{what} -> {shown} ({seconds * 1000:.0f} ms)\n")

    transport = Transport(
        url,
        credentials(settings),
        timeout=config.server.timeout,
        concurrency=concurrency or config.server.concurrency,
        verify_tls=config.server.verify_tls,
        max_rps=settings.max_rps
        if settings.max_rps is not None
        else config.server.max_requests_per_second,
        on_retry=on_retry,
        on_request=on_request if settings.verbose else None,
        gate=gate,
    )
    return Server(transport)
