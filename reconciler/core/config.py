"""The configuration of SPEC §3 (``pisync.yaml``) as frozen values.

Built by :func:`Config.from_dict` from a document that already passed
``schemas/pisync-config.schema.json``; every key has a default, so an absent file is
``Config()``.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class UserPrune(StrEnum):
    OFF = "off"
    DISABLE = "disable"
    DELETE = "delete"


class RolePrune(StrEnum):
    OFF = "off"
    DELETE = "delete"


DEFAULT_SOURCES: tuple[str, ...] = ("users/**/*.yaml", "users/**/*.yml")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    url: str | None = None
    timeout: float = 30.0
    concurrency: int = 8
    max_requests_per_second: float = 0.0  # 0: no cap
    verify_tls: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyConfig:
    max_prune_percent: float = 10.0
    max_prune_count: int = 25
    min_users_for_percent: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    sources: tuple[str, ...] = DEFAULT_SOURCES
    server: ServerConfig = field(default_factory=ServerConfig)
    #: values (in desired-state form, e.g. ``{"type": "user"}``) for keys a NEW user omits
    defaults: Mapping[str, Any] = field(default_factory=dict)
    users_prune: UserPrune = UserPrune.OFF
    protected: tuple[str, ...] = ("ADMIN",)
    ignore: tuple[str, ...] = ()
    #: users who sign in through the identity provider, whose login flags the server forces
    login_via_idp: tuple[str, ...] = ()
    roles_prune: RolePrune = RolePrune.OFF
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    expiring_days: int = 14

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from a schema-valid ``pisync.yaml`` mapping (missing keys take defaults)."""
        server = data.get("server") or {}
        users = data.get("users") or {}
        roles = data.get("roles") or {}
        safety = data.get("safety") or {}
        plan = data.get("plan") or {}
        srcs = data.get("sources")
        return cls(
            sources=tuple(srcs) if srcs else DEFAULT_SOURCES,
            server=ServerConfig(
                url=server.get("url"),
                timeout=float(server.get("timeout", 30)),
                concurrency=int(server.get("concurrency", 8)),
                max_requests_per_second=float(server.get("max_requests_per_second", 0)),
                verify_tls=bool(server.get("verify_tls", True)),
            ),
            defaults=dict(data.get("defaults") or {}),
            users_prune=UserPrune(_prune_word(users.get("prune", "off"))),
            protected=tuple(users.get("protected", ("ADMIN",))),
            ignore=tuple(users.get("ignore", ())),
            login_via_idp=tuple(users.get("login_via_idp", ())),
            roles_prune=RolePrune(_prune_word(roles.get("prune", "off"))),
            safety=SafetyConfig(
                max_prune_percent=float(safety.get("max_prune_percent", 10)),
                max_prune_count=int(safety.get("max_prune_count", 25)),
                min_users_for_percent=int(safety.get("min_users_for_percent", 10)),
            ),
            expiring_days=int(plan.get("expiring_days", 14)),
        )

    def is_protected(self, usercode: str) -> bool:
        return _matches(usercode, self.protected)

    def is_ignored(self, usercode: str) -> bool:
        return _matches(usercode, self.ignore)

    def is_login_via_idp(self, usercode: str) -> bool:
        """The user signs in through the identity provider (``users.login_via_idp``)."""
        return _matches(usercode, self.login_via_idp)


def _prune_word(value: object) -> str:
    # YAML 1.2 keeps ``off`` a string, but a user may still write ``false``.
    return "off" if value is False or value is None else str(value)


def _matches(usercode: str, globs: tuple[str, ...]) -> bool:
    return bool(globs) and _pattern(globs).match(usercode.upper()) is not None


@functools.lru_cache(maxsize=64)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """The globs as one compiled pattern (asked once per user per rule: compile once)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(g.upper())})" for g in globs))
