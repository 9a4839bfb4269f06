"""The configuration of SPEC §3 (``pisync.yaml``) as frozen values.

Built by :func:`Config.from_dict` from a document that already passed
``schemas/pisync-config.schema.json``; every key has a default, so an absent file is
``Config()``.

With ``servers:`` (a fleet), each :class:`ServerEntry` carries its own effective
:class:`Config`: the top level with the server's blocks laid over it (:func:`server_document`
says how, key by key), so everything that plans one server reads one ``Config`` as before.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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


class Severity(StrEnum):
    """How bad a policy violation is: an error blocks (exit 3), a warning informs."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class MfaRule:
    """``mfa_required_for``: these types, and holders of these privileges, need MFA."""

    types: frozenset[str] = frozenset()
    privileges: frozenset[str] = frozenset()
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class AdministratorsRule:
    """``administrators``: how many enabled administrators after the plan (None: no bound)."""

    min: int | None = None
    max: int | None = None
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class SeparationRule:
    """One ``separation_of_duties`` entry: a user may hold at most one of ``roles``."""

    roles: tuple[str, ...]
    reason: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationRule:
    """``escalation_requires``: grant metadata keys a user gaining escalating access needs."""

    keys: tuple[str, ...]
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxAccessRule:
    """``max_access_days``: user type -> the most days until its ``expires``."""

    days: Mapping[str, int]
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewRule:
    """``review_interval_days``: escalating access needs a ``review_by`` within ``days``."""

    days: int
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailRule:
    """``email_domains``: allowed domains (casefolded); others need a ``reason``."""

    allowed: frozenset[str]
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class Policies:
    """The ``policies:`` of SPEC §3, each None (or empty) when not configured."""

    mfa_required_for: MfaRule | None = None
    administrators: AdministratorsRule | None = None
    separation_of_duties: tuple[SeparationRule, ...] = ()
    escalation_requires: EscalationRule | None = None
    max_access_days: MaxAccessRule | None = None
    review_interval_days: ReviewRule | None = None
    email_domains: EmailRule | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The configured policies, in the schema's order."""
        return tuple(
            name
            for name in POLICY_NAMES
            if getattr(self, name) is not None and getattr(self, name) != ()
        )

    def __bool__(self) -> bool:
        return bool(self.names)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policies:
        """From the schema-valid ``policies:`` mapping."""
        mfa = data.get("mfa_required_for")
        admins = data.get("administrators")
        escalation = data.get("escalation_requires")
        max_days = data.get("max_access_days")
        review = data.get("review_interval_days")
        email = data.get("email_domains")
        return cls(
            mfa_required_for=None
            if mfa is None
            else MfaRule(
                types=frozenset(mfa.get("types", ())),
                privileges=frozenset(mfa.get("privileges", ())),
                severity=_severity(mfa),
            ),
            administrators=None
            if admins is None
            else AdministratorsRule(
                min=admins.get("min"), max=admins.get("max"), severity=_severity(admins)
            ),
            separation_of_duties=tuple(
                SeparationRule(
                    roles=tuple(rule["roles"]), reason=rule["reason"], severity=_severity(rule)
                )
                for rule in data.get("separation_of_duties") or ()
            ),
            escalation_requires=None
            if escalation is None
            else EscalationRule(keys=tuple(escalation["keys"]), severity=_severity(escalation)),
            max_access_days=None
            if max_days is None
            else MaxAccessRule(
                days={k: int(v) for k, v in max_days.items() if k != "severity"},
                severity=_severity(max_days),
            ),
            review_interval_days=None
            if review is None
            else ReviewRule(days=int(review["days"]), severity=_severity(review)),
            email_domains=None
            if email is None
            else EmailRule(
                allowed=frozenset(d.casefold() for d in email["allowed"]),
                severity=_severity(email),
            ),
        )


#: The policy kinds in the schema's (and every report's) order.
POLICY_NAMES: tuple[str, ...] = (
    "mfa_required_for",
    "administrators",
    "separation_of_duties",
    "escalation_requires",
    "max_access_days",
    "review_interval_days",
    "email_domains",
)


def _severity(rule: Mapping[str, Any]) -> Severity:
    return Severity(rule.get("severity", "error"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    url: str | None = None
    timeout: float = 30.0
    #: requests in flight at most: the fixed number, or with ``concurrency: auto`` the
    #: ceiling (``max_concurrency``) the limit may reach; also how many workers run
    concurrency: int = 8
    #: ``concurrency: auto``: the limit starts low and follows the server's pace
    auto_concurrency: bool = False
    #: the most ``auto`` may reach (``concurrency`` is this with ``auto``)
    max_concurrency: int = 32
    max_requests_per_second: float = 0.0  # 0: no cap
    verify_tls: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyConfig:
    max_prune_percent: float = 10.0
    max_prune_count: int = 25
    min_users_for_percent: int = 10


#: The blocks a server of ``servers:`` may set for itself, laid over the top level's key by
#: key (``policies``: policy by policy, each one replaced whole).
SERVER_OVERRIDES: tuple[str, ...] = ("server", "users", "roles", "safety", "policies", "licence")
#: The credentials a server's entry names, each an environment variable (never a value).
CREDENTIAL_KEYS: tuple[str, ...] = ("username", "password", "token", "account")
#: What pisync reads for a server without ``servers:``: the same four, by these names.
STANDARD_CREDENTIALS: Mapping[str, str] = {
    "username": "PISYNC_USERNAME",
    "password": "PISYNC_PASSWORD",
    "token": "PISYNC_TOKEN",
    "account": "PISYNC_ACCOUNT",
}
DEFAULT_MAX_IN_FLIGHT = 16


def credential_variable(server: str, key: str) -> str:
    """The default environment variable of a server's credential: ``PISYNC_<NAME>_<KEY>``,
    the name upper-cased with every other character than a letter or digit as ``_``."""
    return f"PISYNC_{re.sub(r'[^A-Z0-9]', '_', server.upper())}_{key.upper()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEntry:
    """One server of ``servers:``: its name, where its own files are, where its credentials
    come from (environment variable names), its named values and its effective config."""

    name: str
    url: str
    #: the server's overlay files: globs relative to pisync.yaml (none: the base alone)
    sources: tuple[str, ...] = ()
    #: credential -> the environment variable that holds it (:data:`CREDENTIAL_KEYS`)
    credentials: Mapping[str, str] = field(default_factory=dict)
    #: named values desired state refers to with ``{var: NAME}``
    vars: Mapping[str, str] = field(default_factory=dict)
    #: the top level with this server's blocks laid over it (``servers`` empty)
    config: Config = field(default_factory=lambda: Config())


#: The kinds a licence counts (``licence:`` of pisync.yaml): enabled users of each type, lite
#: users whatever their type (not in their type's count), and all enabled users.
LICENCE_KINDS: tuple[str, ...] = (
    "administrators",
    "designers",
    "chart_explorers",
    "users",
    "chart_viewers",
    "lite",
    "total",
)


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
    #: the key the identity provider signs users in by ("usercode", "email"; None: not said)
    login_claim: str | None = None
    roles_prune: RolePrune = RolePrune.OFF
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    expiring_days: int = 14
    policies: Policies = field(default_factory=Policies)
    #: ``licence:`` caps by kind (:data:`LICENCE_KINDS`); empty: no licence is checked
    licence: Mapping[str, int] = field(default_factory=dict)
    #: ``servers:`` in name order (empty: one server, as pisync has always planned)
    servers: tuple[ServerEntry, ...] = ()
    #: ``fleet.max_in_flight``: requests in flight across all servers at once
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    @property
    def fleet(self) -> bool:
        """``servers:`` names the servers (a fleet), rather than one server."""
        return bool(self.servers)

    def server_named(self, name: str) -> ServerEntry:
        """The entry of server ``name`` (``KeyError`` when there is none)."""
        for entry in self.servers:
            if entry.name == name:
                return entry
        raise KeyError(name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from a schema-valid ``pisync.yaml`` mapping (missing keys take defaults)."""
        blocks = data.get("servers") or {}
        top = cls._one(data)
        if not blocks:
            return top
        fleet = data.get("fleet") or {}
        servers = tuple(
            ServerEntry(
                name=name,
                url=str(block["url"]),
                sources=tuple(block.get("sources") or ()),
                credentials={
                    key: str((block.get("credentials") or {}).get(key))
                    if (block.get("credentials") or {}).get(key)
                    else credential_variable(name, key)
                    for key in CREDENTIAL_KEYS
                },
                vars={str(k): str(v) for k, v in (block.get("vars") or {}).items()},
                config=cls._one(server_document(data, block)),
            )
            for name, block in sorted(blocks.items())
        )
        return replace(
            top,
            servers=servers,
            max_in_flight=int(fleet.get("max_in_flight", DEFAULT_MAX_IN_FLIGHT)),
        )

    @classmethod
    def _one(cls, data: Mapping[str, Any]) -> Config:
        """One server's configuration from its document (``servers`` not read)."""
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
                concurrency=_concurrency(server),
                auto_concurrency=server.get("concurrency") == AUTO,
                max_concurrency=int(server.get("max_concurrency", MAX_CONCURRENCY)),
                max_requests_per_second=float(server.get("max_requests_per_second", 0)),
                verify_tls=bool(server.get("verify_tls", True)),
            ),
            defaults=dict(data.get("defaults") or {}),
            users_prune=UserPrune(_prune_word(users.get("prune", "off"))),
            protected=tuple(users.get("protected", ("ADMIN",))),
            ignore=tuple(users.get("ignore", ())),
            login_via_idp=tuple(users.get("login_via_idp", ())),
            login_claim=users.get("login_claim"),
            roles_prune=RolePrune(_prune_word(roles.get("prune", "off"))),
            safety=SafetyConfig(
                max_prune_percent=float(safety.get("max_prune_percent", 10)),
                max_prune_count=int(safety.get("max_prune_count", 25)),
                min_users_for_percent=int(safety.get("min_users_for_percent", 10)),
            ),
            expiring_days=int(plan.get("expiring_days", 14)),
            policies=Policies.from_dict(data.get("policies") or {}),
            licence={k: int(v) for k, v in (data.get("licence") or {}).items()},
        )

    def is_protected(self, usercode: str) -> bool:
        return _matches(usercode, self.protected)

    def is_ignored(self, usercode: str) -> bool:
        return _matches(usercode, self.ignore)

    def is_login_via_idp(self, usercode: str) -> bool:
        """The user signs in through the identity provider (``users.login_via_idp``)."""
        return _matches(usercode, self.login_via_idp)


def server_document(top: Mapping[str, Any], block: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration document one server of a fleet plans with: the top level, with each
    of the server's :data:`SERVER_OVERRIDES` blocks laid over the top level's key by key (a
    key the server writes replaces the top level's whole value; ``policies``: each policy the
    server names replaces that policy whole), and its ``url`` as ``server.url``."""
    merged = {k: v for k, v in top.items() if k not in ("servers", "fleet")}
    for key in SERVER_OVERRIDES:
        if key in block:
            merged[key] = {**(top.get(key) or {}), **(block[key] or {})}
    merged["server"] = {**(merged.get("server") or {}), "url": block["url"]}
    return merged


#: ``server.concurrency: auto``, and the ceiling ``server.max_concurrency`` it defaults to.
AUTO = "auto"
MAX_CONCURRENCY = 32


def _concurrency(server: Mapping[str, Any]) -> int:
    value = server.get("concurrency", 8)
    if value == AUTO:
        return int(server.get("max_concurrency", MAX_CONCURRENCY))
    return int(value)


def _prune_word(value: object) -> str:
    # YAML 1.2 keeps ``off`` a string, but a user may still write ``false``.
    return "off" if value is False or value is None else str(value)


def _matches(usercode: str, globs: tuple[str, ...]) -> bool:
    return bool(globs) and _pattern(globs).match(usercode.upper()) is not None


@functools.lru_cache(maxsize=64)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """The globs as one compiled pattern (asked once per user per rule: compile once)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(g.upper())})" for g in globs))
