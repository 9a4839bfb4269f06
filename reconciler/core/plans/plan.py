"""The plan: what apply will do, as one immutable value.

A :class:`Plan` is computed once by :func:`reconciler.core.diff.changes.diff`, rendered many ways by
:mod:`reconciler.core.render`, saved as JSON (``plan --out``) and executed by the shell. It
never holds a secret's value: sensitive fields carry :data:`SENSITIVE` instead.
Its changes are in apply order (:mod:`reconciler.core.plans.order`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reconciler.core.model.digest import fingerprint
from reconciler.core.model.values import NO_GRANT, Grant, SourcePos

#: 2: a change's ``desired`` is derived from its fields (only what changes; variables one by
#: one, ``None`` removing one; a secret's field shows its ``{env, secure}`` reference)
FORMAT_VERSION = 2
SENSITIVE = "(sensitive)"


class Action(Enum):
    """A closed set of verbs; each carries the symbol the text plan shows."""

    CREATE = "create"
    UPDATE = "update"
    DISABLE = "disable"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DISABLE: "-", Action.DELETE: "-"}


class Kind(Enum):
    ROLE = "role"
    USER = "user"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    """One field of one object: ``before`` and ``after`` as JSON values.

    For set-like fields both are sorted lists; a secret's value is never here: a change to
    it is ``before == after == SENSITIVE`` with ``sensitive`` true.
    """

    path: str
    before: Any
    after: Any
    sensitive: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "before": self.before, "after": self.after}
        if self.sensitive:
            out["sensitive"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldChange:
        return cls(
            path=data["path"],
            before=data["before"],
            after=data["after"],
            sensitive=bool(data.get("sensitive", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One object to write.

    ``desired`` holds the managed values apply overlays on the live object (JSON form;
    secrets as ``{"env": NAME, "secure": bool}``, never a value). ``fingerprint`` is the
    sha256 of the live object as planned (None for a create); a saved plan is stale when a
    re-read object's fingerprint differs.
    """

    kind: Kind
    key: str
    action: Action
    fields: tuple[FieldChange, ...] = ()
    desired: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    live_id: str | None = None
    source: SourcePos | None = None

    @property
    def label(self) -> str:
        return f'role "{self.key}"' if self.kind is Kind.ROLE else f"user {self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "key": self.key,
            "action": self.action.value,
            "fields": [f.to_dict() for f in self.fields],
            "desired": dict(self.desired),
            "fingerprint": self.fingerprint,
            "live_id": self.live_id,
            "source": None if self.source is None else str(self.source),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        src = data.get("source")
        return cls(
            kind=Kind(data["kind"]),
            key=data["key"],
            action=Action(data["action"]),
            fields=tuple(FieldChange.from_dict(f) for f in data.get("fields", ())),
            desired=dict(data.get("desired") or {}),
            fingerprint=data.get("fingerprint"),
            live_id=data.get("live_id"),
            source=_parse_pos(src) if src else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessChange:
    """What a user can reach, before and after the plan, in words (effective access)."""

    usercode: str
    gained_roles: tuple[str, ...] = ()
    lost_roles: tuple[str, ...] = ()
    gained_categories: tuple[str, ...] = ()
    lost_categories: tuple[str, ...] = ()
    gained_privileges: tuple[str, ...] = ()
    lost_privileges: tuple[str, ...] = ()
    type_change: tuple[str | None, str | None] | None = None
    escalation: bool = False
    #: categories each gained role brings, for the sentence "gains role X (categories …)"
    role_categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: why the user has this access (its entry's grant metadata), shown beside the sentence
    grant: Grant = NO_GRANT

    def to_dict(self) -> dict[str, Any]:
        return {
            "usercode": self.usercode,
            "gained_roles": list(self.gained_roles),
            "lost_roles": list(self.lost_roles),
            "gained_categories": list(self.gained_categories),
            "lost_categories": list(self.lost_categories),
            "gained_privileges": list(self.gained_privileges),
            "lost_privileges": list(self.lost_privileges),
            "type_change": None if self.type_change is None else list(self.type_change),
            "escalation": self.escalation,
            "role_categories": {k: list(v) for k, v in self.role_categories.items()},
            "grant": self.grant.to_dict() if self.grant else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccessChange:
        tc = d.get("type_change")
        return cls(
            usercode=d["usercode"],
            gained_roles=tuple(d.get("gained_roles", ())),
            lost_roles=tuple(d.get("lost_roles", ())),
            gained_categories=tuple(d.get("gained_categories", ())),
            lost_categories=tuple(d.get("lost_categories", ())),
            gained_privileges=tuple(d.get("gained_privileges", ())),
            lost_privileges=tuple(d.get("lost_privileges", ())),
            type_change=None if tc is None else (tc[0], tc[1]),
            escalation=bool(d.get("escalation", False)),
            role_categories={k: tuple(v) for k, v in (d.get("role_categories") or {}).items()},
            grant=Grant.from_dict(d["grant"]) if d.get("grant") else NO_GRANT,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Expiry:
    usercode: str
    expires: str  # ISO date
    days: int  # negative: already expired
    enabled: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "usercode": self.usercode,
            "expires": self.expires,
            "days": self.days,
            "enabled": self.enabled,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Expiry:
        return cls(
            usercode=d["usercode"], expires=d["expires"], days=d["days"], enabled=d["enabled"]
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Guard:
    """A safety guard the plan trips (SPEC §5): apply refuses the plan unless ``--force``.

    ``numbers`` are the measured values and limits the message states, for scripts.
    """

    name: str
    message: str
    numbers: Mapping[str, int | float | str] = field(default_factory=dict)
    override: str = "--force"

    def __str__(self) -> str:
        return f"[{self.name}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "message": self.message,
            "numbers": dict(self.numbers),
            "override": self.override,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Guard:
        return cls(
            name=d["name"],
            message=d["message"],
            numbers=dict(d.get("numbers") or {}),
            override=d.get("override", "--force"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyFinding:
    """One violation of a ``policies:`` rule (SPEC §3): which rule, how bad, whom, where.

    ``message`` says what is wrong and the fix, without the rule's name; :attr:`text` is the
    line every report shows (``policy NAME: message``). ``usercode`` is None for a rule about
    the whole server (``administrators``); ``source`` is the user's entry, when declared.
    """

    policy: str
    severity: str  # "error" | "warning"
    message: str
    usercode: str | None = None
    source: SourcePos | None = None
    key_path: str = ""

    @property
    def text(self) -> str:
        return f"policy {self.policy}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "severity": self.severity,
            "usercode": self.usercode,
            "message": self.message,
            "source": None if self.source is None else str(self.source),
            "key_path": self.key_path,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PolicyFinding:
        src = d.get("source")
        return cls(
            policy=d["policy"],
            severity=d["severity"],
            message=d["message"],
            usercode=d.get("usercode"),
            source=_parse_pos(src) if src else None,
            key_path=d.get("key_path", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Counts:
    create: int = 0
    update: int = 0
    disable: int = 0
    delete: int = 0

    @property
    def total(self) -> int:
        return self.create + self.update + self.disable + self.delete


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The whole truth of what apply will do, and everything a reviewer needs beside it.

    A plan is *partial* when paths (``partial_files``), ``--target`` (``targets``) or
    ``--changed-since`` (``changed_since``) narrowed the desired state: then nothing outside
    it is pruned (but for users removed since ``changed_since``), and every rendering says so.
    ``guards`` are the safety guards apply would refuse it by; ``forced`` says ``--force``
    overrides them. ``notes`` inform, ``warnings`` ask for attention; neither blocks.
    ``policies`` names the ``policies:`` rules checked on the state after the plan and
    ``findings`` their violations: one of severity error makes the plan invalid (exit 3, never
    applied, never saved), which ``--force`` does not override.
    """

    server: str
    changes: tuple[Change, ...] = ()
    targets: tuple[str, ...] = ()  # non-empty: a partial plan (``--target``)
    #: not None: a partial plan over this many desired-state files (paths, --changed-since)
    partial_files: int | None = None
    changed_since: str | None = None  # the git ref of ``--changed-since``
    access: tuple[AccessChange, ...] = ()
    expiring: tuple[Expiry, ...] = ()
    guards: tuple[Guard, ...] = ()
    forced: bool = False
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: how many live users the prune guard measures against (managed, in scope)
    managed_live_users: int = 0
    #: users + roles the desired state declared (the empty-desired-state guard; None: unknown)
    desired_objects: int | None = None
    policies: tuple[str, ...] = ()  # the policies: rules checked
    findings: tuple[PolicyFinding, ...] = ()  # their violations

    @property
    def policy_errors(self) -> tuple[PolicyFinding, ...]:
        """The violations that make this plan invalid (severity error)."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def partial(self) -> bool:
        return bool(self.targets) or self.partial_files is not None

    @property
    def blocked(self) -> bool:
        """Whether apply would refuse this plan (a guard, not overridden)."""
        return bool(self.guards) and not self.forced

    @property
    def counts(self) -> Counts:
        c = Counter(ch.action for ch in self.changes)
        return Counts(
            create=c[Action.CREATE],
            update=c[Action.UPDATE],
            disable=c[Action.DISABLE],
            delete=c[Action.DELETE],
        )

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self, *, streamed: tuple[str, ...] = ()) -> dict[str, Any]:
        """The plan as JSON values; the lists named in ``streamed`` (``"changes"``,
        ``"access"``) left empty, for a writer that encodes them item by item."""
        counts = self.counts
        return {
            "format_version": FORMAT_VERSION,
            "server": self.server,
            "targets": list(self.targets),
            "partial": None
            if self.partial_files is None
            else {"files": self.partial_files, "changed_since": self.changed_since},
            "summary": {
                "create": counts.create,
                "update": counts.update,
                "disable": counts.disable,
                "delete": counts.delete,
            },
            "changes": [] if "changes" in streamed else [c.to_dict() for c in self.changes],
            "access": [] if "access" in streamed else [a.to_dict() for a in self.access],
            "expiring": [e.to_dict() for e in self.expiring],
            "guards": [g.to_dict() for g in self.guards],
            "forced": self.forced,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "managed_live_users": self.managed_live_users,
            "desired_objects": self.desired_objects,
            "policy": {
                "checked": list(self.policies),
                "findings": [f.to_dict() for f in self.findings],
            },
        }

    def to_document(self) -> dict[str, Any]:
        """:meth:`to_dict` plus ``digest``, the fingerprint of everything else in it: a saved
        plan whose content no longer matches its digest was changed after pisync wrote it."""
        data = self.to_dict()
        data["digest"] = document_digest(data)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"plan format_version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        partial = data.get("partial") or {}
        return cls(
            server=data["server"],
            changes=tuple(Change.from_dict(c) for c in data.get("changes", ())),
            targets=tuple(data.get("targets", ())),
            partial_files=partial.get("files"),
            changed_since=partial.get("changed_since"),
            access=tuple(AccessChange.from_dict(a) for a in data.get("access", ())),
            expiring=tuple(Expiry.from_dict(e) for e in data.get("expiring", ())),
            guards=tuple(Guard.from_dict(g) for g in data.get("guards", ())),
            forced=bool(data.get("forced", False)),
            notes=tuple(data.get("notes", ())),
            warnings=tuple(data.get("warnings", ())),
            managed_live_users=int(data.get("managed_live_users", 0)),
            desired_objects=data.get("desired_objects"),
            policies=tuple((data.get("policy") or {}).get("checked", ())),
            findings=tuple(
                PolicyFinding.from_dict(f) for f in (data.get("policy") or {}).get("findings", ())
            ),
        )


def document_digest(data: Mapping[str, Any]) -> str:
    """The digest of a plan document: the fingerprint of all of it but its ``digest`` key."""
    return fingerprint({k: v for k, v in data.items() if k != "digest"})


def _parse_pos(text: str) -> SourcePos | None:
    file, _, rest = text.rpartition(":")
    file2, _, line = file.rpartition(":")
    try:
        return SourcePos(file=file2, line=int(line), col=int(rest))
    except ValueError:
        return None
