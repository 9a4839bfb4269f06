"""The cross-file rules of desired state (SPEC §2.3), checked offline. Pure.

All case-insensitive where names are compared; a duplicate is reported at its later occurrence
in sorted file order, then line, naming the first: duplicate usercodes, duplicate role names,
duplicate emails (a warning), both login methods off, a literal variable value marked
``secure: true``, a user who is their own ``parent``. Roles that users reference but no file
declares are not an error offline: :func:`undeclared_role_refs` lists them, and
:func:`reconciler.core.references.unknown_role_issues` turns those the server lacks into errors
at plan time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from reconciler.core.issues import Issue, error, warning
from reconciler.core.keypaths import Path, format_path
from reconciler.core.model import SourcePos
from reconciler.core.yamldoc import ParsedFile
from reconciler.core.yamlpos import PosDict, PosList


def cross_file_issues(files: Sequence[ParsedFile]) -> list[Issue]:
    """Every cross-file problem of the files (given in any order)."""
    ordered = sorted(files, key=lambda f: f.file)
    issues = _duplicate_usercodes(ordered) + _duplicate_roles(ordered) + _duplicate_emails(ordered)
    for user, path in user_entries(ordered):
        issues.extend(user_rules(user, path))
    return issues


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleRef:
    """A user's reference to a role that no desired-state file declares."""

    role: str  # as written
    usercode: str  # upper case
    pos: SourcePos | None
    key_path: str


def undeclared_role_refs(files: Sequence[ParsedFile]) -> list[RoleRef]:
    """References to roles no file declares, in file order (to check against live roles)."""
    declared = {
        role["name"].casefold()
        for role, _ in role_entries(sorted(files, key=lambda f: f.file))
        if isinstance(role.get("name"), str)
    }
    refs = []
    for user, path in user_entries(sorted(files, key=lambda f: f.file)):
        roles = user.get("roles")
        usercode = user.get("usercode")
        if not isinstance(roles, PosList) or not isinstance(usercode, str):
            continue
        for i, name in enumerate(roles):
            if isinstance(name, str) and name.casefold() not in declared:
                refs.append(
                    RoleRef(
                        role=name,
                        usercode=usercode.upper(),
                        pos=roles.item_at(i),
                        key_path=format_path((*path, "roles", i)),
                    )
                )
    return refs


def user_entries(files: Iterable[ParsedFile]) -> Iterator[tuple[PosDict, Path]]:
    yield from _entries(files, "users")


def role_entries(files: Iterable[ParsedFile]) -> Iterator[tuple[PosDict, Path]]:
    yield from _entries(files, "roles")


def _entries(files: Iterable[ParsedFile], key: str) -> Iterator[tuple[PosDict, Path]]:
    """Each mapping in each file's ``key`` list, with its path, in the given file order."""
    for parsed in files:
        seq = parsed.data.get(key) if parsed.data is not None else None
        if isinstance(seq, PosList):
            for i, item in enumerate(seq):
                if isinstance(item, PosDict):
                    yield item, (key, i)


def _duplicates(
    entries: Iterable[tuple[PosDict, Path]], key: str, fold: Callable[[str], str]
) -> Iterator[tuple[PosDict, Path, str, PosDict]]:
    """(later entry, its path, its value, first entry) for each repeated ``key`` value."""
    first: dict[str, PosDict] = {}
    for entry, path in entries:
        value = entry.get(key)
        if not isinstance(value, str):
            continue
        seen = first.setdefault(fold(value), entry)
        if seen is not entry:
            yield entry, path, value, seen


def _duplicate_usercodes(files: Sequence[ParsedFile]) -> list[Issue]:
    return [
        error(
            later.key_at("usercode"),
            f'duplicate usercode "{value.upper()}"; first declared at {first.key_at("usercode")}',
            format_path((*path, "usercode")),
        )
        for later, path, value, first in _duplicates(user_entries(files), "usercode", str.upper)
    ]


def _duplicate_roles(files: Sequence[ParsedFile]) -> list[Issue]:
    issues = []
    for later, path, value, first in _duplicates(role_entries(files), "name", str.casefold):
        message = f'duplicate role "{value}"; first declared at {first.key_at("name")}'
        if first["name"] != value:
            message += f' as "{first["name"]}" (role names are compared ignoring case)'
        issues.append(error(later.key_at("name"), message, format_path((*path, "name"))))
    return issues


def _duplicate_emails(files: Sequence[ParsedFile]) -> list[Issue]:
    issues = []
    for later, path, value, first in _duplicates(user_entries(files), "email", str.casefold):
        owner = first.get("usercode")
        by = f"{owner.upper()} " if isinstance(owner, str) else ""
        message = f'duplicate email "{value}"; also used by {by}at {first.key_at("email")}'
        issues.append(warning(later.key_at("email"), message, format_path((*path, "email"))))
    return issues


def user_rules(user: PosDict, path: Path) -> list[Issue]:
    """Rules about one user (or the config's ``defaults``): login, secure literals, parent."""
    issues = []
    login = user.get("login")
    if isinstance(login, PosDict) and login.get("password") is login.get("external") is False:
        who = "a new user" if path == ("defaults",) else "this user"
        issues.append(
            error(
                user.key_at("login"),
                "login: password and external are both false, so nobody could sign in as "
                f"{who}; set one of them to true",
                format_path((*path, "login")),
            )
        )
    variables = user.get("variables")
    if isinstance(variables, PosDict):
        for name, value in variables.items():
            literal = isinstance(value, dict) and "value" in value and "env" not in value
            if literal and value.get("secure") is True:
                issues.append(
                    error(
                        variables.key_at(name),
                        f'variable "{name}" has a literal value marked secure: true, but secrets '
                        "never live in git: use {env: NAME, secure: true} and set NAME when you "
                        "apply",
                        format_path((*path, "variables", name)),
                    )
                )
    parent, usercode = user.get("parent"), user.get("usercode")
    if isinstance(parent, str) and isinstance(usercode, str) and parent.upper() == usercode.upper():
        issues.append(
            error(
                user.key_at("parent"),
                f'parent "{parent.upper()}" is this user itself; a user cannot be its own parent',
                format_path((*path, "parent")),
            )
        )
    return issues
