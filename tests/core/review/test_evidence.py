"""The manifest's checks and digests, what changed since a previous review, and who approved
a pull request as GitHub answers."""

from __future__ import annotations

import hashlib
import json

import pytest

from reconciler.core.review.github import (
    approvers,
    pull_request_of,
    repository_of_remote,
    valid_repository,
)
from reconciler.core.review.manifest import (
    Check,
    Counts,
    FileDigest,
    bundle_digest,
    bundle_manifest,
    checks,
)
from reconciler.core.review.model import Approver, PullRequest
from reconciler.core.review.since import Previous, PreviousInfo, SinceTally, previous_user

COUNTS = Counts(
    server_count=10,
    read=10,
    unlisted=1,
    reported=10,
    managed=6,
    ignored=1,
    unmanaged=3,
    declared=8,
    declared_on_server=7,
    declared_missing=1,
    grants=40,
)


def test_counts_that_reconcile_pass_every_check() -> None:
    assert checks(Counts(**_fields(COUNTS, server_count=9))) == (
        Check(name="server count", ok=True, detail="the server counts 9 users; its list gave 9"),
        Check(name="every user read is reported", ok=True, detail="10 read, 10 reported"),
        Check(
            name="rows add up",
            ok=True,
            detail="6 managed + 1 ignored + 3 unmanaged = 10 (reported 10)",
        ),
        Check(
            name="declared users add up",
            ok=True,
            detail="7 on the server + 1 missing = 8 (declared 8)",
        ),
    )


def _fields(counts: Counts, **changes: int | None) -> dict[str, int | None]:
    return {**{k: getattr(counts, k) for k in Counts.__dataclass_fields__}, **changes}


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, ["server count"]),  # 10 counted, 9 listed
        ({"server_count": 9, "reported": 9}, ["every user read is reported", "rows add up"]),
        ({"server_count": 9, "unmanaged": 2}, ["rows add up"]),
        ({"server_count": 9, "declared_missing": 0}, ["declared users add up"]),
    ],
)
def test_counts_that_do_not_reconcile_fail_the_check_that_sees_it(
    changes: dict[str, int], failed: list[str]
) -> None:
    found = checks(Counts(**_fields(COUNTS, **changes)))
    assert [c.name for c in found if c.ok is False] == failed


def test_without_a_server_count_that_check_is_not_made() -> None:
    first = checks(Counts(**_fields(COUNTS, server_count=None)))[0]
    assert first == Check(
        name="server count",
        ok=None,
        detail="not checked: the server's user list gives no total",
    )


def test_a_bundle_manifest_digests_itself() -> None:
    outputs = [FileDigest.of("review.json", b"{}")]
    body = bundle_manifest({"server": "s"}, outputs)
    assert body["outputs"] == [
        {"path": "review.json", "sha256": hashlib.sha256(b"{}").hexdigest(), "bytes": 2}
    ]
    canonical = json.dumps(
        {k: v for k, v in body.items() if k != "sha256"}, sort_keys=True, separators=(",", ":")
    ).encode()
    assert body["sha256"] == hashlib.sha256(canonical).hexdigest() == bundle_digest(body)
    edited = {**body, "manifest": {"server": "t"}}
    assert bundle_digest(edited) != body["sha256"]


def test_since_joined_left_added_removed() -> None:
    prev = Previous(
        info=PreviousInfo(file="p.json", server="s", date="d", read_finished=None, format_version=2)
    )
    prev.add("ANN", ["type:user", "role:A", "role:B"])
    prev.add("GONE", ["type:user"])
    tally = SinceTally(prev)
    tally.add("ANN", ["type:user", "role:B", "role:C"])
    tally.add("NEW", ["type:user"])
    report = tally.report()
    assert (report.joined, report.left, report.added, report.removed) == (
        ("NEW",),
        ("GONE",),
        (("ANN", "role:C"),),
        (("ANN", "role:A"),),
    )


def test_a_previous_review_of_format_1_is_read_from_its_access_fields() -> None:
    user = {
        "usercode": "ANN",
        "type": "designer",
        "enabled": False,
        "roles": ["A"],
        "direct": {"categories": ["Finance"], "privileges": ["pdf"]},
    }
    assert previous_user(user, 1) == (
        "ANN",
        ["type:designer", "enabled:false", "role:A", "privilege:pdf", "category:Finance"],
    )
    assert previous_user({"usercode": "ANN", "grants": [{"resource": "role:A"}]}, 2) == (
        "ANN",
        ["role:A"],
    )
    assert previous_user({"usercode": "ANN"}, 2) is None
    prev = Previous(
        info=PreviousInfo(file="p", server="s", date="d", read_finished=None, format_version=1),
        no_login=True,
    )
    prev.add("ANN", ["type:designer"])
    tally = SinceTally(prev)
    tally.add("ANN", ["type:designer", "login:password"])
    report = tally.report()
    assert (report.added, report.note) == (
        (),
        "the previous review predates login methods as grants: they are not compared",
    )


def test_approvers_are_those_whose_last_verdict_approves() -> None:
    reviews = [
        {"user": {"login": "carol"}, "state": "APPROVED", "submitted_at": "2026-01-02T00:00:00Z"},
        {"user": {"login": "dave"}, "state": "APPROVED", "submitted_at": "2026-01-01T00:00:00Z"},
        {"user": {"login": "dave"}, "state": "COMMENTED", "submitted_at": "2026-01-03T00:00:00Z"},
        {"user": {"login": "erin"}, "state": "APPROVED", "submitted_at": "2026-01-01T00:00:00Z"},
        {"user": {"login": "erin"}, "state": "DISMISSED", "submitted_at": "2026-01-04T00:00:00Z"},
        {"user": {"login": "fay"}, "state": "CHANGES_REQUESTED", "submitted_at": "2026-01-05"},
        {"user": None, "state": "APPROVED"},
        "junk",
    ]
    assert approvers(reviews) == (
        Approver(login="carol", at="2026-01-02T00:00:00Z"),
        Approver(login="dave", at="2026-01-01T00:00:00Z"),
    )
    pull = {"user": {"login": "bob"}, "merged_by": {"login": "carol"}, "merged_at": "2026-01-06"}
    assert pull_request_of(7, pull, reviews[:1]) == PullRequest(
        number=7,
        approvers=(Approver(login="carol", at="2026-01-02T00:00:00Z"),),
        author="bob",
        merged_by="carol",
        merged_at="2026-01-06",
    )
    assert pull_request_of(7, None, []).note == "GitHub sent no pull request object"


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/pi-users.git", "acme/pi-users"),
        ("https://x-access-token:abc@github.com/acme/pi-users", "acme/pi-users"),
        ("git@github.com:acme/pi.users.git", "acme/pi.users"),
        ("ssh://git@github.com/acme/pi-users/", "acme/pi-users"),
        ("https://gitlab.com/acme/pi-users.git", None),
        ("https://github.com/acme/pi-users/extra", None),
    ],
)
def test_the_repository_of_a_remote(url: str, repo: str | None) -> None:
    assert repository_of_remote(url) == repo


def test_a_repository_name_is_owner_slash_name() -> None:
    assert valid_repository("acme/pi-users")
    assert not any(valid_repository(n) for n in ("acme", "acme/x/y", "../x", "a/..", "a b/c"))
