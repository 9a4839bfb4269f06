"""A reviewer's worksheet read back (every problem at its row), and what became of each
decision: Entra's apply results from a fresh read and the apply report."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.model.issues import format_issue
from reconciler.core.model.values import LiveUser
from reconciler.core.review.decisions import (
    APPLIED,
    FAILED,
    NEW,
    NOT_FOUND,
    ApplyOutcome,
    Decision,
    Enacted,
    outcomes_of,
    read_rows,
    status_of,
    still_held,
)
from tests.core.builders import rec


def row(**cells: str) -> dict[str, Any]:
    base = {
        "principal": "cjones",
        "resource": "role:Executive",
        "decision": "Deny",
        "reviewedBy": "alice@example.com",
        "reviewedDateTime": "2026-12-01T10:30:00Z",
        "justification": " moved ",
        "reviewId": "r1",
    }
    return {**base, **cells}


def test_rows_become_decisions() -> None:
    decisions, issues = read_rows(
        [
            (2, row()),
            (3, row(resource="Privilege:pdf", decision="approve")),
            (4, row(resource="role:Viewers", decision="")),
        ],
        "q4.csv",
    )
    assert issues == []
    assert decisions == [
        Decision(
            principal="CJONES",
            resource="role:Executive",
            decision="Deny",
            justification="moved",
            reviewed_by="alice@example.com",
            reviewed_at="2026-12-01T10:30:00Z",
            review_id="r1",
            row=2,
        ),
        Decision(
            principal="CJONES",
            resource="privilege:pdf",
            decision="Approve",
            justification="moved",
            reviewed_by="alice@example.com",
            reviewed_at="2026-12-01T10:30:00Z",
            review_id="r1",
            row=3,
        ),
        Decision(
            principal="CJONES",
            resource="role:Viewers",
            decision="NotReviewed",
            justification="moved",
            reviewed_by="alice@example.com",
            reviewed_at="2026-12-01T10:30:00Z",
            review_id="r1",
            row=4,
        ),
    ]


def test_every_problem_is_named_at_its_row() -> None:
    _, issues = read_rows(
        [
            (2, row(decision="Revoke")),
            (3, row(resource="group:x")),
            (4, row(reviewedBy="", reviewedDateTime="")),
            (5, row(reviewedDateTime="01/12/2026")),
            (6, row(principal="")),
            (7, row()),
            (8, row(decision="approve")),
        ],
        "q4.csv",
    )
    assert [format_issue(i) for i in issues] == [
        "q4.csv:2:1: error: decision 'Revoke' is not one of Approve, Deny, DontKnow, NotReviewed",
        "q4.csv:3:1: error: resource 'group:x' names no grant; write kind:name, e.g."
        " role:Finance (kinds: type, enabled, login, role, privilege, category)",
        "q4.csv:4:1: error: a Deny needs reviewedBy: who decided",
        "q4.csv:4:1: error: a Deny needs reviewedDateTime: when it was decided",
        "q4.csv:5:1: error: reviewedDateTime '01/12/2026' is not an ISO 8601 date or time, e.g."
        " 2026-12-01 or 2026-12-01T10:30:00Z",
        "q4.csv:6:1: error: principal is empty; it names the user (a usercode)",
        "q4.csv:8:1: error: CJONES role:Executive is decided twice: Deny at row 7, Approve"
        " here; keep one",
    ]


LIVE = LiveUser(
    usercode="CJONES",
    id="1",
    record=rec(roles=("Executive",), privileges=("pdf",), categories=("Finance",)),
)
OFF = LiveUser(usercode="CJONES", id="1", record=rec(enabled=False))
ENACTED = Enacted(
    commit="e" * 40,
    merged_commit="f" * 40,
    merged_by="Carl Merger",
    merged_at="2026-12-02T09:00:00+00:00",
    pull_request=20,
)


@pytest.mark.parametrize(
    ("resource", "user", "held"),
    [
        ("role:executive", LIVE, True),
        ("role:Viewers", LIVE, False),
        ("privilege:pdf", LIVE, True),
        ("category:FINANCE", LIVE, True),
        ("type:designer", LIVE, True),  # revoked by disabling: held while enabled
        ("login:password", OFF, False),
    ],
)
def test_whether_the_server_still_holds_a_grant(resource: str, user: LiveUser, held: bool) -> None:
    assert still_held(user, resource) is held


def decided(resource: str = "role:Executive") -> Decision:
    return Decision(
        principal="CJONES",
        resource=resource,
        decision="Deny",
        reviewed_by="alice",
        reviewed_at="2026-12-01",
    )


@pytest.mark.parametrize(
    ("user", "outcome", "result", "by", "detail"),
    [
        (
            LiveUser(usercode="CJONES", id="1", record=rec()),
            ApplyOutcome(outcome="applied", message="", report="a.json"),
            APPLIED,
            "carol",
            "a fresh read shows it gone; a.json says applied",
        ),
        (
            LiveUser(usercode="CJONES", id="1", record=rec()),
            None,
            APPLIED,
            "carol",
            "a fresh read shows it gone; not in the apply reports given",
        ),
        (
            None,
            None,
            NOT_FOUND,
            "carol",
            "the server no longer has CJONES; not in the apply reports given",
        ),
        (
            LIVE,
            None,
            NEW,
            None,
            "not applied yet: the server still holds it; not in the apply reports given",
        ),
        (
            LIVE,
            ApplyOutcome(outcome="not_attempted", message="not attempted", report="a.json"),
            NEW,
            None,
            "not applied yet: the server still holds it; a.json says not_attempted (not attempted)",
        ),
        (
            LIVE,
            ApplyOutcome(outcome="failed", message="400: unknown role", report="a.json"),
            FAILED,
            None,
            "the server still holds it; a.json says failed (400: unknown role)",
        ),
        (
            LIVE,
            ApplyOutcome(outcome="applied", message="", report="a.json"),
            FAILED,
            None,
            "the server still holds it; a.json says applied",
        ),
    ],
)
def test_the_apply_result_of_a_decision(
    user: LiveUser | None, outcome: ApplyOutcome | None, result: str, by: str | None, detail: str
) -> None:
    status = status_of(decided(), ENACTED, user, outcome, merged_by="carol")
    assert (status.apply_result, status.applied_by, status.detail) == (result, by, detail)
    assert status.applied_at == (ENACTED.merged_at if by else None)


def test_without_the_forge_the_merger_is_gits() -> None:
    gone = LiveUser(usercode="CJONES", id="1", record=rec())
    assert status_of(decided(), ENACTED, gone, None).applied_by == "Carl Merger"


def test_outcomes_of_reports_later_reports_win() -> None:
    first = {"changes": [{"kind": "user", "key": "cjones", "outcome": "failed", "message": "x"}]}
    second = {
        "changes": [
            {"kind": "user", "key": "CJONES", "outcome": "applied", "message": ""},
            {"kind": "role", "key": "Viewers", "outcome": "applied"},
            "junk",
        ]
    }
    assert outcomes_of([("1.json", first), ("2.json", second)]) == {
        "CJONES": ApplyOutcome(outcome="applied", message="", report="2.json")
    }
