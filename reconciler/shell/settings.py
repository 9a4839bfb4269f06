"""Global options (SPEC §4) and what they resolve to: the server URL, the credentials, today.

The CLI builds one :class:`Settings` from flags and the environment; every flow reads it and
nothing else reads ``os.environ`` (tests hand in their own ``env``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.core.config import Config
from reconciler.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Global options, resolved from flags and environment by the CLI."""

    config: str | None = None
    url: str | None = None
    no_color: bool = False
    verbose: int = 0
    quiet: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """What pisync signs in with (``PISYNC_USERNAME`` + ``PISYNC_PASSWORD``, or
    ``PISYNC_TOKEN``); never shown, not even in a traceback."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:
        return "Credentials(***)"


def server_url(settings: Settings, config: Config) -> str:
    """``--url`` / ``PISYNC_URL``, else ``server.url``; a usage error when there is none."""
    url = settings.url or config.server.url
    if not url:
        raise UsageError(
            "no server URL: pass --url, set PISYNC_URL, or set server.url in pisync.yaml"
        )
    return url.rstrip("/")


def credentials(settings: Settings) -> Credentials:
    env = settings.env
    return Credentials(
        username=env.get("PISYNC_USERNAME") or None,
        password=env.get("PISYNC_PASSWORD") or None,
        token=env.get("PISYNC_TOKEN") or None,
    )


def today(env: Mapping[str, str]) -> dt.date:
    """Today, or ``PISYNC_TODAY`` (YYYY-MM-DD) so that expiry sections are reproducible."""
    pinned = env.get("PISYNC_TODAY")
    if not pinned:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(pinned)
    except ValueError:
        raise UsageError(f"PISYNC_TODAY={pinned!r} is not a date (YYYY-MM-DD)") from None
