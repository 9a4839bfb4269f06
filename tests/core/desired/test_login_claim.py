"""``users.login_claim: email``: a plan that changes an existing user's email is an error at
the entry's ``email`` key."""

from __future__ import annotations

from reconciler.core.desired.login_claim import login_claim_issues
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import LiveState, LiveUser, SourcePos, UserSpec
from tests.core.builders import rec

AT = SourcePos(file="users/a.yaml", line=3, col=5)


def spec(code: str, **fields: object) -> UserSpec:
    return UserSpec(
        usercode=code,
        fields=dict(fields),
        source=SourcePos(file="users/a.yaml", line=1, col=5),
        key_pos={"email": AT},
    )


LIVE = LiveState(
    users={
        "A": LiveUser(usercode="A", id="1", record=rec(email="a@example.com")),
        "NONE": LiveUser(usercode="NONE", id="2", record=rec(email=None)),
    },
    roles={},
    categories={},
)


def test_an_email_change_is_an_error_at_its_key() -> None:
    users = [spec("A", email="a@example.org")]
    assert login_claim_issues(users, LIVE, "email") == [
        Issue(
            severity="error",
            pos=AT,
            message=(
                'user A: the email would change from "a@example.com" to "a@example.org", but'
                " the identity provider signs users in by email (users.login_claim: email), so"
                " the user's next sign-in would not find them; change the email in the identity"
                ' provider and in Panintelligence first, or keep "a@example.com" here'
            ),
            key_path="A.email",
        )
    ]


def test_what_is_not_a_change_of_the_sign_in_email_passes() -> None:
    users = [
        spec("A", email="a@example.com"),  # unchanged
        spec("NONE", email="first@example.com"),  # a first email: nobody signed in by it
        spec("NEW", email="new@example.com"),  # a new user
        spec("A", surname="x"),  # email not managed
    ]
    assert login_claim_issues(users, LIVE, "email") == []
    assert login_claim_issues([spec("A", email="other@x")], LIVE, "usercode") == []
    assert login_claim_issues([spec("A", email="other@x")], LIVE, None) == []


def test_clearing_the_email_is_a_change() -> None:
    (issue,) = login_claim_issues([spec("A", email=None)], LIVE, "email")
    assert "to nothing, but" in issue.message
