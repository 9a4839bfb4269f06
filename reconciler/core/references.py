"""Plan-time checks that need the live state: categories that do not exist on the server,
and new users missing what a create requires. (Roles referenced but declared nowhere are
checked by :func:`reconciler.core.validate.unknown_role_issues`, which has item positions.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.issues import Issue
from reconciler.core.model import DesiredState, LiveState, SourcePos, UserSpec


def reference_issues(
    desired: DesiredState, live: LiveState, defaults: Mapping[str, Any]
) -> list[Issue]:
    """Every unknown category reference, and every incomplete new user, at once."""
    issues: list[Issue] = []
    for role in desired.roles:
        for cat in role.fields.get("categories", ()):
            if cat.casefold() not in live.categories:
                issues.append(_unknown("category", cat, role.source, f"roles[{role.name}]", live))
    for user in desired.users:
        if user.ignore:
            continue
        for cat in user.fields.get("categories", ()):
            if cat.casefold() not in live.categories:
                issues.append(
                    _unknown("category", cat, _pos(user, "categories"), user.usercode, live)
                )
        if user.usercode not in live.users:
            issues.extend(_create_issues(user, defaults))
    return issues


def _pos(user: UserSpec, key: str) -> SourcePos | None:
    return user.key_pos.get(key, user.source)


def _unknown(kind: str, name: str, pos: SourcePos | None, owner: str, live: LiveState) -> Issue:
    known = sorted(c.name for c in live.categories.values())
    shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    return Issue(
        severity="error",
        pos=pos,
        message=(
            f'{owner}: {kind} "{name}" does not exist on the server (pisync assigns categories'
            f" but does not create them); known: {shown or 'none'}"
        ),
        key_path=f"{owner}.categories",
    )


def _create_issues(user: UserSpec, defaults: Mapping[str, Any]) -> list[Issue]:
    missing = [k for k in ("forenames", "surname") if k not in user.fields and k not in defaults]
    if not missing:
        return []
    return [
        Issue(
            severity="error",
            pos=user.source,
            message=(
                f"user {user.usercode} does not exist on the server yet, so it will be created,"
                f" and a new user needs {' and '.join(missing)}; add "
                + " and ".join(f"{k}:" for k in missing)
            ),
            key_path=f"users[{user.usercode}]",
        )
    ]
