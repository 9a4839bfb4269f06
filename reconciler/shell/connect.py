"""Opening the server connection a command uses, from the settings and the configuration."""

from __future__ import annotations

import sys
from urllib.parse import urlencode

from reconciler.core.model.config import Config
from reconciler.pi.endpoints import Request
from reconciler.shell.api import PiApi
from reconciler.shell.client import Transport
from reconciler.shell.settings import Settings, credentials


def make_client(
    settings: Settings, config: Config, url: str, concurrency: int | None = None
) -> PiApi:
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
    )
    return PiApi(transport)
