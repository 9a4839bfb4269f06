"""``users.login_claim``: the key the identity provider signs users in by cannot be changed
through a sync for an existing user (Panintelligence matches each sign-in on it, so the
user's next sign-in would no longer find them). A plan that would change it is an error at
the entry's line (exit 3), so that the pull request shows it, not the user locked out after
the merge.

With ``email``: an existing user whose entry sets an email other than its live one (a user
without a live email may be given one: nobody could sign in by it before). With ``usercode``
there is nothing to check: a usercode is the user's identity in pisync, so a new usercode is
a new user, never a change. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import LiveState, UserSpec


def login_claim_issues(
    users: Iterable[UserSpec], live: LiveState, claim: str | None
) -> list[Issue]:
    """Every declared user whose login claim the plan would change (see the module)."""
    if claim != "email":
        return []
    issues = []
    for user in users:
        current = live.users.get(user.usercode)
        if user.ignore or current is None or "email" not in user.fields:
            continue
        old, new = current.record.get("email"), user.fields["email"] or None
        if old is None or new == old:
            continue
        shown = "nothing" if new is None else f'"{new}"'
        issues.append(
            error(
                user.key_pos.get("email", user.source),
                f'user {user.usercode}: the email would change from "{old}" to {shown}, but'
                " the identity provider signs users in by email (users.login_claim: email), so"
                " the user's next sign-in would not find them; change the email in the identity"
                f' provider and in Panintelligence first, or keep "{old}" here',
                key_path=f"{user.usercode}.email",
            )
        )
    return issues
