"""Opening the server connection a command uses, from the settings and the configuration."""

from __future__ import annotations

import sys

from reconciler.core.config import Config
from reconciler.shell.client import PiClient
from reconciler.shell.settings import Settings, credentials


def make_client(
    settings: Settings, config: Config, url: str, concurrency: int | None = None
) -> PiClient:
    def on_retry(kind: str, detail: str) -> None:
        if settings.verbose:
            sys.stderr.write(f"retrying after {kind}: {detail}\n")

    return PiClient(
        url,
        credentials(settings),
        timeout=config.server.timeout,
        concurrency=concurrency or config.server.concurrency,
        verify_tls=config.server.verify_tls,
        on_retry=on_retry,
    )
