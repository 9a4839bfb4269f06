"""One plan for a fleet: a plan per server, or why a server has none, as one value. Pure.

A :class:`FleetPlan` is what ``pisync plan --server/--all-servers`` computes, renders
(:mod:`reconciler.core.render.fleet_text`, :mod:`reconciler.core.render.fleet_markdown`) and
saves as a *bundle* (``--out``): one JSON document holding each server's plan document exactly
as a single server's saved plan (bound to that server's URL, with its own digest), plus what
the fleet adds (each server's name, exit code and why it was planned) and a digest of all of
it. ``apply BUNDLE`` applies each server's plan with its own stale check; shards of a CI
matrix each save a bundle, and ``pisync show`` joins them into one (:func:`merge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.model.digest import fingerprint
from reconciler.core.model.issues import Issue
from reconciler.core.plans.plan import Counts, Plan, _parse_pos

BUNDLE_FORMAT_VERSION = 1
BUNDLE_KIND = "bundle"

#: Exit codes from the most severe down: a fleet exits with its servers' most severe. A
#: runtime failure (1) outranks an invalid state (3), a safety guard (4), a stale plan (5)
#: and failed changes (6); then changes present (2), then success (0). A usage error (64),
#: the command line's own, is not a server's.
SEVERITY: tuple[int, ...] = (1, 3, 4, 5, 6, 2, 0)


def most_severe(codes: Iterable[int]) -> int:
    """The most severe of exit codes ``codes`` (:data:`SEVERITY`); 0 for none."""
    rank = {code: i for i, code in enumerate(SEVERITY)}
    return min(codes, key=lambda c: rank.get(c, -1), default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPlan:
    """One server of a fleet plan: its plan, or why it has none (``error``, with the
    problems at their lines in ``issues``), its exit code, and why it was planned."""

    name: str
    url: str
    plan: Plan | None = None
    exit_code: int = 0
    error: str | None = None
    issues: tuple[Issue, ...] = ()
    #: why a ``--changed-since`` plan covers this server (empty: it was asked for)
    reasons: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """One word for the fleet's table."""
        if self.plan is None:
            return "invalid" if self.exit_code == 3 else "failed"
        if self.plan.policy_errors:
            return "invalid"
        if self.plan.blocked:
            return "blocked"
        return "no changes" if self.plan.empty else "changes"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "exit_code": self.exit_code,
            "reasons": list(self.reasons),
            "error": self.error,
            "issues": [_issue(i) for i in self.issues],
            "plan": None if self.plan is None else self.plan.to_document(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], plan: Plan | None) -> ServerPlan:
        """From :meth:`to_dict` (``plan``: its plan document, read and checked by the caller)."""
        return cls(
            name=str(data["name"]),
            url=str(data["url"]),
            plan=plan,
            exit_code=int(data["exit_code"]),
            error=data.get("error"),
            issues=tuple(_issue_back(i) for i in data.get("issues") or ()),
            reasons=tuple(str(r) for r in data.get("reasons") or ()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetPlan:
    """Each planned server's :class:`ServerPlan` (by name), the servers left out and why
    (``--changed-since``: nothing they get changed), and how the servers were chosen."""

    servers: tuple[ServerPlan, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (name, why it was not planned)
    changed_since: str | None = None
    #: (index, count) of ``--shard I/N``; None: every chosen server
    shard: tuple[int, int] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return most_severe(s.exit_code for s in self.servers)

    @property
    def counts(self) -> Counts:
        plans = [s.plan.counts for s in self.servers if s.plan is not None]
        return Counts(
            create=sum(c.create for c in plans),
            update=sum(c.update for c in plans),
            disable=sum(c.disable for c in plans),
            delete=sum(c.delete for c in plans),
        )

    @property
    def empty(self) -> bool:
        """No server has a change (and every planned server has a plan)."""
        return all(s.plan is not None and s.plan.empty for s in self.servers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": BUNDLE_FORMAT_VERSION,
            "kind": BUNDLE_KIND,
            "changed_since": self.changed_since,
            "shard": None
            if self.shard is None
            else {"index": self.shard[0], "count": self.shard[1]},
            "servers": [s.to_dict() for s in self.servers],
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped],
            "notes": list(self.notes),
        }

    def to_document(self) -> dict[str, Any]:
        """:meth:`to_dict` plus its ``digest`` (as a single plan's: any edit shows)."""
        data = self.to_dict()
        data["digest"] = bundle_digest(data)
        return data


def bundle_digest(data: Mapping[str, Any]) -> str:
    """The digest of a bundle document: the fingerprint of all of it but its ``digest``."""
    return fingerprint({k: v for k, v in data.items() if k != "digest"})


def merge(parts: Sequence[FleetPlan]) -> tuple[FleetPlan | None, list[str]]:
    """The shard bundles of one CI matrix joined into one bundle, or why they cannot be:
    a server in two shards, a missing or repeated shard, parts of different plans."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, part in enumerate(parts, 1):
        for s in part.servers:
            if s.name in seen:
                problems.append(f"server {s.name} is in part {seen[s.name]} and part {i}")
            seen.setdefault(s.name, i)
    refs = {p.changed_since for p in parts}
    if len(refs) > 1:
        shown = ", ".join(sorted(str(r) for r in refs))
        problems.append(f"the parts were planned since different refs ({shown})")
    sharded = [p.shard for p in parts if p.shard is not None]
    counts = {count for _, count in sharded}
    if sharded and len(sharded) != len(parts):
        problems.append("some parts are shards of a --shard I/N split and some are not")
    elif len(counts) > 1:
        shown = ", ".join(str(c) for c in sorted(counts))
        problems.append(f"the parts are shards of different splits (N = {shown})")
    elif counts:
        (count,) = counts
        indexes = sorted(index for index, _ in sharded)
        missing = sorted(set(range(1, count + 1)) - set(indexes))
        repeated = sorted({i for i in indexes if indexes.count(i) > 1})
        if missing:
            problems.append(f"shard {', '.join(f'{m}/{count}' for m in missing)} missing")
        if repeated:
            problems.append(f"shard {', '.join(f'{r}/{count}' for r in repeated)} given twice")
    if problems:
        return None, problems
    skipped = {n: r for p in parts for n, r in p.skipped if n not in seen}
    return (
        FleetPlan(
            servers=tuple(sorted((s for p in parts for s in p.servers), key=lambda s: s.name)),
            skipped=tuple(sorted(skipped.items())),
            changed_since=next(iter(refs), None),
            notes=tuple(dict.fromkeys(n for p in parts for n in p.notes)),
        ),
        [],
    )


def _issue(issue: Issue) -> dict[str, Any]:
    return {
        "severity": issue.severity,
        "location": None if issue.pos is None else str(issue.pos),
        "message": issue.message,
        "key_path": issue.key_path,
    }


def _issue_back(data: Mapping[str, Any]) -> Issue:
    where = data.get("location")
    return Issue(
        severity="warning" if data.get("severity") == "warning" else "error",
        pos=_parse_pos(where) if where else None,
        message=str(data["message"]),
        key_path=str(data.get("key_path") or ""),
    )
