"""One desired-state file, checked and built on its own: everything validation and planning
need from it, so that the file's document can be dropped at once. Pure.

A :class:`FileResult` holds the file's own problems (YAML, schema, the rules about one user), the
keys the cross-file rules compare (usercodes, role names, emails, with positions), every role
reference, and — when the file has no error — its users and roles in canonical form. The cross-file
rules (:mod:`reconciler.core.desired.rules`) then run over the results of all files in file order,
without their documents. Because a result depends on the file's text alone, it can be cached by
content (``reconciler.shell.repo.cache``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from reconciler.core.desired.build import VAR_KEYS, role_spec, user_spec, var_uses
from reconciler.core.desired.rules import KeyEntry, RoleRef, user_rules
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.governance.subjects import Subject, role_def_of_entry, subject_of_entry
from reconciler.core.model.issues import Issue, has_errors
from reconciler.core.model.values import DesiredState, RoleSpec, UserSpec
from reconciler.core.yamlfile.keypaths import Path, format_path
from reconciler.core.yamlfile.positions import SHIFT, PosDict, PosList, line_col
from reconciler.core.yamlfile.read import ParsedFile


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    file: str
    issues: tuple[Issue, ...] = ()
    keys: tuple[KeyEntry, ...] = ()
    role_refs: tuple[RoleRef, ...] = ()  # every role reference of every user
    role_names: tuple[str, ...] = ()  # the roles this file declares
    users: tuple[UserSpec, ...] = ()  # built only when the file has no error
    roles: tuple[RoleSpec, ...] = ()
    user_entries: int = 0  # entries of users:, valid or not (for the summary)
    role_entries: int = 0
    built: bool = True  # users and roles were built (analyse(build=False) skips it)
    #: the policies' view of each user (``analyse(subjects=True)``; none for a file with an
    #: error; None: not made)
    subjects: tuple[Subject, ...] | None = None
    #: the roles the file declares, as (name, categories, privileges) (a file without error)
    role_defs: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    #: the environment variables its ``{env: NAME}`` entries name (their values are secrets
    #: the shell hides in every output, even when the file has errors)
    env_names: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)


def analyse(
    parsed: ParsedFile, checker: SchemaChecker, *, build: bool = True, subjects: bool = False
) -> FileResult:
    """Everything about one parsed file (see the module docstring); ``build=False`` skips
    building its users and roles (``pisync validate`` needs only the problems);
    ``subjects=True`` adds the policies' view of each user (``pisync validate`` with
    ``policies:``), far cheaper than building them."""
    data = parsed.data
    if data is None:
        return FileResult(file=parsed.file, issues=parsed.issues, subjects=() if subjects else None)
    issues = [*parsed.issues, *checker.check(data)]
    keys: list[KeyEntry] = []
    refs: list[RoleRef] = []
    users = list(_entries(data, "users"))
    roles = list(_entries(data, "roles"))
    env_names: set[str] = set()
    for user, path, _, i in users:
        env_names.update(_env_names(user))
        issues.extend(user_rules(user, path))
        _user_keys(user, i, keys)
        _role_refs(user, i, refs)
    for role, path, _, i in roles:
        name = role.get("name")
        keys.extend(fleet_keys(role, path, name))
        if isinstance(name, str):
            line, col = line_col(role.key_packed("name"))
            keys.append(KeyEntry("role", name, role.file, line, col, f"roles[{i}].name"))
    valid = not has_errors(issues)
    ok = valid and build
    views: tuple[Subject, ...] | None = None
    if subjects:  # a file with an error has none: its entries are not trusted
        views = tuple(
            v
            for e, path, seq, i in (users if valid else ())
            if (v := subject_of_entry(e, *_line_col(seq, i), i)) is not None
        )
    return FileResult(
        file=parsed.file,
        issues=tuple(issues),
        keys=tuple(keys),
        role_refs=tuple(refs),
        role_names=tuple(k.value for k in keys if k.kind == "role"),
        users=tuple(user_spec(e, seq, i) for e, _, seq, i in users) if ok else (),
        roles=tuple(role_spec(e, seq, i) for e, _, seq, i in roles) if ok else (),
        user_entries=_count(data, "users"),
        role_entries=_count(data, "roles"),
        built=build,
        subjects=views,
        role_defs=tuple(role_def_of_entry(e) for e, _, _, _ in roles) if valid else (),
        env_names=tuple(sorted(env_names)),
    )


def desired_state(results: Iterable[FileResult]) -> DesiredState:
    """The users and roles of the results (in any order; the result is sorted)."""
    users = sorted((u for r in results for u in r.users), key=lambda u: u.usercode)
    roles = sorted((x for r in results for x in r.roles), key=lambda x: (x.name.casefold(), x.name))
    return DesiredState(users=tuple(users), roles=tuple(roles))


def undeclared_refs(results: Sequence[FileResult]) -> list[RoleRef]:
    """References to roles no file declares, in file order (to check against live roles)."""
    written = {name for r in results for name in r.role_names}
    declared = {name.casefold() for name in written}
    ordered = sorted(results, key=lambda r: r.file)
    return [
        ref
        for r in ordered
        for ref in r.role_refs
        if ref.role not in written and ref.role.casefold() not in declared  # most: as written
    ]


def _entries(data: PosDict, key: str) -> Iterator[tuple[PosDict, Path, PosList, int]]:
    seq = data.get(key)
    if isinstance(seq, PosList):
        for i, item in enumerate(seq):
            if isinstance(item, PosDict):
                yield item, (key, i), seq, i


def _line_col(seq: PosList, index: int) -> tuple[str, int, int]:
    """(file, line, col) of item ``index``, without making a SourcePos (one per user)."""
    packed = seq.item_packed(index)
    return seq.file, (packed >> SHIFT) + 1, (packed & ((1 << SHIFT) - 1)) + 1


def _count(data: PosDict, key: str) -> int:
    seq = data.get(key)
    return len(seq) if isinstance(seq, list) else 0


# The two below run for every user (200,000 times at 100,000 users): positions stay numbers
# and key paths are written out (what format_path makes of these simple keys), not built.


def _user_keys(user: PosDict, index: int, out: list[KeyEntry]) -> None:
    """The user's usercode, email and written login flags (entry ``index`` of ``users:``)."""
    file = user.file
    code = user.get("usercode")
    if isinstance(code, str):
        line, col = line_col(user.key_packed("usercode"))
        out.append(KeyEntry("usercode", code, file, line, col, f"users[{index}].usercode"))
    email = user.get("email")
    if isinstance(email, str):
        line, col = line_col(user.key_packed("email"))
        owner = code if isinstance(code, str) else None
        out.append(KeyEntry("email", email, file, line, col, f"users[{index}].email", owner))
    out.extend(fleet_keys(user, ("users", index), code))
    login = user.get("login")
    if isinstance(login, PosDict) and isinstance(code, str):
        for key, forced in (("password", False), ("external", True)):
            value = login.get(key)
            if isinstance(value, bool) and value is not forced:
                line, col = line_col(login.key_packed(key))
                out.append(
                    KeyEntry(
                        "login",
                        f"login.{key}: {'true' if value else 'false'}",
                        file,
                        line,
                        col,
                        f"users[{index}].login.{key}",
                        code,
                    )
                )


#: The ``KeyEntry`` kind of what only a fleet (``servers:`` in pisync.yaml) may write.
FLEET_KIND = "fleet"


def fleet_keys(entry: PosDict, path: Path, owner: object) -> Iterator[KeyEntry]:
    """What only a fleet may write (``pisync: servers / exclude``, ``{var: NAME}``), as keys
    the cross-file rules report when pisync.yaml has no ``servers:``."""
    controls = entry.get("pisync")
    named = owner if isinstance(owner, str) else None
    if isinstance(controls, PosDict):
        for key in ("servers", "exclude"):
            if key in controls:
                yield KeyEntry.at(
                    controls.key_at(key),
                    kind=FLEET_KIND,
                    value=f"pisync.{key}",
                    key_path=format_path((*path, "pisync", key)),
                    owner=named,
                )
    for key in VAR_KEYS:
        if key in entry:
            for use in var_uses(entry[key]):
                yield KeyEntry.at(
                    use.pos,
                    kind=FLEET_KIND,
                    value=f"{{var: {use.var}}}",
                    key_path=format_path((*path, key)),
                    owner=named,
                )


def _env_names(user: PosDict) -> Iterator[str]:
    """The names the user's ``{env: NAME}`` variables read, whatever else is wrong with it."""
    variables = user.get("variables")
    if isinstance(variables, dict):
        for value in variables.values():
            if isinstance(value, dict) and isinstance(name := value.get("env"), str):
                yield name


def _role_refs(user: PosDict, index: int, out: list[RoleRef]) -> None:
    roles, code = user.get("roles"), user.get("usercode")
    if not isinstance(roles, PosList) or not isinstance(code, str):
        return
    usercode = code.upper()
    file = roles.file
    for i, name in enumerate(roles):
        if isinstance(name, str):
            line, col = line_col(roles.item_packed(i))
            out.append(RoleRef(name, usercode, file, line, col, f"users[{index}].roles[{i}]"))
