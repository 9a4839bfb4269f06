"""Asking GitHub who approved: only with a token and a repository, the token sent and never
shown, pages of reviews read, a missing pull request noted, a refused token or an unreachable
forge the note of every approval (never a guess)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.core.review.model import Approvals, Approver, PullRequest
from reconciler.pi.messages import Reply
from reconciler.shell.loop import run
from reconciler.shell.server.forge import Forge, approvals, forge_of
from reconciler.shell.server.http import FunctionBackend, SendFailed

TOKEN = "ghp_test_token_never_shown"
API = "https://ghe.example.com/api/v3"
FORGE = Forge(api=API, repository="acme/pi-users", token=TOKEN)


def review(login: str, state: str, at: str) -> dict[str, Any]:
    return {"user": {"login": login}, "state": state, "submitted_at": at}


class GitHub:
    def __init__(self, answers: Mapping[str, tuple[int, Any]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        self.seen.append((method, url.removeprefix(API)))
        assert headers["Authorization"] == f"token {TOKEN}"
        status, data = self.answers.get(url.removeprefix(API), (404, {"message": "Not Found"}))
        return Reply(status=status, body=json.dumps(data).encode(), headers={})


def test_the_forge_comes_from_the_environment_and_hides_its_token() -> None:
    forge = forge_of({"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": API + "/"}, "acme/pi-users")
    assert forge == FORGE
    assert TOKEN not in repr(forge)
    assert forge_of({"GH_TOKEN": "x", "GITHUB_REPOSITORY": "o/r"}, None).repository == "o/r"
    assert forge_of({}, None) == Forge(api="https://api.github.com", repository=None, token=None)


def test_approvers_of_each_pull_request_across_pages() -> None:
    page1 = [review(f"u{i:03d}", "COMMENTED", "2026-01-01T00:00:00Z") for i in range(99)]
    page1.append(review("carol", "APPROVED", "2026-01-02T00:00:00Z"))
    github = GitHub(
        {
            "/repos/acme/pi-users/pulls/12": (
                200,
                {"user": {"login": "bob"}, "merged_by": {"login": "carol"}, "merged_at": "m"},
            ),
            "/repos/acme/pi-users/pulls/12/reviews?per_page=100&page=1": (200, page1),
            "/repos/acme/pi-users/pulls/12/reviews?per_page=100&page=2": (
                200,
                [review("dave", "APPROVED", "2026-01-03T00:00:00Z")],
            ),
        }
    )
    found = run(approvals(FORGE, [12, 13], backend=FunctionBackend(github)))
    assert found == Approvals(
        asked=True,
        forge="ghe.example.com/acme/pi-users",
        pulls={
            12: PullRequest(
                number=12,
                approvers=(
                    Approver(login="carol", at="2026-01-02T00:00:00Z"),
                    Approver(login="dave", at="2026-01-03T00:00:00Z"),
                ),
                author="bob",
                merged_by="carol",
                merged_at="m",
            ),
            13: PullRequest(number=13, note="GitHub has no pull request #13 here"),
        },
    )
    assert found.words(12) == "approved by carol, dave"
    assert found.words(13) == "GitHub has no pull request #13 here"
    assert sorted(github.seen) == [
        ("GET", "/repos/acme/pi-users/pulls/12"),
        ("GET", "/repos/acme/pi-users/pulls/12/reviews?per_page=100&page=1"),
        ("GET", "/repos/acme/pi-users/pulls/12/reviews?per_page=100&page=2"),
        ("GET", "/repos/acme/pi-users/pulls/13"),
    ]


def test_without_a_token_nothing_is_asked_and_the_note_says_what_to_set() -> None:
    def never(*args: object) -> Reply:
        raise AssertionError("asked without a token")

    found = run(approvals(Forge(api=API, repository=None, token=None), [1], FunctionBackend(never)))
    assert found == Approvals(
        asked=False,
        note="the approvers of pull requests were not asked for: set GITHUB_TOKEN and"
        " GITHUB_REPOSITORY (or an origin remote on github.com) to read each pull request's"
        " approvals from GitHub",
    )
    assert found.words(1) == "approvals not asked"


def test_a_refused_token_or_no_answer_is_the_note_of_every_approval() -> None:
    refused = FunctionBackend(lambda *a: Reply(status=401, body=b"{}", headers={}))
    found = run(approvals(FORGE, [1, 2], backend=refused))
    assert (found.asked, found.note) == (
        False,
        "GitHub refused the token (401) for acme/pi-users at ghe.example.com:443: give it read"
        " access to pull requests; approvals are not known",
    )

    def down(*args: object) -> Reply:
        raise SendFailed(
            "cannot connect to ghe.example.com:443 (connection refused)", reached=False
        )

    found = run(approvals(FORGE, [1], backend=FunctionBackend(down)))
    assert found.note == (
        "GitHub could not be asked (cannot connect to ghe.example.com:443 (connection refused));"
        " approvals are not known"
    )
    assert TOKEN not in repr(found)


def test_a_repository_that_is_not_owner_slash_name_is_not_asked() -> None:
    forge = Forge(api=API, repository="../../admin", token=TOKEN)
    found = run(approvals(forge, [1], FunctionBackend(lambda *a: Reply(200, b"{}", {}))))
    assert found.note == "'../../admin' is not an owner/name repository"
