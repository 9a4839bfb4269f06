"""The running emulator: store, sessions, faults, request log and persistence in one place."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pi_emulator.auth import Sessions
from pi_emulator.capacity import Gate
from pi_emulator.errors import bad_request
from pi_emulator.faults import FaultConfig, FaultInjector
from pi_emulator.jwtlogin import JwtKeys
from pi_emulator.persist import Persister
from pi_emulator.quirks import view_of
from pi_emulator.render import View
from pi_emulator.reqlog import RequestLog
from pi_emulator.shapes import ShapeConfig
from pi_emulator.state import SeedError, StateError, build_store, load_state
from pi_emulator.store import Store


@dataclass(kw_only=True)
class EmulatorOptions:
    """How to build an emulator. ``seed`` is a parsed seed document (see state.py)."""

    seed: object = None
    state_path: Path | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    shape: ShapeConfig = field(default_factory=ShapeConfig)
    #: keys for ``POST /pi/auth/jwtLogin``; None: JWT login is not configured (404)
    jwt: JwtKeys | None = None
    persist_interval: float = 1.0
    #: keep only the newest this many request log entries (None: all)
    request_log_max: int | None = None
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], dt.date] = dt.date.today


class Emulator:
    """Everything one emulated server holds. ``store`` is replaced on reset; ``shape`` by
    ``PUT /_emulator/options``."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        self.options = options or EmulatorOptions()
        self.seed = self.options.seed
        self.sessions = Sessions(self.options.clock)
        self.faults = FaultInjector(self.options.faults)
        self.gate = Gate(lambda: self.faults.config.capacity)
        self.shape = self.options.shape  # also sets ``view``
        self.log = RequestLog(self.options.request_log_max)
        path = self.options.state_path
        self.persister = (
            None
            if path is None
            else Persister(path, lambda: self.store, self.options.persist_interval)
        )
        self.loaded_from_state = path is not None and path.exists()
        self.store = self._load(path) if self.loaded_from_state and path else build_store(self.seed)
        if self.loaded_from_state and self.persister is not None:
            self.persister.mark_saved()

    @property
    def shape(self) -> ShapeConfig:
        return self._shape

    @shape.setter
    def shape(self, shape: ShapeConfig) -> None:
        self._shape = shape
        #: how records are rendered under this shape (restrictions, read-side quirks)
        self.view: View = view_of(shape.store_quirks, grouped=shape.restriction_shape == "grouped")

    @staticmethod
    def _load(path: Path) -> Store:
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read state file {path}: {exc}") from None
        return load_state(doc)

    def today(self) -> dt.date:
        return self.options.today()

    def reset(self, seed: object = None) -> Store:
        """Back to the seed; a given ``seed`` replaces the startup seed from now on."""
        try:
            store = build_store(self.seed if seed is None else seed)
        except SeedError as exc:
            raise bad_request(f"invalid seed: {exc}") from None
        if seed is not None:
            self.seed = seed
        store.version = max(store.version, self.store.version) + 1
        self.store = store
        return store
