"""Provenance: the commit that last changed each declared user's entry, from ``git blame``.

One ``git blame --incremental`` per desired-state file (never one per user), from the first
entry's line to the end of the file, run a few files at a time. A user's entry spans from its
first line (``UserSpec.source``) to the line before the next entry of the file (user or
role) or the next top-level key, less trailing blank and comment lines. Of the entry's lines,
the one whose commit was committed last names the *last change*: its commit, author, author
date and subject, and the pull request when the subject names one (GitHub's squash ``Title
(#123)`` or merge ``Merge pull request #123 from …``). Blame names the commit that wrote the
lines, never the merge that brought it in; so for a commit that is not on the first-parent line
of ``HEAD`` (it came in through a merge) and whose own subject names no pull request, the pull
request is the one the subject of that merge names (the oldest first-parent merge that
contains it): two more git calls in all, plus one per such commit.

Nothing here guesses: a user gets no last change, with the reason, when its file is not
committed, when its entry has changes not committed yet, or when git cannot say; outside a git
repository (or without git) there is no provenance at all and the note says why. In a shallow
clone, history before the clone's boundary is cut off: the note says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.model.values import DesiredState
from reconciler.core.review.model import History, Provenance
from reconciler.shell.repo.git import git, git_bytes

#: git processes at once (each is mostly I/O and its own CPU)
BLAME_WORKERS = 4
UNCOMMITTED = "0" * 40
_PULL_REQUEST = (
    re.compile(r"\(#(\d+)\)\s*$"),  # GitHub squash merge: "Subject (#123)"
    re.compile(r"^Merge pull request #(\d+)\b"),  # GitHub merge commit
)


@dataclass(frozen=True, slots=True)
class Commit:
    """What ``git blame`` says about one commit."""

    commit: str
    author: str
    email: str
    author_time: int
    author_tz: str
    committer_time: int
    subject: str


@dataclass(frozen=True, slots=True)
class Blame:
    """A blamed file: the commit of each line (from the first blamed line on), and the
    commits; ``text`` holds every line of the file (1-based: ``text[0]`` is line 1)."""

    lines: dict[int, str]
    commits: dict[str, Commit]
    text: list[str]


def history_of(
    desired: DesiredState, *, cwd: Path | None = None, repo: Path | None = None
) -> History:
    """The last change of every declared user's entry (see the module docstring).

    The entries' file names are relative to ``cwd`` (default: the current folder) unless
    absolute; git runs in ``repo`` (default ``cwd``): the folder of ``pisync.yaml``, so that
    ``--config`` naming a repository from outside it still finds its history.
    """
    base = cwd or Path.cwd()
    where = repo or base
    try:
        git(where, "rev-parse", "--show-toplevel")
    except FileNotFoundError:
        return History(available=False, note="git is not installed here, so there is no provenance")
    except subprocess.CalledProcessError:
        return History(
            available=False,
            note=f"{where.resolve().as_posix()} is not inside a git repository, so there is no"
            " provenance (last_change is null for every user)",
        )
    note = None
    if git(where, "rev-parse", "--is-shallow-repository").strip() == "true":
        note = (
            "this is a shallow clone: a change older than its oldest commit shows as that commit"
            " (fetch the whole history for exact provenance: fetch-depth: 0)"
        )
    starts: dict[str, dict[int, list[str]]] = {}  # file -> first line -> usercodes there
    bounds: dict[str, set[int]] = {}  # file -> every entry's first line (users and roles)
    for user in desired.users:
        if user.source is not None:
            starts.setdefault(user.source.file, {}).setdefault(user.source.line, []).append(
                user.usercode
            )
            bounds.setdefault(user.source.file, set()).add(user.source.line)
    for role in desired.roles:
        if role.source is not None:
            bounds.setdefault(role.source.file, set()).add(role.source.line)
    changes: dict[str, Provenance] = {}
    missing: dict[str, str] = {}
    jobs = sorted(starts)
    with ThreadPoolExecutor(max_workers=BLAME_WORKERS) as pool:
        blamed = pool.map(lambda f: _blame(where, base / f, min(starts[f])), jobs)
        for file, result in zip(jobs, blamed, strict=True):
            codes = [c for line in starts[file].values() for c in line]
            if isinstance(result, str):
                missing.update(dict.fromkeys(codes, result))
                continue
            for first, last in entry_ranges(starts[file], bounds[file], result.text).items():
                verdict = last_change(result, first, last)
                for code in starts[file][first]:
                    if isinstance(verdict, str):
                        missing[code] = verdict
                    else:
                        changes[code] = verdict
    unnamed = {p.commit for p in changes.values() if p.pull_request is None}
    merged = _merged_pull_requests(where, unnamed)
    if merged:
        changes = {
            code: dataclasses.replace(p, pull_request=merged[p.commit])
            if p.pull_request is None and p.commit in merged
            else p
            for code, p in changes.items()
        }
    return History(changes=changes, missing=missing, note=note)


def _merged_pull_requests(cwd: Path, shas: set[str]) -> dict[str, int]:
    """For each of ``shas`` that came into ``HEAD`` through a merge: the pull request that
    merge's subject names (commits on the first-parent line, and merges that name none, are
    left out). Empty when git cannot say."""
    if not shas:
        return {}
    try:
        mainline = set(git(cwd, "rev-list", "--first-parent", "HEAD").split())
        todo = sorted(shas - mainline)
        if not todo:
            return {}
        merges: list[tuple[str, int | None]] = []  # mainline merges, oldest first
        for line in git(
            cwd, "log", "--first-parent", "--merges", "--reverse", "--format=%H %s", "HEAD"
        ).splitlines():
            sha, _, subject = line.partition(" ")
            merges.append((sha, pull_request(subject)))
        out: dict[str, int] = {}
        for sha in todo:
            after = set(git(cwd, "rev-list", "--ancestry-path", "--merges", f"{sha}..HEAD").split())
            number = next((n for m, n in merges if m in after), None)
            if number is not None:
                out[sha] = number
        return out
    except (OSError, subprocess.CalledProcessError):
        return {}


def _blame(cwd: Path, file: Path, first: int) -> Blame | str:
    """The file's lines from ``first`` on, blamed; or why git could not.

    ``--incremental`` gives each run of lines from one commit once, with that commit's
    details the first time it appears: a tenth of the time and a fraction of the text of
    ``--line-porcelain`` (measured: 0.01 s against 0.3 s for a 500-user file). The lines'
    text is read from the file itself (blame reads the working tree too).
    """
    try:
        out = git_bytes(cwd, "blame", "--incremental", "-L", f"{first},", "--", str(file))
        text = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except subprocess.CalledProcessError as exc:
        reason = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = reason[-1] if reason else "git blame failed"
        if "no such path" in why:
            return "its file is not committed"
        if "outside repository" in why:
            return "its file is outside the git repository"
        return f"git blame could not read its file ({why})"
    except OSError as exc:
        return f"its file cannot be read ({exc.strerror or exc})"
    lines, commits = parse_blame(out.decode("utf-8", "replace"))
    return Blame(lines=lines, commits=commits, text=text)


def parse_blame(text: str) -> tuple[dict[int, str], dict[str, Commit]]:
    """``git blame --incremental`` output: the commit of each line, and each commit."""
    lines: dict[int, str] = {}
    commits: dict[str, Commit] = {}
    head: dict[str, str] = {}
    sha = ""
    for raw in text.split("\n"):
        name, _, value = raw.partition(" ")
        if len(name) == 40 and all(c in "0123456789abcdef" for c in name):
            sha, head = name, {}
            _, final, count = value.split(" ")
            for line in range(int(final), int(final) + int(count)):
                lines[line] = sha
        elif name == "filename":  # the last line of a group: the commit is complete
            if sha not in commits:
                commits[sha] = Commit(
                    commit=sha,
                    author=head.get("author", ""),
                    email=head.get("author-mail", "").strip("<>"),
                    author_time=int(head.get("author-time", "0")),
                    author_tz=head.get("author-tz", "+0000"),
                    committer_time=int(head.get("committer-time", "0")),
                    subject=head.get("summary", ""),
                )
        elif name:
            head[name] = value
    return lines, commits


def entry_ranges(
    starts: Iterable[int], bounds: Iterable[int], text: Sequence[str]
) -> dict[int, int]:
    """Each entry's first line -> its last line (see the module docstring); ``text`` is the
    file's lines (``text[0]`` is line 1)."""
    edges = sorted({*bounds, *(n for n, line in enumerate(text, 1) if _top_level(line))})
    out: dict[int, int] = {}
    for first in sorted(set(starts)):
        after = next((b for b in edges if b > first), len(text) + 1)
        last = after - 1
        while last > first and _filler(text[last - 1] if last <= len(text) else ""):
            last -= 1
        out[first] = max(first, last)
    return out


def _top_level(text: str) -> bool:
    """A key at the start of a line (``roles:``): no entry continues past it."""
    return bool(text) and not text[0].isspace() and text[0] not in "-#"


def _filler(text: str) -> bool:
    stripped = text.strip()
    return not stripped or stripped.startswith("#")


def last_change(blame: Blame, first: int, last: int) -> Provenance | str:
    """The last commit among lines ``first``..``last``, or why there is none."""
    shas = {blame.lines[n] for n in range(first, last + 1) if n in blame.lines}
    if not shas:
        return "git blame did not reach its entry"
    if UNCOMMITTED in shas:
        return "its entry has changes that are not committed yet"
    span = [blame.commits[sha] for sha in shas]
    latest = max(span, key=lambda b: (b.committer_time, b.author_time, b.commit))
    return Provenance(
        commit=latest.commit,
        author=latest.author,
        email=latest.email,
        date=_iso(latest.author_time, latest.author_tz),
        subject=latest.subject,
        pull_request=pull_request(latest.subject),
    )


def pull_request(subject: str) -> int | None:
    """The pull request a commit subject names, if any."""
    for pattern in _PULL_REQUEST:
        match = pattern.search(subject)
        if match:
            return int(match.group(1))
    return None


def _iso(seconds: int, tz: str) -> str:
    sign = -1 if tz.startswith("-") else 1
    try:
        offset = dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
    except ValueError:
        offset = dt.timedelta(0)
    return dt.datetime.fromtimestamp(seconds, dt.timezone(offset)).isoformat()
