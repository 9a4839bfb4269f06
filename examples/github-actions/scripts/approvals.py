"""Who may approve a privilege escalation, and whether they have: the repository variable
``PISYNC_ESCALATION_APPROVERS`` lists GitHub logins and ``ORG/TEAM`` slugs (``@`` optional,
separated by spaces or commas). An escalation is approved when one of them has an approving
review of the pull request's current head commit as their latest review: an approval of an
earlier commit does not count, because the plan may have changed since.

GitHub's ``GITHUB_TOKEN`` cannot read an organization's teams; a team is read with the token in
``PISYNC_TEAMS_TOKEN`` when that is set (a token with the organization permission "Members:
read"), and a team that cannot be read fails the check instead of passing it.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import ghkit

_LOGIN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
_TEAM: Final = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?)/([A-Za-z0-9_.-]+)")
#: Review states that replace a reviewer's earlier verdict (COMMENTED and PENDING do not).
_VERDICTS: Final = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


@dataclass(frozen=True)
class Approvers:
    people: tuple[str, ...]
    teams: tuple[tuple[str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.people or self.teams)

    def names(self) -> list[str]:
        return [f"{org}/{team}" for org, team in self.teams] + list(self.people)

    def text(self) -> str:
        """For a status description or a log line: ``acme/pi-access-owners or alice``."""
        names = self.names()
        return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)

    def markdown(self) -> str:
        """For a comment: each name in a code span, so no team or person is mentioned."""
        names = [ghkit.md_code("@" + n) for n in self.names()]
        return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def parse_approvers(text: str) -> Approvers:
    people: list[str] = []
    teams: list[tuple[str, str]] = []
    for raw in re.split(r"[\s,]+", text.strip()):
        if not raw:
            continue
        item = raw.removeprefix("@")
        team = _TEAM.fullmatch(item)
        if team:
            teams.append((team.group(1), team.group(2)))
        elif _LOGIN.fullmatch(item):
            people.append(item)
        else:
            raise ghkit.UsageError(
                f"PISYNC_ESCALATION_APPROVERS: {raw!r} is neither a GitHub login nor ORG/TEAM"
            )
    return Approvers(tuple(people), tuple(teams))


def team_members(gh: ghkit.GitHub, org: str, team: str) -> set[str]:
    path = "/orgs/{}/teams/{}/members".format(
        *(urllib.parse.quote(p, safe="") for p in (org, team))
    )
    try:
        return {str(m["login"]).casefold() for m in gh.paginate(path) if m.get("login")}
    except ghkit.ApiError as exc:
        if exc.status in (401, 403, 404):
            raise ghkit.Stop(
                f"cannot read the members of the team {org}/{team} (HTTP {exc.status}: "
                f"{exc.message}). GITHUB_TOKEN cannot read an organization's teams: put a token "
                "that can (organization permission Members: read) in the secret "
                "PISYNC_TEAMS_TOKEN of the environment, or list the people in "
                "PISYNC_ESCALATION_APPROVERS instead.",
                code=ghkit.EXIT_API,
            ) from None
        raise


@dataclass(frozen=True)
class Verdict:
    approved: bool
    #: the approvers whose latest review approves the head commit
    by: tuple[str, ...]
    #: approvers whose approval was of an earlier commit
    stale: tuple[str, ...]

    def text(self, approvers: Approvers, head_sha: str) -> str:
        if self.approved:
            return f"Escalation approved by {', '.join(self.by)}"
        text = f"Needs an approving review of {ghkit.short(head_sha)} from {approvers.text()}"
        if self.stale:
            text += f" (the approval of {', '.join(self.stale)} was of an earlier commit)"
        return text


def evaluate(
    gh: ghkit.GitHub,
    pr: int,
    head_sha: str,
    approvers: Approvers,
    teams_gh: ghkit.GitHub | None = None,
) -> Verdict:
    """Whether an approver's latest review approves ``head_sha`` of pull request ``pr``."""
    latest: dict[str, Mapping[str, Any]] = {}
    for review in gh.paginate(gh.repo_path("pulls", pr, "reviews")):
        login = (review.get("user") or {}).get("login")
        if isinstance(login, str) and review.get("state") in _VERDICTS:
            latest[login.casefold()] = review  # the list is oldest first: the last one wins
    allowed = {p.casefold() for p in approvers.people}
    for org, team in approvers.teams:
        allowed |= team_members(teams_gh or gh, org, team)
    by: list[str] = []
    stale: list[str] = []
    for key, review in sorted(latest.items()):
        if key not in allowed or review.get("state") != "APPROVED":
            continue
        login = str(review["user"]["login"])
        (by if review.get("commit_id") == head_sha else stale).append(login)
    return Verdict(bool(by), tuple(by), tuple(stale))
