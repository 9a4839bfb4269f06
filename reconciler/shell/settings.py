"""Global options (SPEC §4) and what they resolve to: the server URL, the credentials, today.

The CLI builds one :class:`Settings` from flags and the environment; every flow reads it and
nothing else reads ``os.environ`` (tests hand in their own ``env``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reconciler.core.governance.guards import Account
from reconciler.core.model.config import Config
from reconciler.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Global options, resolved from flags and environment by the CLI."""

    config: str | None = None
    url: str | None = None
    no_color: bool = False
    verbose: int = 0
    quiet: bool = False
    max_rps: float | None = None  # --max-rps: overrides server.max_requests_per_second
    cache: bool = True  # --no-cache: parse every file (the validation cache is not used)
    #: --server-urls / PISYNC_SERVER_URLS: the URL of each server of a fleet, by name, from
    #: the one who runs pisync (CI), never from pisync.yaml (a pull request may change that)
    server_urls: Mapping[str, str] | None = None
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
    """``--url`` / ``PISYNC_URL``, else ``server.url``; a usage error when there is none or it
    is not an ``http(s)://host…`` URL (said at once, not after retries)."""
    if settings.server_urls is not None:
        raise UsageError(
            "--server-urls (or PISYNC_SERVER_URLS) gives the urls of the servers: of"
            " pisync.yaml, which has none: use --url (or PISYNC_URL) for one server"
        )
    url = settings.url or config.server.url
    if not url:
        raise UsageError(
            "no server URL: pass --url, set PISYNC_URL, or set server.url in pisync.yaml"
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"the server URL {url!r} must start with https:// or http:// and name a host,"
            " e.g. https://pi.example.com:8224/pi/api/v2"
        )
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise UsageError(f"the server URL {url!r} has a port that is not a number") from None
    return url.strip().rstrip("/")


def verify_tls(settings: Settings, config: Config) -> bool:
    """Whether the server's TLS certificate is checked: ``PISYNC_VERIFY_TLS`` (``true`` or
    ``false``) when set, else ``server.verify_tls``. The environment wins so that CI, which
    sets ``PISYNC_VERIFY_TLS=true``, keeps the check on whatever a pull request's
    ``pisync.yaml`` says."""
    value = settings.env.get("PISYNC_VERIFY_TLS", "").strip().lower()
    if not value:
        return config.server.verify_tls
    if value not in ("true", "false"):
        raise UsageError("PISYNC_VERIFY_TLS must be true or false (or not set)")
    return value == "true"


def account(settings: Settings) -> Account:
    """Who pisync signs in as, for the lockout guard
    (:class:`~reconciler.core.governance.guards.Account`)."""
    env = settings.env
    if env.get("PISYNC_USERNAME") and env.get("PISYNC_PASSWORD"):
        return Account(usercode=env["PISYNC_USERNAME"].upper(), source="PISYNC_USERNAME")
    if env.get("PISYNC_ACCOUNT"):
        return Account(usercode=env["PISYNC_ACCOUNT"].upper(), source="PISYNC_ACCOUNT")
    return Account(usercode=None, source="PISYNC_TOKEN")


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


def parse_server_urls(text: str) -> dict[str, str]:
    """``--server-urls``: ``NAME=URL`` pairs separated by spaces, commas or new lines."""
    pins: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise UsageError(
                f"--server-urls (or PISYNC_SERVER_URLS): {item!r} is not NAME=URL; write e.g."
                " prod=https://prod.example.com/pi/api/v2 staging=https://…"
            )
        if name in pins:
            raise UsageError(f"--server-urls (or PISYNC_SERVER_URLS) names {name} twice")
        pins[name] = url
    return pins
