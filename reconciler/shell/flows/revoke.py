"""``pisync revoke --decisions FILE``: the Deny decisions of a reviewer's worksheet as edits
of the YAML, committed on a new git branch, ready for a pull request
(:mod:`reconciler.core.review.revocation`, :mod:`reconciler.shell.repo.decisions`).

Every problem is found before anything is written: the worksheet's rows (an unknown
decision, a Deny without who or when), what the repository cannot carry (a user no file
declares, an item its entry does not list), files with changes not committed (their edits
would mix with the revocation), an edit the text does not allow safely, and an edited file
the schema would refuse. Then a new branch (``--branch``, else
``pisync/revoke-DATE-DIGEST``) at ``HEAD``, the files written, one commit whose message cites
each decision. Never talks to the server: the revocation takes effect when the pull request
is merged and applied.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from reconciler.core.desired.analysis import analyse
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.model.issues import Issue, error, has_errors
from reconciler.core.model.values import SourcePos
from reconciler.core.render.markup import printable, quote
from reconciler.core.review.decisions import read_rows
from reconciler.core.review.revocation import (
    ALREADY,
    EditError,
    Revocation,
    commit_message,
    edit_text,
    plan_revocations,
)
from reconciler.core.yamlfile.read import parse_yaml
from reconciler.errors import InvalidStateError, PisyncError, UsageError
from reconciler.schemas import load_schema
from reconciler.shell.repo.decisions import commit_on_branch, read_worksheet, uncommitted
from reconciler.shell.repo.desired_files import find_config
from reconciler.shell.repo.desired_state import load_desired
from reconciler.shell.settings import Settings, today


def revoke_command(settings: Settings, *, decisions: str, branch: str | None) -> int:
    """Commit the revocations on a new branch and say what was done; exit 0."""
    worksheet = Path(decisions)
    rows, digest, issues = read_worksheet(worksheet, decisions)
    if issues:
        raise InvalidStateError(f"the decisions file {decisions} is invalid", issues)
    made, problems = read_rows(rows, decisions)
    if problems:
        raise InvalidStateError(f"the decisions file {decisions} is invalid", problems)
    loaded = load_desired((), settings)
    revocations, problems = plan_revocations(made, loaded.desired, loaded.config, decisions)
    if problems:
        raise InvalidStateError("some decisions cannot be made in the repository", problems)
    todo = [r for r in revocations if r.action != ALREADY]
    if not todo:
        denied = len(revocations)
        sys.stdout.write(
            f"Nothing to revoke: {decisions} has no Deny decision"
            if not denied
            else f"Nothing to revoke: the {denied} denied grants are already gone from the"
            " repository"
        )
        sys.stdout.write("; no branch was made.\n")
        return 0
    repo = _repository(settings)
    edited = _edits(todo, decisions)
    dirty = uncommitted(repo, list(edited))
    if dirty is None:
        raise UsageError(f"{repo} is not a git repository: revoke commits on a new branch")
    if dirty:
        shown = ", ".join(str(p) for p in sorted(dirty))
        raise UsageError(
            f"{shown} has changes that are not committed: commit or stash them first, so"
            " that the revocation's commit holds only the revocation"
        )
    name = branch or f"pisync/revoke-{today(settings.env).isoformat()}-{digest[:8]}"
    message = commit_message(
        revocations, worksheet.name, digest, (d.review_id for d in made if d.decision == "Deny")
    )
    try:
        sha = commit_on_branch(repo, name, edited, message)
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or "").strip().splitlines()
        raise PisyncError(
            f"git could not make the branch {name}: {reason[-1] if reason else exc}"
        ) from None
    if not settings.quiet:
        _report(revocations, name, sha)
    return 0


def _edits(revocations: Sequence[Revocation], worksheet: str) -> dict[Path, str]:
    """Each file's edited text, checked by the schema (nothing written yet)."""
    by_file: dict[str, list[Revocation]] = {}
    for r in revocations:
        by_file.setdefault(r.file, []).append(r)
    checker = SchemaChecker(load_schema("pisync-file"))
    out: dict[Path, str] = {}
    problems: list[Issue] = []
    for file, items in sorted(by_file.items()):
        path = Path(file)
        text = path.read_text(encoding="utf-8")
        try:
            new = edit_text(text, file, items)
        except EditError as exc:
            problems += [
                error(SourcePos(file=worksheet, line=r.decision.row, col=1), f"{file}: {exc}")
                for r in items[:1]
            ]
            continue
        result = analyse(parse_yaml(new.encode("utf-8"), file), checker)
        if has_errors(result.issues):
            problems += list(result.issues)
            continue
        out[path] = new
    if problems:
        raise InvalidStateError("the decisions cannot be made in the files safely", problems)
    return out


def _repository(settings: Settings) -> Path:
    config = find_config(settings.config)
    return config.resolve().parent if config is not None else Path.cwd()


def _report(revocations: Sequence[Revocation], branch: str, sha: str) -> None:
    done = [r for r in revocations if r.action != ALREADY]
    lines = [f"Revoked {len(done)} grants on the new branch {branch} (commit {sha[:10]}):"]
    for r in revocations:
        lines.append(
            f"  - {printable(r.decision.principal)}: {r.words(quote)}"
            f" ({printable(r.file)}; row {r.decision.row}, {quote(r.decision.resource)})"
        )
    lines += [
        "Nothing else in the files changed. Push the branch and open a pull request:",
        f"  git push -u origin {branch}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
