"""Finding desired-state files without ever leaving the repository.

A pull request's files are untrusted: a link (``users/x.yaml -> ~/.ssh/id_rsa``, a folder
``users/etc -> /etc``) or a glob (``../../*``) could make pisync read, and quote in an error,
a file it was never meant to see, or walk a whole file system. So the sources are found by
one walk that never follows a link to a folder, never leaves the folder it searches, and
stops after :data:`MAX_FILES` matches:

- a source glob that is absolute or climbs out (``..``) is an error at pisync.yaml (checked
  where the config is read);
- a link found by the search (a file that matches, or a folder the search enters) whose
  target is outside the repository root is an error at its own path; it is neither followed
  nor read, and its target is not named (it may itself say something it should not). A link
  whose target stays inside the root is followed like the file it names;
- hidden files and folders (a name starting with ``.``) are skipped, as before.

The root is the folder of ``pisync.yaml`` (the current folder without one); a folder named on
the command line is searched the same way, bounded by itself when it lies outside the root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import SourcePos

#: The most desired-state files one command reads (100,000 users one file each fit well).
MAX_FILES = 250_000


@dataclass(slots=True)
class Found:
    """The files a search found (sorted later by their display path), and its problems."""

    files: list[Path] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: the search stopped at :data:`MAX_FILES`
    full: bool = False


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved: every link followed) lies in ``root`` (resolved)."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # elsewhere, unreadable, a link loop
        return False
    return True


def leaving_link(path: Path, root: Path, display: str) -> Issue | None:
    """The error for ``path`` when it is a link whose target is outside ``root`` (None when it
    is not a link, or its target stays inside)."""
    if not path.is_symlink() or inside(path, root):
        return None
    return link_issue(display)


def link_issue(display: str) -> Issue:
    """A link that leaves the repository, at its own path (its target is not named)."""
    return error(
        SourcePos(file=display, line=1, col=1),
        "this is a symbolic link to something outside the repository (the folder of"
        " pisync.yaml); pisync reads nothing outside it and does not follow the link: put the"
        " file itself in the repository",
    )


def search(
    base: Path,
    patterns: Sequence[str],
    *,
    root: Path,
    display: Callable[[Path], str],
    limit: int = MAX_FILES,
) -> Found:
    """The files below ``base`` whose path relative to ``base`` matches one of ``patterns``
    (globs: ``*``, ``?``, ``[...]`` within a name, ``**`` across folders), links checked
    against ``root`` (see the module docstring)."""
    found = Found()
    matchers = [glob_regex(p) for p in patterns]
    for start in _starts(base, patterns):
        for path, rel in _walk(start, base, root, display, found):
            if any(m.fullmatch(rel) for m in matchers):
                issue = leaving_link(path, root, display(path))
                if issue is not None:
                    found.issues.append(issue)
                    continue
                if not path.is_file():
                    continue
                found.files.append(path)
                if len(found.files) > limit:
                    found.full = True
                    return found
    return found


def _starts(base: Path, patterns: Sequence[str]) -> list[Path]:
    """The folders to walk: each pattern's leading literal folders (``users`` for
    ``users/**/*.yaml``), none inside another."""
    starts: list[tuple[str, ...]] = []
    for pattern in patterns:
        parts = tuple(pattern.replace("\\", "/").split("/"))
        literal = []
        for part in parts[:-1]:
            if _MAGIC.search(part) or part in ("", "."):
                break
            literal.append(part)
        starts.append(tuple(literal))
    kept = [s for s in set(starts) if not any(s[: len(o)] == o and s != o for o in starts)]
    return [base.joinpath(*s) for s in sorted(kept)]


_MAGIC = re.compile(r"[*?\[]")


def _walk(
    start: Path, base: Path, root: Path, display: Callable[[Path], str], found: Found
) -> Iterator[tuple[Path, str]]:
    """Every file and folder link below ``start`` as (path, its posix path relative to
    ``base``), hidden ones skipped; a linked folder is reported when it leaves ``root`` and
    is never entered."""
    if start.is_symlink() and not inside(start, root):
        found.issues.append(link_issue(display(start)))
        return
    if not start.is_dir():
        return
    for folder, dirs, files in os.walk(start, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in list(dirs):
            sub = here / name
            if sub.is_symlink():
                dirs.remove(name)  # never entered: a link to a folder is not followed
                if not inside(sub, root):
                    found.issues.append(link_issue(display(sub)))
        for name in sorted(files):
            if not name.startswith("."):
                path = here / name
                yield path, path.relative_to(base).as_posix()


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A source glob as a regex over posix paths: ``**/`` any folders (none included), ``**``
    anything, ``*`` and ``?`` within one name, ``[...]`` a character class."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out += "[" + ("^" if negate else "") + body + "]"
            i = end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def leaves(pattern: str) -> bool:
    """Whether a source glob is absolute or climbs out of its folder (``..``)."""
    posix = pattern.replace("\\", "/")
    absolute = posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) is not None
    return absolute or ".." in posix.split("/")
