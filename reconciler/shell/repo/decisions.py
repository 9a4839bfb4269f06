"""Review decisions on disk and in git: reading a reviewer's worksheet, finding the
decisions a revocation committed, and committing a revocation on a new branch.

- :func:`read_worksheet`: a worksheet (CSV, or JSON per ``schemas/decisions.schema.json``)
  as numbered rows of cells (a CSV cell's formula guard taken away), and its SHA-256;
- :func:`enacted_decisions`: every ``Pisync-Decision:`` trailer of ``HEAD``'s history, each
  with the commit of the main line that brought it in (a merge, or the commit itself after a
  squash or rebase), who made that commit and when;
- :func:`commit_on_branch`: a new branch at ``HEAD``, the edited files, one commit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import SourcePos
from reconciler.core.render.markup import csv_value
from reconciler.core.review.decisions import Decision, Enacted, parse_trailers
from reconciler.errors import UsageError
from reconciler.schemas import load_schema
from reconciler.shell.repo.git import git
from reconciler.shell.repo.provenance import pull_request

#: The committer GitHub records for a merge made on its web site (the author then is who
#: merged a merge commit, or who wrote the squashed pull request).
WEB_COMMITTER = "GitHub"
_WORKSHEET_MAX_BYTES = 1_000_000_000


def read_worksheet(
    path: Path, display: str
) -> tuple[list[tuple[int, dict[str, Any]]], str, list[Issue]]:
    """``(rows, sha256, problems)`` of a worksheet; a row is ``(number, cells)``: the CSV
    line its record starts on, or the JSON decision's 1-based index."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read the decisions file {display}: {exc.strerror or exc}"
        ) from None
    if len(data) > _WORKSHEET_MAX_BYTES:
        raise UsageError(f"the decisions file {display} is over {_WORKSHEET_MAX_BYTES:,} bytes")
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], digest, [error(SourcePos(file=display, line=1, col=1), "the file is not UTF-8")]
    if path.suffix.lower() == ".json":
        rows, issues = _json_rows(text, display)
    else:
        rows, issues = _csv_rows(text, display)
    return rows, digest, issues


def _csv_rows(text: str, file: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Issue]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    at = SourcePos(file=file, line=1, col=1)
    if header is None:
        return [], [
            error(at, "the worksheet is empty; write it with pisync review --decisions-template")
        ]
    names = [csv_value(h).strip() for h in header]
    missing = [c for c in ("principal", "resource", "decision") if c not in names]
    if missing:
        return [], [
            error(
                at,
                f"the worksheet has no column {', '.join(missing)}; its first line names the"
                " columns (pisync review --decisions-template writes them)",
            )
        ]
    rows = []
    line = reader.line_num + 1
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append((line, {n: csv_value(c) for n, c in zip(names, cells, strict=False)}))
        line = reader.line_num + 1
    return rows, []


def _json_rows(text: str, file: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Issue]]:
    at = SourcePos(file=file, line=1, col=1)
    try:
        data = json.loads(text)
    except ValueError as exc:
        return [], [error(at, f"the worksheet is not JSON: {exc}")]
    validator = jsonschema.Draft202012Validator(load_schema("decisions"))
    problems = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    if problems:
        return [], [
            error(at, f"{p.json_path}: {p.message} (schemas/decisions.schema.json)")
            for p in problems[:20]
        ]
    return [(i, dict(d)) for i, d in enumerate(data["decisions"], 1)], []


def enacted_decisions(repo: Path) -> list[tuple[Decision, Enacted]]:
    """Every decision a revocation committed in ``HEAD``'s history, oldest first."""
    try:
        log = git(
            repo,
            "log",
            "--reverse",
            "--format=%H%x00%B%x1e",
            "--grep=^Pisync-Decision: ",
            "HEAD",
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    found = []
    for record in log.split("\x1e"):
        sha, _, message = record.strip("\n").partition("\x00")
        if not sha:
            continue
        decisions = parse_trailers(message)
        if decisions:
            enacted = _enacted(repo, sha.strip())
            if enacted is not None:
                found += [(d, enacted) for d in decisions]
    return found


def _enacted(repo: Path, sha: str) -> Enacted | None:
    """Where the main line took commit ``sha`` in: itself, or the oldest first-parent merge
    that contains it."""
    try:
        mainline = git(repo, "rev-list", "--first-parent", "HEAD").split()
        merged = sha
        if sha not in set(mainline):
            after = set(
                git(repo, "rev-list", "--ancestry-path", "--merges", f"{sha}..HEAD").split()
            )
            merged = next((m for m in reversed(mainline) if m in after), sha)
        fields = git(repo, "log", "-1", "--format=%an%x00%cn%x00%cI%x00%s", merged).rstrip("\n")
        own = git(repo, "log", "-1", "--format=%s", sha).strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    author, committer, date, subject = fields.split("\x00", 3)
    by = author if merged != sha or committer == WEB_COMMITTER else committer
    return Enacted(
        commit=sha,
        merged_commit=merged,
        merged_by=by,
        merged_at=date,
        pull_request=pull_request(subject) or pull_request(own),
    )


def uncommitted(repo: Path, paths: Sequence[Path]) -> list[Path] | None:
    """Which of ``paths`` differ from ``HEAD`` (changed, staged or not tracked); None when
    git cannot say."""
    if not paths:
        return []
    try:
        out = git(
            repo,
            "status",
            "--porcelain=v1",
            "--untracked-files=all",
            "-z",
            "--",
            *(str(p) for p in paths),
        )
        root = Path(git(repo, "rev-parse", "--show-toplevel").strip())
    except (OSError, subprocess.CalledProcessError):
        return None
    changed = []
    for item in out.split("\x00"):
        if len(item) > 3:
            changed.append((root / item[3:]).resolve())
    return changed


def commit_on_branch(repo: Path, branch: str, files: Mapping[Path, str], message: str) -> str:
    """Switch to a new ``branch`` at ``HEAD``, write ``files`` and commit them with
    ``message``; the commit's hash. The caller has checked the files are clean. What git
    would refuse (a name that is not a branch name, or one taken; no committer identity) is
    a usage error before anything changes; a failure after the switch puts everything back
    (the files, the branch checked out) and deletes the new branch."""
    try:
        git(repo, "check-ref-format", "--branch", branch)
    except subprocess.CalledProcessError:
        raise UsageError(
            f"{branch!r} is not a valid branch name: name another with --branch"
        ) from None
    if git(repo, "branch", "--list", branch).strip():
        raise UsageError(f"the branch {branch} already exists: name another with --branch")
    try:
        git(repo, "var", "GIT_COMMITTER_IDENT")
    except subprocess.CalledProcessError:
        raise UsageError(
            "git does not know who is committing: set user.name and user.email (git config),"
            " or GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL"
        ) from None
    back = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    detached = back == "HEAD"  # then come back to the commit itself
    if detached:
        back = git(repo, "rev-parse", "HEAD").strip()
    originals = {path: path.read_bytes() for path in files}
    git(repo, "switch", "-q", "-c", branch)
    try:
        for path, text in files.items():
            path.write_text(text, encoding="utf-8")
        git(repo, "add", "--", *(str(p) for p in files))
        subprocess.run(
            ["git", "commit", "-q", "--file=-"],  # noqa: S607
            cwd=repo,
            input=message,
            text=True,
            capture_output=True,
            check=True,
        )
    except BaseException:
        for path, data in originals.items():
            path.write_bytes(data)
        git(repo, "reset", "-q", "--", *(str(p) for p in files))
        git(repo, "switch", "-q", *(["--detach"] if detached else []), back)
        git(repo, "branch", "-q", "-D", branch)
        raise
    return git(repo, "rev-parse", "HEAD").strip()
