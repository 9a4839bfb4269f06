"""What changed since a previous review (``review --since PREVIOUS``): users who joined or
left, grants added or removed. Pure.

The previous review's users are read one at a time (:func:`previous_user`) into
:class:`Previous`, then each row of this review is compared as it is made
(:class:`SinceTally`), so neither review is ever held whole.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.review.grants import LOGIN_METHODS, resource


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousInfo:
    """Which review this one is compared with."""

    file: str
    server: str
    date: str
    read_finished: str | None
    format_version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "server": self.server,
            "date": self.date,
            "read_finished": self.read_finished,
        }


@dataclass(slots=True)
class Previous:
    """The previous review's grants, by usercode (resources interned: most are shared)."""

    info: PreviousInfo
    grants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: the previous review predates login methods as grants (format 1): not compared
    no_login: bool = False

    def add(self, usercode: str, resources: Iterable[str]) -> None:
        self.grants[sys.intern(usercode)] = tuple(sorted({sys.intern(r) for r in resources}))


def previous_user(obj: Mapping[str, Any], format_version: int) -> tuple[str, list[str]] | None:
    """``(usercode, resources)`` of one user object of a review's JSON, or None when it is
    not one. Format 1 (before grants were listed) is read from its access fields."""
    code = obj.get("usercode")
    if not isinstance(code, str):
        return None
    if format_version >= 2:
        grants = obj.get("grants")
        if not isinstance(grants, list):
            return None
        return code, [g["resource"] for g in grants if isinstance(g, dict) and "resource" in g]
    out = []
    if isinstance(obj.get("type"), str):
        out.append(resource("type", obj["type"]))
    out.append(resource("enabled", "false" if obj.get("enabled") is False else "true"))
    found = obj.get("direct")
    direct: Mapping[str, Any] = found if isinstance(found, dict) else {}
    for kind, names in (
        ("role", obj.get("roles")),
        ("privilege", direct.get("privileges")),
        ("category", direct.get("categories")),
    ):
        out += [resource(kind, n) for n in names or () if isinstance(n, str)]
    return code, out


@dataclass(frozen=True, slots=True, kw_only=True)
class SinceReport:
    previous: PreviousInfo
    joined: tuple[str, ...]
    left: tuple[str, ...]
    added: tuple[tuple[str, str], ...]  # (usercode, resource), users who stayed
    removed: tuple[tuple[str, str], ...]
    note: str | None = None

    @property
    def words(self) -> str:
        """The counts in words."""

        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        return ", ".join(
            (
                n(len(self.joined), "user joined", "users joined"),
                f"{len(self.left)} left",
                n(len(self.added), "grant added", "grants added"),
                f"{len(self.removed)} removed",
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "previous": self.previous.to_dict(),
            "joined": list(self.joined),
            "left": list(self.left),
            "grants_added": [{"principal": p, "resource": r} for p, r in self.added],
            "grants_removed": [{"principal": p, "resource": r} for p, r in self.removed],
            "note": self.note,
        }


_LOGIN = tuple(resource("login", m) for m in LOGIN_METHODS)


class SinceTally:
    """Compares each row's grants with the previous review's as the rows are made."""

    def __init__(self, previous: Previous) -> None:
        self.previous = previous
        self.seen: set[str] = set()
        self.joined: list[str] = []
        self.added: list[tuple[str, str]] = []
        self.removed: list[tuple[str, str]] = []

    def add(self, usercode: str, resources: Iterable[str]) -> None:
        self.seen.add(usercode)
        before = self.previous.grants.get(usercode)
        if before is None:
            self.joined.append(usercode)
            return
        now = set(resources)
        if self.previous.no_login:
            now.difference_update(_LOGIN)
        old = set(before)
        self.added += [(usercode, r) for r in sorted(now - old)]
        self.removed += [(usercode, r) for r in sorted(old - now)]

    def report(self) -> SinceReport:
        left = sorted(c for c in self.previous.grants if c not in self.seen)
        note = None
        if self.previous.no_login:
            note = "the previous review predates login methods as grants: they are not compared"
        return SinceReport(
            previous=self.previous.info,
            joined=tuple(sorted(self.joined)),
            left=tuple(left),
            added=tuple(sorted(self.added)),
            removed=tuple(sorted(self.removed)),
            note=note,
        )
