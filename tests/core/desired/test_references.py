"""Plan-time checks of the merged payload: the super admin keeps password login, whether the
entry turns it off or ``users.login_via_idp`` would."""

from __future__ import annotations

from reconciler.core.desired.build import build_desired, with_idp_login
from reconciler.core.desired.references import merged_issues
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import LiveState, LiveUser, SourcePos
from reconciler.core.yamlfile.read import parse_yaml
from tests.core.builders import rec

LIVE = LiveState(
    users={
        "ADMIN": LiveUser(
            usercode="ADMIN", id="1", record=rec({"login.password": True}), super_admin=True
        )
    },
    roles={},
    categories={},
)


def issues_of(text: str, config: Config) -> list[Issue]:
    desired = with_idp_login(build_desired([parse_yaml(text.encode(), "users/a.yaml")]), config)
    return merged_issues(desired, LIVE, {})


def test_the_super_admin_keeps_password_login_when_its_entry_turns_it_off() -> None:
    text = "users:\n  - usercode: admin\n    login: {password: false}\n"
    assert issues_of(text, Config()) == [
        Issue(
            severity="error",
            pos=SourcePos(file="users/a.yaml", line=3, col=13),
            message="user ADMIN is the super admin, whose password login the server never turns"
            " off; remove login.password: false",
            key_path="users[ADMIN].login.password",
        )
    ]


def test_the_super_admin_cannot_be_an_idp_only_user() -> None:
    text = "users:\n  - usercode: admin\n    forenames: Ada\n"
    assert issues_of(text, Config(login_via_idp=("*",))) == [
        Issue(
            severity="error",
            pos=SourcePos(file="users/a.yaml", line=2, col=5),
            message="user ADMIN is the super admin, whose password login the server never turns"
            " off; it cannot sign in only through the identity provider: take it out of"
            " users.login_via_idp",
            key_path="users[ADMIN].login.password",
        )
    ]
    assert issues_of(text, Config()) == []
