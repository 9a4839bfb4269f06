"""Plan-time checks that need the live state: roles and categories that do not exist on the
server, and new users missing what a create requires."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.issues import Issue, error, sort_issues
from reconciler.core.model import DesiredState, LiveState, SourcePos, UserSpec
from reconciler.core.rules import RoleRef
from reconciler.core.suggest import did_you_mean


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


def unknown_role_issues(refs: Iterable[RoleRef], live_roles: Iterable[str]) -> list[Issue]:
    """Errors for the references among ``refs`` that name no live role either."""
    live = {name.casefold(): name for name in live_roles}
    issues = []
    for ref in refs:
        if ref.role.casefold() in live:
            continue
        message = (
            f'role "{ref.role}" is neither declared in a desired-state file nor defined on '
            "the server; declare it under roles:"
        )
        hint = did_you_mean(ref.role, live.values())
        if hint:
            message += f', or did you mean "{hint}"?'
        issues.append(error(ref.pos, message, ref.key_path))
    return sort_issues(issues)
