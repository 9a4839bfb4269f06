"""The validation cache: each file's analysis, kept under ``.pisync-cache/`` next to
``pisync.yaml`` and keyed by what it depends on, so an unchanged file is not parsed again.

- The key of an entry is the sha256 of the file's display path and bytes; entries live in a
  folder named after a digest of pisync's own code and schemas, so a result is never trusted
  by another version of pisync (or an edited one) or under another schema.
- Entries are JSON data (never pickles: a cache folder can come from anywhere, a restored CI
  cache or a pull request) and are read back with the same decoder the tests round-trip; an
  entry that does not decode is ignored and replaced. A cache folder that is a link, or that
  git tracks (it came with the files), is not used at all; an entry that would hold a secret
  is not written. A restored CI cache is trusted: restore one only across runs you trust
  (the GitHub Actions kit turns the cache off for pull requests).
- Safe to delete at any time; a folder that cannot be written just means no cache. The
  folder holds a ``.gitignore`` of ``*``, so git never picks it up.
- Set ``PISYNC_CACHE=off`` (or pass ``--no-cache``) to bypass it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

import orjson

from reconciler.core.desired.analysis import FileResult
from reconciler.core.desired.filecodec import decode, encode
from reconciler.schemas import schema_text
from reconciler.shell.output import holds_secret
from reconciler.shell.repo.git import git

CACHE_DIR = ".pisync-cache"


@cache
def code_digest() -> str:
    """A digest of pisync's version, its code and its schemas: what a cached result depends on."""
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("pisync").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"unknown")
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    for name in ("pisync-file", "pisync-config"):
        digest.update(schema_text(name).encode())
    return digest.hexdigest()[:24]


class FileCache:
    """Cached FileResults below ``root`` (the folder of ``pisync.yaml``)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / CACHE_DIR / code_digest()
        #: a cache folder that is a link (a pull request can add one) could make pisync write
        #: outside the repository, and one that git tracks came with the files, not from an
        #: earlier run (its entries could say anything): such a cache is not used at all
        self.off = (
            (root / CACHE_DIR).is_symlink()
            or self.folder.is_symlink()
            or _tracked(root / CACHE_DIR)
        )
        self.hits = 0
        self.misses = 0
        self._used: set[str] = set()

    @staticmethod
    def key(display: str, data: bytes) -> str:
        return hashlib.sha256(display.encode() + b"\0" + data).hexdigest()

    def get(self, key: str, *, built: bool, subjects: bool = False) -> FileResult | None:
        """The cached result, or None (``built``: only one with its users and roles;
        ``subjects``: only one with the policies' subjects, or the built users to make them
        from)."""
        self._used.add(key)
        if self.off:
            return None
        try:
            data = orjson.loads((self.folder / f"{key}.json").read_bytes())
            from_users = subjects and data["subjects"] is None
            result = decode(data, full=built or from_users)
        except (OSError, ValueError, KeyError, TypeError):
            result = None
        missing = result is not None and (
            (built and not result.built)
            or (subjects and result.subjects is None and not result.built)
        )
        if result is None or missing:
            self.misses += 1
            return None
        self.hits += 1
        return result

    def used(self, key: str) -> None:
        """``key``'s entry is this run's (written by :func:`write_entry`, in whichever process
        parsed the file): kept by :meth:`prune`."""
        self._used.add(key)

    def entry_for(self, key: str) -> tuple[str, str] | None:
        """Where a parser process writes ``key``'s entry (None: nowhere, the cache is off)."""
        self._used.add(key)
        return None if self.off else (str(self.folder), key)

    def drop_if_secret(self, key: str) -> None:
        """Remove ``key``'s entry if it holds a secret learned after it was written (a value
        an ``{env: …}`` entry of a file read later names)."""
        entry = self.folder / f"{key}.json"
        try:
            if holds_secret(entry.read_bytes()):
                entry.unlink()
        except OSError:
            pass

    def prune(self) -> None:
        """After reading every source: drop entries no file uses, and other versions' folders."""
        if self.off:
            return
        try:
            for entry in self.folder.glob("*.json"):
                if entry.stem not in self._used:
                    entry.unlink(missing_ok=True)
            for other in self.folder.parent.iterdir():
                if other != self.folder and other.is_dir():
                    shutil.rmtree(other, ignore_errors=True)
        except OSError:
            pass


def write_entry(folder: Path, key: str, result: FileResult) -> None:
    """Write one entry into the cache folder ``folder`` (any process may: the file is
    written whole, then renamed into place), unless it would hold a secret this process
    knows (a value an ``{env: …}`` entry reads, a credential)."""
    target = folder / f"{key}.json"
    tmp = target.with_name(f".{key}.{os.getpid()}.tmp")
    try:
        data = orjson.dumps(encode(result))
        if holds_secret(data):
            return  # not kept
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            # the folder ignores itself, as .pytest_cache does: never committed by accident
            (folder.parent / ".gitignore").write_text(
                "# written by pisync: a cache, safe to delete\n*\n", encoding="utf-8"
            )
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError:  # a read-only checkout: no cache, nothing else changes
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _tracked(folder: Path) -> bool:
    """Whether git tracks anything in ``folder`` (False outside a repository or without git)."""
    if not folder.is_dir():
        return False
    try:
        return bool(git(folder, "ls-files", "--", ".").strip())
    except (OSError, subprocess.CalledProcessError):
        return False


def enabled(env: dict[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("PISYNC_CACHE", "").lower() != "off"
