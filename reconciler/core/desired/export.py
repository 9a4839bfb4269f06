"""Live state -> desired-state YAML (``pisync import``), pure.

The files are written so that ``pisync plan`` right after is empty and a person can read one
without the docs: friendly keys in the SPEC's order, only values that differ from what a new
user gets anyway, lists sorted, a schema modeline and a one-line header on each file. A secure
variable never has its value written: it becomes ``{env: PISYNC_VAR_<USER>_<NAME>, secure:
true}``, and the caller tells the user which variables to set.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.model.categories import ancestors_index
from reconciler.core.model.values import USER_FIELDS, LiveRole, LiveState, LiveUser
from reconciler.core.yamlfile.emit import emit

MODELINE = "# yaml-language-server: $schema={schema}"
ROLES_FILE = "users/roles.yaml"


class Layout(StrEnum):
    PER_USER = "per-user"
    PER_ROLE_FILE = "per-role-file"
    SINGLE = "single"
    PER_LETTER = "per-letter"


#: Users one file of the per-letter layout holds at most (a letter with more gets more files).
LETTER_FILE_USERS = 500
#: The layout import chooses unless told: a file per user up to this many users, files per
#: first letter above. Reading a file costs about 0.2 ms on top of its users (opening, the
#: validation cache's key, the parser's start), so 100,000 one-user files took 4.6 x the time
#: of the same users in 200 files to validate; in files of 500 a letter they take 1.0 x
#: (BENCHMARKS.md, "Import").
PER_USER_UP_TO = 1_000


def default_layout(users: int) -> Layout:
    """The layout for ``users`` users when none is asked for (see :data:`PER_USER_UP_TO`)."""
    return Layout.PER_USER if users <= PER_USER_UP_TO else Layout.PER_LETTER


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportFile:
    path: str  # relative to the output folder, "/" separated
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Export:
    files: tuple[ExportFile, ...]
    secret_env: tuple[tuple[str, str, str], ...]  # (env name, usercode, variable)
    users: int
    roles: int


def export(
    live: LiveState,
    *,
    defaults: Mapping[str, Any],
    layout: Layout | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    with_roles: bool = True,
    skip: Iterable[str] = (),
    header: str = "",
    default_parent: str | None = None,
) -> Export:
    """Desired-state files for the live users (and roles) selected by the globs.

    ``layout`` None: :func:`default_layout` for the number of users exported.
    ``defaults`` are the canonical values a new user gets (omitted from the files);
    ``skip`` are usercodes never exported (e.g. the super admin); a ``parent`` equal to
    ``default_parent`` (the account that would create the user) is omitted too.
    """
    made = export_documents(
        live,
        defaults=defaults,
        include=include,
        exclude=exclude,
        skip=skip,
        default_parent=default_parent,
    )
    docs = [(str(d["usercode"]), d) for d in made.users]
    roles = made.roles if with_roles else ()
    layout = default_layout(len(docs)) if layout is None else layout
    # the roles file's name is taken first: a user whose usercode is ROLES gets another one
    files = []
    if roles:
        body = {"roles": list(roles)}
        files.append(ExportFile(path=ROLES_FILE, text=_dump(body, header, depth=1)))
    files += [
        ExportFile(path=path, text=_dump({"users": [d for _, d in group]}, header, depth=1))
        for path, group in _group(docs, layout, taken=[f.path for f in files])
    ]
    return Export(
        files=tuple(sorted(files, key=lambda f: f.path)),
        secret_env=made.secret_env,
        users=len(docs),
        roles=len(roles),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Documents:
    """The entries an import writes, before they are put in files."""

    users: tuple[dict[str, Any], ...]
    roles: tuple[dict[str, Any], ...]
    secret_env: tuple[tuple[str, str, str], ...]


def export_documents(
    live: LiveState,
    *,
    defaults: Mapping[str, Any],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    skip: Iterable[str] = (),
    default_parent: str | None = None,
) -> Documents:
    """The user and role entries :func:`export` writes (as :func:`export` chooses them)."""
    if default_parent:
        defaults = {**defaults, "parent": default_parent.upper()}
    skipped = {s.upper() for s in skip}
    ancestors = {
        key: frozenset(n.casefold() for n in names)
        for key, names in ancestors_index(live.categories).items()
    }
    secrets: list[tuple[str, str, str]] = []
    users = tuple(
        user_document(u, defaults, ancestors, secrets)
        for code, u in sorted(live.users.items())
        if code not in skipped and _selected(code, include, exclude)
    )
    roles = tuple(
        role_document(r) for r in sorted(live.roles.values(), key=lambda r: r.name.casefold())
    )
    return Documents(users=users, roles=roles, secret_env=tuple(secrets))


def user_document(
    user: LiveUser,
    defaults: Mapping[str, Any],
    ancestors: Mapping[str, frozenset[str]],
    secrets: list[tuple[str, str, str]],
) -> dict[str, Any]:
    """One user's entry: only the keys whose live value differs from a new user's default."""
    record = user.record
    doc: dict[str, Any] = {"usercode": user.usercode}
    login: dict[str, bool] = {}
    for key in USER_FIELDS:
        if key not in record:
            continue
        value = record[key]
        if key in ("forenames", "surname"):
            if value is not None:
                doc[key] = value
            continue
        if _same_as_default(key, value, defaults):
            continue
        if key.startswith("login."):
            login[key.removeprefix("login.")] = bool(value)
        elif key == "categories":
            doc[key] = minimal_categories(value, ancestors)
        elif key == "variables":
            doc[key] = {v.name: _variable(user.usercode, v, secrets) for v in value}
        elif key == "restrictions":
            doc[key] = [
                {"connection": r.connection, "column": r.column, "values": list(r.values)}
                for r in value
            ]
        elif key in ("privileges", "roles"):
            doc[key] = list(value)
        else:
            doc[key] = value
    if login:
        # the three flags go together: the server refuses a user with no way to sign in
        doc["login"] = {
            k: bool(record.get(f"login.{k}", False)) for k in ("password", "external", "mfa")
        }
    order = ["usercode", *(k.split(".")[0] for k in USER_FIELDS)]
    return {k: doc[k] for k in dict.fromkeys(order) if k in doc}


def role_document(role: LiveRole) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": role.name}
    if role.fields.get("description"):
        doc["description"] = role.fields["description"]
    # a role's categories are compared as written (no parents added), so write them all
    doc["categories"] = list(role.fields.get("categories") or ())
    doc["privileges"] = list(role.fields.get("privileges") or ())
    return doc


def minimal_categories(names: Iterable[str], ancestors: Mapping[str, frozenset[str]]) -> list[str]:
    """Drop categories that are ancestors of another listed one (plan adds them back)."""
    listed = list(names)
    implied = {a for n in listed for a in ancestors.get(n.casefold(), frozenset())}
    return [n for n in listed if n.casefold() not in implied]


def env_name(usercode: str, variable: str) -> str:
    return "PISYNC_VAR_" + re.sub(r"[^A-Z0-9]+", "_", f"{usercode}_{variable}".upper()).strip("_")


def file_stem(usercode: str) -> str:
    """A stable, safe, lower-case file name for a usercode."""
    stem = re.sub(r"[^a-z0-9._-]+", "_", usercode.lower()).strip("._") or "user"
    return stem


def _variable(code: str, v: Any, secrets: list[tuple[str, str, str]]) -> Any:
    if not v.secure:
        return v.value
    name = env_name(code, v.name)
    secrets.append((name, code, v.name))
    return {"env": name, "secure": True}


def _same_as_default(key: str, value: Any, defaults: Mapping[str, Any]) -> bool:
    if key not in defaults:
        return value is None
    default = defaults[key]
    if isinstance(default, tuple):
        return set(value or ()) == set(default)
    return bool(value == default)


def _selected(code: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    def hit(globs: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(code, g.upper()) for g in globs)

    return (not include or hit(include)) and not hit(exclude)


def _group(
    docs: list[tuple[str, dict[str, Any]]], layout: Layout, *, taken: Iterable[str]
) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """Files of users by layout; no name equals another or one in ``taken``, ignoring case
    (two usercodes that differ only in unsafe characters or in case, a user called ROLES)."""
    names = _Names(taken)
    if layout is Layout.SINGLE:
        return [(names.unique("users"), docs)] if docs else []
    if layout is Layout.PER_USER:
        return sorted((names.unique(file_stem(u)), [(u, d)]) for u, d in docs)
    if layout is Layout.PER_LETTER:
        return _per_letter(docs, names)
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    paths: dict[str, str] = {}
    for u, d in docs:
        roles = d.get("roles") or []
        stem = file_stem(roles[0]) if roles else "no-role"
        if stem not in paths:
            paths[stem] = names.unique(stem)
        groups.setdefault(paths[stem], []).append((u, d))
    return sorted(groups.items())


def _per_letter(
    docs: list[tuple[str, dict[str, Any]]], names: _Names
) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """Users by the first character of their file-safe usercode, in usercode order, at most
    :data:`LETTER_FILE_USERS` a file: ``users/j.yaml``, or ``users/u-001.yaml``,
    ``users/u-002.yaml``… for a letter with more."""
    letters: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for u, d in docs:
        letters.setdefault(file_stem(u)[0], []).append((u, d))
    out = []
    for letter, group in sorted(letters.items()):
        parts = [group[i : i + LETTER_FILE_USERS] for i in range(0, len(group), LETTER_FILE_USERS)]
        if len(parts) == 1:
            out.append((names.unique(letter), group))
            continue
        out += [(names.unique(f"{letter}-{n:03d}"), part) for n, part in enumerate(parts, 1)]
    return sorted(out, key=lambda item: item[0])


class _Names:
    """File names under ``users/`` handed out once each, compared ignoring case."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._taken = {t.casefold() for t in taken}

    def unique(self, stem: str) -> str:
        path, n = f"users/{stem}.yaml", 2
        while path.casefold() in self._taken:
            path, n = f"users/{stem}-{n}.yaml", n + 1
        self._taken.add(path.casefold())
        return path


def _dump(body: Mapping[str, Any], header: str, *, depth: int) -> str:
    """YAML text for ``{"users": [...]}`` or ``{"roles": [...]}`` (block style, short lists
    inline, strings quoted only when YAML would read them as something else)."""
    schema = "../" * depth + "schemas/pisync-file.schema.json"
    lines = [MODELINE.format(schema=schema)]
    if header:
        lines.append(f"# {header}")
    lines.append(
        "# A key you remove is left as it is on the server; a list you write is complete"
        " (roles: [] means none)."
    )
    return emit(body, comments=lines)
