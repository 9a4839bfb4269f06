"""The completeness and accuracy manifest of a review (IPE: information produced by the
entity), and the checks that its counts reconcile. Pure.

An auditor accepts a population when they can tell where it came from, when, with which
filters, and that nothing was left out. Every format of the review carries this manifest:
the server and the UTC time of the read, pisync's version and commit, the repository's
commit (and whether its inputs differed from it), every filter applied, counts that must add
up (:func:`checks`), and the SHA-256 of each input file. A bundle (``review --out DIR``) adds
the SHA-256 of each output in ``manifest.json`` (:func:`bundle_manifest`), which
``review --verify DIR`` re-checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

MANIFEST_VERSION: Final = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDigest:
    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.size}

    @classmethod
    def of(cls, path: str, data: bytes) -> FileDigest:
        return cls(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@dataclass(frozen=True, slots=True, kw_only=True)
class Counts:
    """The populations of one review, each counted on its own so that they can be checked
    against each other."""

    server_count: int | None  # the server's own count of its users (None: it gives none)
    read: int  # live users read (the list, and declared users it left out)
    unlisted: int  # declared users the list left out but a look-up found
    reported: int  # rows in the report
    managed: int  # rows declared in the repository (not ignored)
    ignored: int  # rows pisync ignores (users.ignore, or pisync: {ignore: true})
    unmanaged: int  # rows no file declares
    declared: int  # entries in the repository
    declared_on_server: int  # entries whose user was read
    declared_missing: int  # entries whose user is not on the server
    grants: int  # grant rows, all users

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_count": self.server_count,
            "read": self.read,
            "listed": self.read - self.unlisted,
            "unlisted": self.unlisted,
            "reported": self.reported,
            "managed": self.managed,
            "ignored": self.ignored,
            "unmanaged": self.unmanaged,
            "declared": self.declared,
            "declared_on_server": self.declared_on_server,
            "declared_missing": self.declared_missing,
            "grants": self.grants,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    name: str
    ok: bool | None  # None: could not be checked (``detail`` says why)
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def checks(c: Counts) -> tuple[Check, ...]:
    """The counts must reconcile: the server's own count with the users read, the users
    read with the report's rows, the rows with their three kinds, the repository's entries
    with those found and those missing."""
    if c.server_count is None:
        server = Check(
            name="server count",
            ok=None,
            detail="not checked: the server's user list gives no total",
        )
    else:
        server = Check(
            name="server count",
            ok=c.server_count == c.read - c.unlisted,
            detail=f"the server counts {c.server_count} users; its list gave {c.read - c.unlisted}",
        )
    return (
        server,
        Check(
            name="every user read is reported",
            ok=c.read == c.reported,
            detail=f"{c.read} read, {c.reported} reported",
        ),
        Check(
            name="rows add up",
            ok=c.managed + c.ignored + c.unmanaged == c.reported,
            detail=f"{c.managed} managed + {c.ignored} ignored + {c.unmanaged} unmanaged"
            f" = {c.managed + c.ignored + c.unmanaged} (reported {c.reported})",
        ),
        Check(
            name="declared users add up",
            ok=c.declared_on_server + c.declared_missing == c.declared,
            detail=f"{c.declared_on_server} on the server + {c.declared_missing} missing ="
            f" {c.declared_on_server + c.declared_missing} (declared {c.declared})",
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """What the review left out of the repository's view, or treated apart."""

    ignore: tuple[str, ...]  # users.ignore globs
    protected: tuple[str, ...]  # users.protected globs
    login_via_idp: tuple[str, ...]
    ignored_users: int
    unmanaged_users: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": "every user the server lists (nothing is filtered out of the rows)",
            "ignore": list(self.ignore),
            "protected": list(self.protected),
            "login_via_idp": list(self.login_via_idp),
            "ignored_users": self.ignored_users,
            "unmanaged_users": self.unmanaged_users,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where the review came from: pisync, and the repository it read."""

    pisync_version: str
    pisync_commit: str | None
    repository_commit: str | None
    #: input files that differ from the repository's commit (uncommitted); None: not known
    uncommitted: tuple[str, ...] | None
    note: str | None = None  # why a commit is not known

    def to_dict(self) -> dict[str, Any]:
        return {
            "pisync": {"version": self.pisync_version, "commit": self.pisync_commit},
            "repository": {
                "commit": self.repository_commit,
                "uncommitted": None if self.uncommitted is None else list(self.uncommitted),
            },
            "note": self.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFacts:
    """What the shell knows of the read and the inputs: the manifest's part beyond counts."""

    read_started: str  # UTC, ISO 8601 with "Z"
    read_finished: str
    server_count: int | None
    origin: Origin
    inputs: tuple[FileDigest, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    server: str
    read_started: str  # UTC, ISO 8601 with "Z"
    read_finished: str
    origin: Origin
    filters: Filters
    counts: Counts
    inputs: tuple[FileDigest, ...]
    checks: tuple[Check, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """No check failed (one that could not be made is not a failure)."""
        return all(c.ok is not False for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "read_started": self.read_started,
            "read_finished": self.read_finished,
            **self.origin.to_dict(),
            "filters": self.filters.to_dict(),
            "counts": self.counts.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "inputs": [f.to_dict() for f in self.inputs],
        }


def canonical(value: Any) -> bytes:
    """The one byte form a digest is taken of: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def bundle_manifest(manifest: Mapping[str, Any], outputs: Sequence[FileDigest]) -> dict[str, Any]:
    """``manifest.json`` of a bundle: the review's manifest, the digest of each output, and
    a digest of both (an edit of the manifest itself shows)."""
    body = {
        "format_version": MANIFEST_VERSION,
        "manifest": dict(manifest),
        "outputs": [o.to_dict() for o in outputs],
    }
    return {**body, "sha256": hashlib.sha256(canonical(body)).hexdigest()}


def bundle_digest(data: Mapping[str, Any]) -> str:
    """The digest :func:`bundle_manifest` records, recomputed from a read ``manifest.json``."""
    body = {k: v for k, v in data.items() if k != "sha256"}
    return hashlib.sha256(canonical(body)).hexdigest()
