"""Fault injection settings and the seeded decision of which request gets which fault.

One ``FaultConfig`` holds every option; the CLI and ``PUT /_emulator/faults`` both go through
``FaultConfig.updated`` (``checks.apply_changes``) so they validate alike.
``FaultInjector.decide`` draws one number per eligible request from
``random.Random(fault_seed)``, so the same seed and the same sequence of requests give the
same faults. Scripted faults (``script``) are used first, one per eligible request, without
drawing.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast

from pi_emulator import checks
from pi_emulator.checks import Check, Checked
from pi_emulator.errors import bad_request
from pi_emulator.wire import JsonObj

FaultKind = Literal["500", "429", "drop"]
FAULT_KINDS: tuple[FaultKind, ...] = ("500", "429", "drop")
LOGIN_PATH = "/tokens"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultConfig:
    """Every fault option; the JSON keys of ``/_emulator/faults`` are these field names."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    fail_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    drop_rate: float = 0.0
    fault_phase: Literal["before", "after"] = "before"
    fault_seed: int | None = None
    fault_methods: tuple[str, ...] = ()
    fault_paths: tuple[str, ...] = ()
    faults_on_login: bool = True
    token_ttl: float | None = 1800.0
    token_ttl_mode: Literal["sliding", "absolute"] = "sliding"  # noqa: S105 - not a secret
    script: tuple[FaultKind | None, ...] = field(default=())
    #: at most this many API requests served at once, the rest wait in arrival order (None: any)
    capacity: int | None = None

    def to_json(self) -> JsonObj:
        data = asdict(self)
        for key in ("fault_methods", "fault_paths", "script"):
            data[key] = list(data[key])
        return data

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied, or 400 naming every bad option."""
        result = checks.apply_changes(self, changes, _CHECKS, "fault option")
        if result.drop_rate + result.fail_rate + result.rate_limit_rate > 1:
            raise bad_request("drop_rate + fail_rate + rate_limit_rate must not exceed 1")
        return result


def _ttl(value: object) -> Checked:
    if value is None:
        return None, None
    converted, problem = checks.non_negative(value)
    return (converted or None, None) if problem is None else (None, "must be seconds >= 0 or null")


def _seed(value: object) -> Checked:
    ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
    return (value, None) if ok else (None, "must be an integer or null")


def _methods(value: object) -> Checked:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(v.upper() for v in value), None
    return None, 'must be an array of HTTP methods such as ["POST"]'


def _paths(value: object) -> Checked:
    if isinstance(value, list) and all(isinstance(v, str) and v.startswith("/") for v in value):
        return tuple(value), None
    return None, 'must be an array of paths below /pi/api/v2 such as ["/users/sync"]'


def _capacity(value: object) -> Checked:
    ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
    return (value, None) if ok else (None, "must be an integer >= 1 or null")


def _script(value: object) -> Checked:
    if isinstance(value, list) and all(v is None or v in FAULT_KINDS for v in value):
        return tuple(value), None
    return None, 'must be an array of "500", "429", "drop" or null'


_CHECKS: dict[str, Check] = {
    "latency_ms": checks.non_negative,
    "latency_jitter_ms": checks.non_negative,
    "fail_rate": checks.rate,
    "rate_limit_rate": checks.rate,
    "retry_after": checks.whole,
    "drop_rate": checks.rate,
    "fault_phase": checks.choice("before", "after"),
    "fault_seed": _seed,
    "fault_methods": _methods,
    "fault_paths": _paths,
    "faults_on_login": checks.flag,
    "token_ttl": _ttl,
    "token_ttl_mode": checks.choice("sliding", "absolute"),
    "script": _script,
    "capacity": _capacity,
}


class FaultInjector:
    """The live configuration plus the seeded random streams it draws from."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = FaultConfig()
        self._faults = self._latency = random.Random(0)  # noqa: S311 - replaced just below
        self.configure((config or FaultConfig()).to_json(), reseed=True)

    def configure(self, changes: Mapping[str, Any], *, reseed: bool = False) -> FaultConfig:
        """Apply option changes; giving ``fault_seed`` (even unchanged) restarts the streams."""
        config = self.config.updated(changes)
        if reseed or "fault_seed" in changes:
            if config.fault_seed is None:
                config = replace(config, fault_seed=secrets.randbelow(2**31))
            seed = config.fault_seed
            # Seeded on purpose: reproducible faults, not security.
            self._faults = random.Random(seed)  # noqa: S311
            self._latency = random.Random(f"latency-{seed}")  # noqa: S311
        self.config = config
        return config

    def latency(self) -> float:
        """Seconds to wait before handling an API request."""
        config = self.config
        jitter = (
            self._latency.uniform(0, config.latency_jitter_ms) if config.latency_jitter_ms else 0
        )
        return (config.latency_ms + jitter) / 1000

    def decide(self, method: str, path: str) -> FaultKind | None:
        """The fault for a request to ``path`` (relative to the API base), if any."""
        config = self.config
        if not self._eligible(config, method, path):
            return None
        if config.script:
            self.config = replace(config, script=config.script[1:])
            return config.script[0]
        draw = self._faults.random()
        for kind, rate in (
            ("drop", config.drop_rate),
            ("500", config.fail_rate),
            ("429", config.rate_limit_rate),
        ):
            if draw < rate:
                return cast(FaultKind, kind)
            draw -= rate
        return None

    @staticmethod
    def _eligible(config: FaultConfig, method: str, path: str) -> bool:
        if path == LOGIN_PATH and not config.faults_on_login:
            return False
        if config.fault_methods and method.upper() not in config.fault_methods:
            return False
        return not config.fault_paths or any(path.startswith(p) for p in config.fault_paths)
