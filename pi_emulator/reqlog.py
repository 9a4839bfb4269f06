"""The request log behind ``GET /_emulator/requests``: one entry per API request."""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections import deque
from collections.abc import MutableMapping
from typing import Any

from pi_emulator.wire import JsonObj

SYNC_PATH = "/users/sync"
#: where the layer puts a request's log entry in the ASGI scope, for handlers to annotate
ENTRY_KEY = "pi_emulator.log_entry"
_JWT_PARAM = re.compile(r"(?<![^&])(jwt=)[^&]*")


class RequestLog:
    """Entries in arrival order, numbered from 1; ``clear`` keeps the numbering going.

    ``max_entries``: keep only the newest that many (a ring buffer; None keeps all).
    """

    def __init__(self, max_entries: int | None = None) -> None:
        self._entries: deque[JsonObj] = deque(maxlen=max_entries)
        self._next_seq = 1

    def start(self, method: str, path: str, query: str, usercodes: list[str]) -> JsonObj:
        """Record a request as it arrives; the caller fills in the outcome later."""
        entry: JsonObj = {
            "seq": self._next_seq,
            "method": method,
            "path": path,
            "query": query,
            "status": None,
            "appStatus": None,
            "usercodes": usercodes,
            "fault": None,
            "detail": None,
        }
        self._next_seq += 1
        self._entries.append(entry)
        return entry

    def entries(self, since: int = 0) -> list[JsonObj]:
        """Entries with ``seq`` above ``since``."""
        if not self._entries:
            return []
        start = max(0, since - self._entries[0]["seq"] + 1)
        return list(itertools.islice(self._entries, start, None))

    def clear(self) -> None:
        self._entries.clear()


def note(scope: MutableMapping[str, Any], **fields: object) -> None:
    """Set fields of the log entry of the request in ``scope`` (if it is logged)."""
    entry = scope.get(ENTRY_KEY)
    if entry is not None:
        entry.update(fields)


def redact_query(query: str) -> str:
    """The query string with a ``jwt`` parameter's value (a credential) blanked out."""
    return _JWT_PARAM.sub(r"\1(redacted)", query) if "jwt=" in query else query


class RedactAccessLog(logging.Filter):
    """For uvicorn's access log (``--access-log``): no ``?jwt=`` credential in the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            path, mark, query = args[2].partition("?")
            if mark:
                record.args = (*args[:2], f"{path}?{redact_query(query)}", *args[3:])
        return True


def sync_usercodes(body: bytes) -> list[str]:
    """The upper-cased usercodes named in a ``POST /users/sync`` body (best effort)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    codes: list[str] = []
    for element in data:
        user = element.get("user") if isinstance(element, dict) else None
        code = user.get("usercode") if isinstance(user, dict) else None
        if isinstance(code, str):
            codes.append(code.upper())
    return codes
