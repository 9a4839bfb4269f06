"""What a review records about where it came from, and the files it reads beside the
repository: the manifest's origin (pisync's version and commit, the repository's commit and
what was not committed), the SHA-256 of each input, a previous review (``--since``) and apply
reports (``--apply-report``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from reconciler.core.review.github import repository_of_remote
from reconciler.core.review.manifest import FileDigest, Origin
from reconciler.core.review.since import Previous, PreviousInfo, previous_user
from reconciler.errors import UsageError
from reconciler.shell.repo.decisions import uncommitted
from reconciler.shell.repo.git import git

#: The line a review's JSON opens its users with (one user per line after it).
USERS_OPEN = '  "users": ['


def utc_now() -> str:
    """Now, UTC, to the second, ISO 8601 with ``Z``."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def digest(path: Path, shown: str) -> FileDigest:
    """A file's SHA-256, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return FileDigest(path=shown, sha256=h.hexdigest(), size=size)


def shown_path(path: Path, root: Path | None) -> str:
    """``path`` relative to the repository's top folder when inside it (so that a bundle
    can be checked against the repository later), else absolute."""
    absolute = path.resolve()
    if root is not None:
        try:
            return absolute.relative_to(root).as_posix()
        except ValueError:
            pass
    return absolute.as_posix()


def repository_root(repo: Path | None) -> Path | None:
    if repo is None:
        return None
    try:
        return Path(git(repo, "rev-parse", "--show-toplevel").strip()).resolve()
    except (OSError, subprocess.CalledProcessError):
        return None


def origin(repo: Path | None, root: Path | None, inputs: Sequence[Path]) -> Origin:
    """pisync's version and commit; the repository's commit, and which inputs differ from
    it (uncommitted)."""
    version, commit = _pisync()
    notes = []
    head = None
    changed: tuple[str, ...] | None = None
    if root is None or repo is None:
        notes.append("the repository is not a git repository: its commit is not known")
    else:
        try:
            head = git(repo, "rev-parse", "HEAD").strip()
        except (OSError, subprocess.CalledProcessError):
            notes.append("the repository has no commit yet")
        found = uncommitted(repo, [p for p in inputs if _inside(p, root)])
        if found is not None:
            changed = tuple(sorted(shown_path(p, root) for p in found))
    if commit is None:
        notes.append("pisync's own commit is not known (installed from a package without it)")
    return Origin(
        pisync_version=version,
        pisync_commit=commit,
        repository_commit=head,
        uncommitted=changed,
        note="; ".join(notes) or None,
    )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _pisync() -> tuple[str, str | None]:
    """pisync's version, and the commit it was built from: recorded by the installer for an
    install from git (PEP 610), else the checkout an editable install runs from (``+dirty``
    when its code has changes not committed)."""
    try:
        dist = metadata.distribution("pisync")
    except metadata.PackageNotFoundError:
        return "unknown", None
    direct = dist.read_text("direct_url.json")
    if direct:
        try:
            vcs = json.loads(direct).get("vcs_info") or {}
        except ValueError:
            vcs = {}
        if isinstance(vcs.get("commit_id"), str):
            return dist.version, vcs["commit_id"]
    here = Path(__file__).resolve().parents[4]  # the folder holding the reconciler package
    try:
        top = Path(git(here, "rev-parse", "--show-toplevel").strip()).resolve()
        if top != here.resolve() or not (top / "pyproject.toml").is_file():
            return dist.version, None
        head = git(here, "rev-parse", "HEAD").strip()
        dirty = git(here, "status", "--porcelain", "--", "reconciler", "schemas").strip()
    except (OSError, subprocess.CalledProcessError):
        return dist.version, None
    return dist.version, head + ("+dirty" if dirty else "")


def remote_repository(repo: Path | None) -> str | None:
    """``owner/name`` of the ``origin`` remote when it is on github.com."""
    if repo is None:
        return None
    try:
        url = git(repo, "remote", "get-url", "origin").strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return repository_of_remote(url)


# --- files given on the command line -----------------------------------------------------------


def read_previous(path: Path) -> Previous:
    """A previous review (its JSON, or a bundle folder holding ``review.json``), read one
    user at a time when pisync wrote it (one user per line), else whole."""
    file = path / "review.json" if path.is_dir() else path
    try:
        with file.open("rb") as f:
            found = _stream(f, str(path))
        if found is not None:
            return found
        data = orjson.loads(file.read_bytes())
    except OSError as exc:
        raise UsageError(f"--since: cannot read {file}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"--since: {file} is not JSON ({exc})") from None
    return _whole(data, str(path))


def _info(head: Any, file: str) -> PreviousInfo:
    if (
        not isinstance(head, dict)
        or not isinstance(head.get("server"), str)
        or not isinstance(head.get("date"), str)
        or head.get("format_version") not in (1, 2)
    ):
        raise UsageError(f"--since: {file} is not a pisync review (review --format json)")
    finished = _dict(head.get("manifest")).get("read_finished")
    return PreviousInfo(
        file=file,
        server=head["server"],
        date=head["date"],
        read_finished=finished if isinstance(finished, str) else None,
        format_version=int(head["format_version"]),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _stream(f: Any, file: str) -> Previous | None:
    """The review read line by line, or None when it is not laid out as pisync writes it."""
    head_lines = []
    for raw in f:
        line = raw.decode("utf-8").rstrip("\n")
        if line == USERS_OPEN:
            break
        head_lines.append(line)
    else:
        return None
    try:
        head = orjson.loads("\n".join(head_lines).rstrip().rstrip(",") + "\n}")
    except orjson.JSONDecodeError:
        return None
    previous = Previous(info=_info(head, file))
    if previous.info.format_version < 2:
        return None  # written before one user per line: read whole
    for raw in f:
        line = raw.strip()
        if line in (b"]", b"]}", b""):
            continue
        if line == b"}":
            break
        try:
            obj = orjson.loads(line.rstrip(b","))
        except orjson.JSONDecodeError:
            return None  # laid out otherwise: read whole
        user = previous_user(obj, previous.info.format_version) if isinstance(obj, dict) else None
        if user is None:
            raise UsageError(f"--since: {file} has a user without its grants")
        previous.add(*user)
    return previous


def _whole(data: Any, file: str) -> Previous:
    previous = Previous(info=_info(data, file))
    previous.no_login = previous.info.format_version < 2
    for obj in data.get("users") or ():
        user = previous_user(obj, previous.info.format_version) if isinstance(obj, dict) else None
        if user is None:
            raise UsageError(f"--since: {file} has a user without its grants")
        previous.add(*user)
    return previous


def read_apply_reports(paths: Iterable[Path], server: str) -> list[tuple[str, dict[str, Any]]]:
    """Apply reports (``apply --report``) for this server, as given."""
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"--apply-report: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError:
            raise UsageError(f"--apply-report: {path} is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("changes"), list):
            raise UsageError(f"--apply-report: {path} is not an apply report (apply --report)")
        if str(data.get("server", "")).rstrip("/") != server:
            raise UsageError(
                f"--apply-report: {path} is a report of {data.get('server')!r}, not of {server}"
            )
        out.append((str(path), data))
    return out
