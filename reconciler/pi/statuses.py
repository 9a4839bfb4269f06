"""What each HTTP status means to pisync, and which ones are retried: one place for every
status rule, read by the adapter's operations and the shell's transport alike. Pure (the
clock, when a rule needs it, is passed in).

- :data:`TOKEN_REFUSED`: sign in again; :data:`NOT_FOUND`: the object does not exist (only
  ever read as "absent" where an operation says so); :data:`CONFLICT`: a role create found the
  role already there.
- :data:`RETRY_STATUSES`: a transient refusal: the transport retries it (a request that is not
  idempotent only on a 429, which says the request was not read), honouring ``Retry-After``
  (:func:`retry_after`, capped at :data:`MAX_RETRY_AFTER`).
- :data:`OVERLOAD_STATUSES`: the server says it is overloaded: ``server.concurrency: auto``
  sends fewer requests at once.
- :func:`is_redirect`: any 3xx. pisync never follows one (it would resend the request, body
  and secrets included, wherever the answer points): :func:`redirect_message` says where it
  pointed and what to set instead.
- :func:`outcome_unknown`: a failed write whose effect cannot be told from its answer (no
  answer, a 429, a 5xx): it may or may not have been applied, so it is checked before it is
  sent again.
- Whatever a message quotes of the server (its words, a page's title, a location) is made
  printable and bounded (:func:`printable`); an HTML page (a proxy's, a web server's) is
  reduced to its status and title (:func:`describe`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import http
import json
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urljoin, urlsplit, urlunsplit

from reconciler.errors import ConnectionFailed, ServerError, UnexpectedResponse
from reconciler.pi.messages import Reply, Request

#: The token is missing, expired or refused: sign in again (§1.3) [G U19].
TOKEN_REFUSED: Final = 401
#: The object (user id, usercode, role id) does not exist [G U18].
NOT_FOUND: Final = 404
#: A role with that name already exists (POST /roles) [G U13, U18].
CONFLICT: Final = 409
#: Keys of an error body that hold the server's own words, in order [G U18].
ERROR_BODY_KEYS: Final = ("message", "error", "detail")


#: The most characters of the server's own words a message quotes: its message (the API's
#: validation messages list every problem), or the start of a body that is not JSON.
MAX_QUOTED: Final = 1000
MAX_TEXT: Final = 300


def printable(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` as one printable line of at most ``limit`` characters: runs of white space
    (line breaks included) become one space, other control and format characters (terminal
    escapes, bidirectional overrides) are shown escaped (``\\x1b``), and a longer text is cut
    with an ellipsis. For whatever a message quotes of a server."""
    text = " ".join(text.split())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def error_message(reply: Reply) -> str:
    """The server's own words: an error body's message when JSON, else its text (printable,
    shortened); for an HTML page, which host answered and the page's title."""
    page = _html_page(reply)
    if page is not None:
        return f"{_answered(reply)} ({page})"
    try:
        body = json.loads(reply.body) if reply.body else None
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in ERROR_BODY_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return printable(value)
    text = printable(reply.body[: MAX_TEXT * 4].decode("utf-8", "replace"), MAX_TEXT)
    return text or f"HTTP {reply.status}"


def describe(reply: Reply, after: str = "") -> str:
    """An error answer as a message says it: ``HTTP 400: <the server's words>``, or for an
    HTML page (a reverse proxy's 502, a web server's 404: not the API's JSON) ``HOST answered
    502 Bad Gateway (from a proxy page titled '…')`` — never the page itself. ``after``
    (`` after 6 attempts``) goes right after the status."""
    page = _html_page(reply)
    if page is not None:
        return f"{_answered(reply)}{after} ({page})"
    return f"HTTP {reply.status}{after}: {error_message(reply)}"


def raise_for_status(reply: Reply, request: Request) -> None:
    """Any status >= 400 that the caller did not read as a meaning is an unexpected response."""
    if reply.status >= 400:
        raise UnexpectedResponse(f"{request.what}: {describe(reply)}", status=reply.status)


#: Statuses of the pages proxies and gateways answer with when the server behind them fails.
_PROXY_STATUSES: Final = frozenset({502, 503, 504})
_TITLE: Final = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def _html_page(reply: Reply) -> str | None:
    """``from a proxy page titled '…'`` when the body is an HTML page; None otherwise."""
    kind = reply.headers.get("Content-Type", "").lower()
    start = reply.body[:64].lstrip().lower()
    if "html" not in kind and not start.startswith((b"<!doctype html", b"<html")):
        return None
    source = "a proxy page" if reply.status in _PROXY_STATUSES else "an HTML page"
    found = _TITLE.search(reply.body[:65536])
    title = "" if found is None else html.unescape(found[1].decode("utf-8", "replace"))
    title = printable(title, 100)
    return f"from {source} titled '{title}'" if title else f"from {source} without a title"


def _answered(reply: Reply) -> str:
    try:
        phrase = f" {http.HTTPStatus(reply.status).phrase}"
    except ValueError:
        phrase = ""
    return f"{reply.host or 'the server'} answered {reply.status}{phrase}"


def is_redirect(status: int) -> bool:
    """A 3xx: the answer points elsewhere (never followed)."""
    return 300 <= status < 400


def redirect_message(request: Request, reply: Reply, url: str) -> str:
    """Why a redirect is an error, where it pointed (resolved against ``url``, the address the
    request was sent to; without credentials, query or fragment) and the base URL to use."""
    location = reply.headers.get("Location", "").strip()
    never = (
        "pisync never follows a redirect (it would send the request, credentials and secrets"
        " included, to another address)"
    )
    if not location:
        return (
            f"the server answered {request.what} with HTTP {reply.status}, a redirect that"
            f" says nowhere; check PISYNC_URL: {never}"
        )
    parts = urlsplit(urljoin(url, location))
    netloc = parts.netloc.rpartition("@")[2]
    target = printable(urlunsplit((parts.scheme, netloc, parts.path, "", "")))
    final = ""
    if parts.path.endswith(request.path) and parts.scheme in ("http", "https"):
        base = urlunsplit((parts.scheme, netloc, parts.path[: -len(request.path)], "", ""))
        final = f", {printable(base)}"
    return (
        f"the server redirected {request.what} to {target} (HTTP {reply.status}); set"
        f" PISYNC_URL to the final address{final}: {never}"
    )


#: Statuses the transport retries: rate limited, or a server or gateway that may recover.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Rate limited: the server refused the request unread.
TOO_MANY_REQUESTS: Final = 429
#: The server says it has too much to do: rate limited, unavailable, or (a gateway's word)
#: too slow to answer. ``server.concurrency: auto`` backs off on each.
OVERLOAD_STATUSES: Final = frozenset({429, 503, 504})
#: The longest ``Retry-After`` pisync waits, in seconds.
MAX_RETRY_AFTER: Final = 60.0


def retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), between 0 and
    :data:`MAX_RETRY_AFTER`; None when absent or unreadable. ``now``: the current UTC time."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - now).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def outcome_unknown(exc: ServerError) -> bool:
    """Whether a failed request may or may not have been processed (we cannot tell): the
    connection failed, or the last answer was a 429 or a 5xx."""
    if isinstance(exc, ConnectionFailed):
        return True
    status = exc.status if isinstance(exc, UnexpectedResponse) else 0
    return status is None or status == TOO_MANY_REQUESTS or status >= 500
