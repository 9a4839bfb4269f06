"""Problems found in the desired state: an :class:`Issue` is one problem at one place.

Every check in the core returns a list of them instead of raising, so that ``pisync validate``
reports all problems at once; :mod:`reconciler.core.render.issues` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reconciler.core.model.values import SourcePos

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Issue:
    """One problem: how bad, where (``None``: not tied to a file), what, and the key path.

    ``key_path`` is the path inside the file's document, e.g. ``users[3].roles[0]``, or ``""``.
    """

    severity: Severity
    pos: SourcePos | None
    message: str
    key_path: str = ""

    @property
    def file(self) -> str | None:
        return None if self.pos is None else self.pos.file

    def sort_key(self) -> tuple[int, str, int, int, str, str, str]:
        """Issues without a file first, then by file, line, column, message."""
        if self.pos is None:
            return (0, "", 0, 0, self.message, self.severity, self.key_path)
        p = self.pos
        return (1, p.file, p.line, p.col, self.message, self.severity, self.key_path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """What was checked: the number of files, and the users and roles they declare."""

    files: int = 0
    users: int = 0
    roles: int = 0


def error(pos: SourcePos | None, message: str, key_path: str = "") -> Issue:
    return Issue(severity="error", pos=pos, message=message, key_path=key_path)


def warning(pos: SourcePos | None, message: str, key_path: str = "") -> Issue:
    return Issue(severity="warning", pos=pos, message=message, key_path=key_path)


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Sorted by (file, line, col, message); exact duplicates removed."""
    return sorted(set(issues), key=Issue.sort_key)


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(i.severity == "error" for i in issues)


def count(issues: Iterable[Issue]) -> tuple[int, int]:
    """(errors, warnings)."""
    errors = warnings = 0
    for i in issues:
        if i.severity == "error":
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def format_issue(issue: Issue) -> str:
    """``path:line:col: severity: message (at key.path)``; without a file: ``severity: message``."""
    where = "" if issue.pos is None else f"{issue.pos}: "
    at = f" (at {issue.key_path})" if issue.key_path else ""
    return f"{where}{issue.severity}: {issue.message}{at}"
