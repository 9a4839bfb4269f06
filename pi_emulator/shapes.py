"""Server-shape options: how this emulated server answers, for the shapes the reference allows.

The reference leaves several answers open (§2.2, §2.3, §4.1, U2, U5, U16, U17): a list may be a
bare array or a page envelope, an older server may not page at all, a server may filter or
truncate its user list, ``GET /users/syncPayload`` may take another parameter, and restrictions
may come grouped. Each option picks one of those behaviours so that a client (and
``pisync doctor``) can be tested against every one of them. The CLI and
``PUT /_emulator/options`` both go through ``ShapeConfig.updated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pi_emulator import checks
from pi_emulator.checks import Check, Checked
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

    @property
    def bare_lists(self) -> bool:
        return self.list_shape == "bare"

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(self.list_hide)

    def to_json(self) -> JsonObj:
        data = asdict(self)
        data["list_hide"] = list(self.list_hide)
        return data

    def updated(self, changes: Mapping[str, Any]) -> ShapeConfig:
        """A copy with ``changes`` applied, or 400 naming every bad option."""
        return checks.apply_changes(self, changes, _CHECKS, "option")


def _usercodes(value: object) -> Checked:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(dict.fromkeys(v.strip().upper() for v in value)), None
    return None, 'must be an array of usercodes such as ["BWONG"]'


_CHECKS: dict[str, Check] = {
    "list_shape": checks.choice("envelope", "bare"),
    "list_paging": checks.flag,
    "list_hide": _usercodes,
    "list_cap": checks.optional_whole,
    "sync_payload_param": checks.choice("usercode", "id"),
    "restriction_shape": checks.choice("per-value", "grouped"),
}
