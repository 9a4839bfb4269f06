"""``--changed-since REF``: which desired-state files changed since a git ref, and which users
were removed since then — known exactly from the two trees, not guessed.

- *changed*: source files added, modified or renamed since REF (untracked new files too);
- *deleted*: source files deleted since REF (or renamed out of the sources), and of the
  removed users those that only they declared;
- *removed*: usercodes declared at REF in a file that changed or was deleted since, and
  declared in none of the changed files now. A user in a file that did not change is in both
  trees, so no other file needs to be read;
- *unchanged*: users and roles of the changed files whose entries are exactly as they were at
  REF (the rest of the file changed, or they only moved to another file): a pull request's
  plan leaves them out, so a change to 10 users of a 500-user file reads 10 users;
- a changed ``pisync.yaml`` changes how everything is planned: the caller plans everything.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reconciler.core.yamlfile.read import parse_yaml
from reconciler.errors import UsageError
from reconciler.shell.repo.git import git, git_bytes

CONFIG_NAME = "pisync.yaml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    ref: str
    changed: tuple[Path, ...]  # current source files that changed (absolute)
    removed: frozenset[str]  # upper-case usercodes removed since ref
    config_changed: bool
    #: source files deleted since ref, relative to ``base`` (the folder of ``pisync.yaml``)
    deleted: tuple[str, ...] = ()
    deleted_users: frozenset[str] = frozenset()  # the removed users the deleted files declared
    unchanged_users: frozenset[str] = frozenset()  # upper case, entries as they were at ref
    unchanged_roles: frozenset[str] = frozenset()  # casefolded names, likewise


def changes_since(
    ref: str, *, base: Path, sources: Sequence[str], config_path: Path | None
) -> Changes:
    """What changed in the desired state below ``base`` since ``ref`` (see module docstring)."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"--changed-since {ref!r}: not a git ref")
    root = Path(_git(base, "rev-parse", "--show-toplevel", what=ref).strip())
    _verify(root, ref)
    prefix = base.resolve().relative_to(root.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    patterns = [_glob_regex(prefix + s.lstrip("./")) for s in sources]

    def is_source(path: str) -> bool:
        return Path(path).name != CONFIG_NAME and any(p.fullmatch(path) for p in patterns)

    entries = _git(root, "diff", "--name-status", "-z", "-M", ref, "--", what=ref).split("\0")
    old: list[str] = []  # paths at REF whose content is gone or changed
    new: list[str] = []  # current paths with new content
    config = (
        config_path.resolve().relative_to(root.resolve()).as_posix()
        if config_path is not None
        else None
    )
    touched: set[str] = set()
    gone: list[str] = []  # deleted, or renamed out of the sources
    i = 0
    while i < len(entries) - 1:
        status = entries[i]
        if status.startswith(("R", "C")):
            before, after = entries[i + 1], entries[i + 2]
            i += 3
            old.append(before)
            new.append(after)
            touched |= {before, after}
            if status.startswith("R") and not is_source(after):
                gone.append(before)
            continue
        path = entries[i + 1]
        i += 2
        touched.add(path)
        if status.startswith("A"):
            new.append(path)
        elif status.startswith("D"):
            old.append(path)
            gone.append(path)
        else:  # modified, type changed
            old.append(path)
            new.append(path)
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", what=ref)
    new += [p for p in untracked.split("\0") if p]
    changed = sorted({root / p for p in new if is_source(p) and (root / p).is_file()})
    at_ref = list(_at_ref(root, ref, [p for p in old if is_source(p)]))
    then = _entries(at_ref)
    now = _entries((p.as_posix(), p.read_bytes()) for p in changed)
    removed = frozenset(then.users.keys() - now.users.keys())
    deleted = sorted({p for p in gone if is_source(p)})
    declared_there = _entries((p, data) for p, data in at_ref if p in deleted).users
    return Changes(
        ref=ref,
        changed=tuple(changed),
        removed=removed,
        config_changed=config is not None and config in touched,
        deleted=tuple(p.removeprefix(prefix) for p in deleted),
        deleted_users=removed & declared_there.keys(),
        unchanged_users=frozenset(k for k, v in now.users.items() if then.users.get(k) == v),
        unchanged_roles=frozenset(k for k, v in now.roles.items() if then.roles.get(k) == v),
    )


def _verify(root: Path, ref: str) -> None:
    try:
        git_bytes(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise UsageError(
            f"--changed-since {ref}: no such git commit or branch here (fetch it first, e.g."
            " git fetch origin main, and check out with enough history: fetch-depth: 0)"
        ) from None


def _git(cwd: Path, *args: str, what: str) -> str:
    try:
        return git(cwd, *args)
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed here") from None
    except subprocess.CalledProcessError as exc:
        reason = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else "git failed"
        raise UsageError(f"--changed-since {what}: {reason}") from None


def _at_ref(root: Path, ref: str, paths: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        try:
            data = git_bytes(root, "show", f"{ref}:{path}")
        except subprocess.CalledProcessError:
            continue  # not a file at REF (it was added since)
        yield path, data


@dataclass(slots=True)
class _Entries:
    users: dict[str, Any]  # upper-case usercode -> the entry as written
    roles: dict[str, Any]  # casefolded name -> the entry as written


def _entries(files: Iterable[tuple[str, bytes]]) -> _Entries:
    """The user and role entries of files (leniently: a file that does not parse has none)."""
    found = _Entries(users={}, roles={})
    for name, data in files:
        parsed = parse_yaml(data, name)
        doc = parsed.data if parsed.data is not None else {}
        for key, index, fold in (
            ("users", found.users, str.upper),
            ("roles", found.roles, str.casefold),
        ):
            seq = doc.get(key)
            for entry in seq if isinstance(seq, list) else ():
                ident = entry.get("usercode" if key == "users" else "name")
                if isinstance(entry, dict) and isinstance(ident, str):
                    index[fold(ident)] = entry
    return found


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A source glob (``users/**/*.y*ml``) as a regex over repository-relative paths."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)
