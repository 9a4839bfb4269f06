"""The two values that cross between the adapter and the shell's transport: a :class:`Request`
the adapter builds and the :class:`Reply` the transport hands back; and :data:`Send`, the one
function the adapter's operations and probe are given to send a request. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from reconciler.errors import UnexpectedResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One HTTP request: method, path below the base URL, query, JSON body, how it may be retried.

    ``idempotent`` False means the request may be sent again only if it cannot have reached the
    server. ``auth`` False: send it without the Bearer token (signing in); ``headers`` are extra
    headers the adapter sets (the Basic scheme on sign-in).
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    idempotent: bool = True
    auth: bool = True
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def what(self) -> str:
        """``GET /users/syncPayload`` — how messages name the request (never its secrets)."""
        return f"{self.method} {self.path}"

    @property
    def json_body(self) -> bytes | None:
        if self.body is None:
            return None
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the server answered: status, body bytes, the headers the transport reads and
    ``host``, the ``host:port`` that answered (for messages; "" when unknown)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    host: str = ""

    def json(self, what: str) -> Any:
        """The body as JSON; a body that is not JSON is an unexpected response."""
        try:
            return orjson.loads(self.body)  # a third of json.loads's time per payload
        except ValueError:
            raise UnexpectedResponse(
                f"{what}: HTTP {self.status} but the body is not JSON", status=self.status
            ) from None


#: Sends one request and returns the server's reply, whatever its status (the shell's
#: transport, with its sign-in, retries and limits; a plain function in tests).
Send = Callable[[Request], Awaitable[Reply]]
