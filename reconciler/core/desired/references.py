"""Plan-time checks that need the live state, each reported at the YAML line it is about
(exit 3), so that nothing apply would be refused for only shows up after the merge:

- roles and categories that exist neither on the server nor in the desired state;
- new users missing what a create requires;
- the server's own rules checked on the *merged* payload (the live record with the managed keys
  overlaid, or a new user's defaults): not both sign-in methods off, password login kept for
  the super admin, a ``parent`` that exists or is created by the same plan;
- (:func:`target_issues`) ``--target`` names that are no user at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.desired.rules import RoleRef
from reconciler.core.model.issues import Issue, error, sort_issues
from reconciler.core.model.suggest import did_you_mean
from reconciler.core.model.values import DesiredState, LiveState, SourcePos, UserSpec


def plan_time_issues(
    desired: DesiredState,
    live: LiveState,
    *,
    defaults: Mapping[str, Any],
    server_defaults: Mapping[str, Any],
    undeclared_roles: Iterable[RoleRef] = (),
) -> list[Issue]:
    """Every plan-time problem at once, sorted (see the module docstring).

    ``defaults`` are the config's values for a new user's omitted keys, ``server_defaults``
    what the server gives a new user for the rest (canonical fields both).
    """
    issues = unknown_role_issues(undeclared_roles, (r.name for r in live.roles.values()))
    issues += reference_issues(desired, live, defaults)
    issues += merged_issues(desired, live, {**server_defaults, **defaults})
    return sort_issues(issues)


def reference_issues(
    desired: DesiredState, live: LiveState, defaults: Mapping[str, Any]
) -> list[Issue]:
    """Every unknown category reference, and every incomplete new user, at once."""
    issues: list[Issue] = []
    for role in desired.roles:
        for cat in role.fields.get("categories", ()):
            if cat.casefold() not in live.categories:
                owner = (f'role "{role.name}"', f"roles[{role.name}]")
                issues.append(_unknown(cat, role.source, owner, live))
    for user in desired.users:
        if user.ignore:
            continue
        for cat in user.fields.get("categories", ()):
            if cat.casefold() not in live.categories:
                issues.append(_unknown(cat, _pos(user, "categories"), _user_owner(user), live))
        if user.usercode not in live.users:
            issues.extend(_create_issues(user, defaults))
    return issues


def _pos(user: UserSpec, key: str) -> SourcePos | None:
    return user.key_pos.get(key, user.source)


def _user_owner(user: UserSpec) -> tuple[str, str]:
    return f"user {user.usercode}", f"users[{user.usercode}]"


def _unknown(name: str, pos: SourcePos | None, owner: tuple[str, str], live: LiveState) -> Issue:
    """An unknown category of ``owner``: (how a message names it, its key path)."""
    known = sorted(c.name for c in live.categories.values())
    shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    label, where = owner
    return Issue(
        severity="error",
        pos=pos,
        message=(
            f'{label}: category "{name}" does not exist on the server (pisync assigns categories'
            f" but does not create them); known: {shown or 'none'}"
        ),
        key_path=f"{where}.categories",
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


def merged_issues(
    desired: DesiredState, live: LiveState, new_user: Mapping[str, Any]
) -> list[Issue]:
    """The server's rules on each user as apply would send it (live record + managed keys, or
    ``new_user`` + managed keys for a create)."""
    created = {u.usercode for u in desired.users if not u.ignore and u.usercode not in live.users}
    issues: list[Issue] = []
    for user in desired.users:
        if user.ignore:
            continue
        current = live.users.get(user.usercode)
        base = current.record if current is not None else new_user
        merged = {**base, **user.fields}
        issues.extend(_login_issues(user, merged, current is not None))
        if current is not None and current.super_admin and merged.get("login.password") is False:
            # not written: users.login_via_idp set it (desired.with_idp_login)
            fix = (
                "remove login.password: false"
                if "login.password" in user.key_pos
                else "it cannot sign in only through the identity provider: take it out of"
                " users.login_via_idp"
            )
            issues.append(
                error(
                    _pos(user, "login.password"),
                    f"user {user.usercode} is the super admin, whose password login the server"
                    f" never turns off; {fix}",
                    f"users[{user.usercode}].login.password",
                )
            )
        parent = user.fields.get("parent")
        if parent and parent not in live.users and parent not in created:
            known = sorted(live.users.keys() | created)
            hint = did_you_mean(parent, known)
            issues.append(
                error(
                    _pos(user, "parent"),
                    f'user {user.usercode}: parent "{parent}" is neither a user on the server nor'
                    " declared in the desired state"
                    + (f'; did you mean "{hint}"?' if hint else "; declare it, or fix the name"),
                    f"users[{user.usercode}].parent",
                )
            )
    return issues


def _login_issues(user: UserSpec, merged: Mapping[str, Any], exists: bool) -> list[Issue]:
    if merged.get("login.password") is not False or merged.get("login.external") is not False:
        return []
    written = [k for k in ("login.password", "login.external") if k in user.fields]
    if len(written) == 2:
        return []  # both written false: validate already reports it, at the login key
    kept = "login.external" if written == ["login.password"] else "login.password"
    said = " and ".join(f"{k}: false" for k in written) or "the defaults"
    where = "on the server" if exists else "for a new user (the default)"
    message = (
        f"user {user.usercode}: {said} leaves no way to sign in, because {kept} is false"
        f" {where}; the server refuses a user nobody can sign in as: set {kept}: true as well"
    )
    key = written[0] if written else "login"
    return [error(_pos(user, key), message, f"users[{user.usercode}].{key}")]


def target_issues(targets: Iterable[str], desired: DesiredState, live: LiveState) -> list[Issue]:
    """A ``--target`` that names no declared and no live user (with a did-you-mean)."""
    declared = {u.usercode for u in desired.users}
    roles = {r.name.casefold(): r.name for r in desired.roles} | {
        k: r.name for k, r in live.roles.items()
    }
    issues = []
    for target in targets:
        code = target.upper()
        if code in declared or code in live.users:
            continue
        if target.casefold() in roles:
            message = (
                f'--target {target}: "{roles[target.casefold()]}" is a role, and --target takes'
                " usercodes; name the users whose access you want to plan"
            )
        else:
            hint = did_you_mean(code, sorted(declared | live.users.keys()))
            message = f"--target {target}: no declared or live user has this usercode" + (
                f'; did you mean "{hint}"?' if hint else ""
            )
        issues.append(error(None, message))
    return issues
