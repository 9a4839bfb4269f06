"""What each HTTP status means to pisync, and which ones are retried: one place for every
status rule, read by the adapter's operations and the shell's transport alike. Pure (the
clock, when a rule needs it, is passed in).

- :data:`TOKEN_REFUSED`: sign in again; :data:`NOT_FOUND`: the object does not exist (only
  ever read as "absent" where an operation says so); :data:`CONFLICT`: a role create found the
  role already there.
- :data:`RETRY_STATUSES`: a transient refusal: the transport retries it (a request that is not
  idempotent only on a 429, which says the request was not read), honouring ``Retry-After``
  (:func:`retry_after`, capped at :data:`MAX_RETRY_AFTER`).
- :func:`outcome_unknown`: a failed write whose effect cannot be told from its answer (no
  answer, a 429, a 5xx): it may or may not have been applied, so it is checked before it is
  sent again.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Mapping
from typing import Final

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


def error_message(reply: Reply) -> str:
    """The server's own words: an error body's message when JSON, else its text, shortened."""
    try:
        body = json.loads(reply.body) if reply.body else None
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        for key in ERROR_BODY_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    text = reply.body.decode("utf-8", "replace").strip()
    return (text[:300] + "…") if len(text) > 300 else (text or f"HTTP {reply.status}")


def raise_for_status(reply: Reply, request: Request) -> None:
    """Any status >= 400 that the caller did not read as a meaning is an unexpected response."""
    if reply.status >= 400:
        raise UnexpectedResponse(
            f"{request.what}: HTTP {reply.status}: {error_message(reply)}", status=reply.status
        )


#: Statuses the transport retries: rate limited, or a server or gateway that may recover.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Rate limited: the server refused the request unread.
TOO_MANY_REQUESTS: Final = 429
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
