"""What GitHub's REST API says about a pull request, read into the review's values. Pure.

Who approved: a reviewer whose *last* review that counts (``APPROVED``,
``CHANGES_REQUESTED`` or ``DISMISSED``; comments do not change a verdict) is an approval, as
GitHub's own "approved" state works. Who opened and merged it come from the pull request.
Anything of another shape is no approval: nothing is guessed from a body GitHub did not send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from reconciler.core.review.model import Approver, PullRequest

_VERDICTS: Final = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})
#: owner/name of a GitHub repository in a remote's URL (https or ssh)
_REMOTE: Final = re.compile(
    r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)
_REPO: Final = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def repository_of_remote(url: str) -> str | None:
    """``owner/name`` of a remote URL on github.com, or None."""
    match = _REMOTE.match(url.strip())
    return None if match is None else match.group("repo")


def valid_repository(name: str) -> bool:
    """Whether ``name`` reads as ``owner/name`` (it becomes part of a URL path)."""
    return bool(_REPO.match(name)) and ".." not in name


def approvers(reviews: Iterable[Any]) -> tuple[Approver, ...]:
    """The reviewers whose last verdict is an approval, by login, with when they approved."""
    last: dict[str, tuple[str, str | None]] = {}
    for review in sorted(
        (r for r in reviews if isinstance(r, Mapping)), key=lambda r: str(r.get("submitted_at"))
    ):
        state = review.get("state")
        user = review.get("user")
        login = user.get("login") if isinstance(user, Mapping) else None
        if state in _VERDICTS and isinstance(login, str):
            at = review.get("submitted_at")
            last[login] = (str(state), at if isinstance(at, str) else None)
    return tuple(
        Approver(login=login, at=at)
        for login, (state, at) in sorted(last.items())
        if state == "APPROVED"
    )


def pull_request_of(number: int, pull: Any, reviews: Iterable[Any]) -> PullRequest:
    """A pull request's values from its object and its reviews."""
    if not isinstance(pull, Mapping):
        return PullRequest(number=number, note="GitHub sent no pull request object")
    author = _login(pull.get("user"))
    merged_by = _login(pull.get("merged_by"))
    merged_at = pull.get("merged_at")
    return PullRequest(
        number=number,
        approvers=approvers(reviews),
        author=author,
        merged_by=merged_by,
        merged_at=merged_at if isinstance(merged_at, str) else None,
    )


def _login(user: Any) -> str | None:
    login = user.get("login") if isinstance(user, Mapping) else None
    return login if isinstance(login, str) else None
