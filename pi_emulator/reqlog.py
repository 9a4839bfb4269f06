"""The request log behind ``GET /_emulator/requests``: one entry per API request."""

from __future__ import annotations

import json

from pi_emulator.wire import JsonObj

SYNC_PATH = "/users/sync"


class RequestLog:
    """Entries in arrival order, numbered from 1; ``clear`` keeps the numbering going."""

    def __init__(self) -> None:
        self._entries: list[JsonObj] = []
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
        }
        self._next_seq += 1
        self._entries.append(entry)
        return entry

    def entries(self, since: int = 0) -> list[JsonObj]:
        """Entries with ``seq`` above ``since``."""
        if not self._entries:
            return []
        start = max(0, since - self._entries[0]["seq"] + 1)
        return self._entries[start:]

    def clear(self) -> None:
        self._entries.clear()


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
