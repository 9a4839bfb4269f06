"""Server-shape options: how this emulated server answers, for the shapes the reference allows.

The reference leaves several answers open (§2.2, §2.3, §4.1, U2, U5, U6, U16, U17): a list may
be a bare array or a page envelope, an older server may not page at all, a server may filter or
truncate its user list, ``GET /users/syncPayload`` may take another parameter, restrictions
may come grouped, and ``POST /users/sync`` may answer the payload, the user object or nothing.
Each option picks one of those behaviours so that a client (and ``pisync doctor``) can be
tested against every one of them. The same goes for the server's rules that the reference
only guesses at: store quirks (quirks.py) and licence caps (licence.py). The CLI and
``PUT /_emulator/options`` both go through ``ShapeConfig.updated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pi_emulator import checks
from pi_emulator.checks import Check, Checked
from pi_emulator.licence import BUCKETS
from pi_emulator.quirks import STORE_QUIRKS
from pi_emulator.wire import JsonObj


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapeConfig:
    """Every shape option; the JSON keys of ``/_emulator/options`` are these field names."""

    list_shape: Literal["envelope", "bare"] = "envelope"
    list_paging: bool = True
    #: upper-case usercodes left out of ``GET /users`` (lists and totals)
    list_hide: tuple[str, ...] = ()
    #: at most this many items in a whole list (None: no cap)
    list_cap: int | None = None
    sync_payload_param: Literal["usercode", "id"] = "usercode"
    restriction_shape: Literal["per-value", "grouped"] = "per-value"
    #: what ``POST /users/sync`` answers (reference U6)
    sync_answer: Literal["payload", "user", "empty"] = "payload"
    #: names from quirks.STORE_QUIRKS
    store_quirks: tuple[str, ...] = ()
    #: licence bucket -> cap (licence.BUCKETS); empty: no licence is enforced
    licence: Mapping[str, int] = field(default_factory=dict)

    @property
    def bare_lists(self) -> bool:
        return self.list_shape == "bare"

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(self.list_hide)

    def to_json(self) -> JsonObj:
        data = asdict(self)
        data["list_hide"] = list(self.list_hide)
        data["store_quirks"] = list(self.store_quirks)
        data["licence"] = dict(self.licence)
        return data

    def updated(self, changes: Mapping[str, Any]) -> ShapeConfig:
        """A copy with ``changes`` applied, or 400 naming every bad option."""
        return checks.apply_changes(self, changes, _CHECKS, "option")


def _usercodes(value: object) -> Checked:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(dict.fromkeys(v.strip().upper() for v in value)), None
    return None, 'must be an array of usercodes such as ["BWONG"]'


def _quirks(value: object) -> Checked:
    if isinstance(value, list) and all(isinstance(v, str) and v in STORE_QUIRKS for v in value):
        return tuple(dict.fromkeys(value)), None
    return None, f"must be an array of store quirks from: {', '.join(STORE_QUIRKS)}"


def _licence(value: object) -> Checked:
    if value is None:
        return {}, None
    if isinstance(value, dict) and all(
        key in BUCKETS and isinstance(cap, int) and not isinstance(cap, bool) and cap >= 0
        for key, cap in value.items()
    ):
        return dict(value), None
    return None, (f"must be an object of caps (integers >= 0) for: {', '.join(BUCKETS)}, or null")


_CHECKS: dict[str, Check] = {
    "list_shape": checks.choice("envelope", "bare"),
    "list_paging": checks.flag,
    "list_hide": _usercodes,
    "list_cap": checks.optional_whole,
    "sync_payload_param": checks.choice("usercode", "id"),
    "restriction_shape": checks.choice("per-value", "grouped"),
    "sync_answer": checks.choice("payload", "user", "empty"),
    "store_quirks": _quirks,
    "licence": _licence,
}
