"""The cross-file rules of desired state (SPEC §2.3), checked offline. Pure.

All case-insensitive where names are compared; a duplicate is reported at its later occurrence in
sorted file order, then line, naming the first: duplicate usercodes, duplicate role names, duplicate
emails (a warning), login flags that ``users.login_via_idp`` overrides (a warning), both login
methods off, a literal variable value marked ``secure: true``, a user who is their own ``parent``.
A role that users reference but no file declares (:func:`role_ref_issues`) is an error offline
when it is a close misspelling of a declared role, or when ``roles.prune: delete`` says the files
declare every role; otherwise it may exist only on the server, and
:func:`reconciler.core.desired.references.unknown_role_issues` turns those the server lacks into
errors at plan time (validate notes how many it could not check: :func:`unchecked_roles_note`).
The duplicates are found over :class:`KeyEntry` values collected from each file
(:mod:`reconciler.core.desired.analysis`), without the files' documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, error, warning
from reconciler.core.model.suggest import did_you_mean, misspelling_of
from reconciler.core.model.text import quote_value
from reconciler.core.model.values import SourcePos
from reconciler.core.yamlfile.keypaths import Path, format_path
from reconciler.core.yamlfile.positions import PosDict


class KeyEntry(NamedTuple):
    """A value the cross-file rules compare: a usercode, a role name or an email; or a login
    flag written against what an identity-provider sign-in forces (``users.login_via_idp``
    decides, with the configuration, whether it is worth a warning).

    Its place is kept as numbers (``pos`` builds the SourcePos when a message needs it):
    there are two of these per user, and nearly none is ever reported: a named tuple, built
    five times faster than a frozen dataclass (a warm cache makes 200,000 at 100,000 users).
    """

    #: "usercode", "role", "email", "login" (a flag the IdP would override), or "fleet" (what
    #: only a repository with ``servers:`` may write: ``pisync.servers``, ``{var: NAME}``…)
    kind: str
    value: str  # as written ("login": the key and value, e.g. "login.password: true")
    file: str
    line: int
    col: int
    key_path: str
    owner: str | None = None  # an email's user, as written

    @property
    def pos(self) -> SourcePos:
        return SourcePos(file=self.file, line=self.line, col=self.col)

    @classmethod
    def at(
        cls, pos: SourcePos, *, kind: str, value: str, key_path: str, owner: str | None = None
    ) -> KeyEntry:
        return cls(
            kind=kind,
            value=value,
            file=pos.file,
            line=pos.line,
            col=pos.col,
            key_path=key_path,
            owner=owner,
        )


class RoleRef(NamedTuple):
    """A user's reference to a role (by name, as written under ``roles:``).

    Kept as numbers, as :class:`KeyEntry`: validate reads one per role each user holds, from
    the cache too, and reports nearly none of them.
    """

    role: str  # as written
    usercode: str  # upper case
    file: str
    line: int
    col: int
    key_path: str

    @property
    def pos(self) -> SourcePos:
        return SourcePos(file=self.file, line=self.line, col=self.col)

    @classmethod
    def at(cls, pos: SourcePos, *, role: str, usercode: str, key_path: str) -> RoleRef:
        return cls(role, usercode, pos.file, pos.line, pos.col, key_path)


#: The kinds of :class:`KeyEntry` whose values must be unique.
_UNIQUE = frozenset({"usercode", "role", "email"})


def fleet_syntax_issues(keys: Iterable[KeyEntry]) -> list[Issue]:
    """What only a fleet may write, in a repository whose pisync.yaml has no ``servers:``
    (``keys`` of kind ``fleet``): an error each, saying what it needs."""
    return [
        error(
            key.pos,
            f"{key.value} works only with servers: in pisync.yaml, which names none; add"
            " servers: to pisync.yaml, or remove it",
            key.key_path,
        )
        for key in keys
        if key.kind == "fleet"
    ]


def duplicate_issues(keys: Iterable[KeyEntry]) -> list[Issue]:
    """Repeated usercodes (errors), role names (errors) and emails (warnings), each reported
    at its later occurrence naming the first; ``keys`` in file order, then line."""
    first: dict[tuple[str, str], KeyEntry] = {}
    issues = []
    for key in keys:
        if key.kind not in _UNIQUE:
            continue  # not a value that must be unique (a login flag, fleet syntax)
        folded = key.value.upper() if key.kind == "usercode" else key.value.casefold()
        seen = first.setdefault((key.kind, folded), key)
        if seen is not key:
            issues.append(_duplicate(key, seen))
    return issues


def _duplicate(later: KeyEntry, first: KeyEntry) -> Issue:
    if later.kind == "usercode":
        message = (
            f"duplicate usercode {quote_value(later.value.upper())}; first declared at {first.pos}"
        )
        return error(later.pos, message, later.key_path)
    if later.kind == "role":
        message = f"duplicate role {quote_value(later.value)}; first declared at {first.pos}"
        if first.value != later.value:
            message += f" as {quote_value(first.value)} (role names are compared ignoring case)"
        return error(later.pos, message, later.key_path)
    by = f"{first.owner.upper()} " if first.owner is not None else ""
    message = f"duplicate email {quote_value(later.value)}; also used by {by}at {first.pos}"
    return warning(later.pos, message, later.key_path)


def idp_login_issues(keys: Iterable[KeyEntry], config: Config) -> list[Issue]:
    """A warning at each login flag written for a user of ``users.login_via_idp`` that the
    server overrides at the user's every sign-in through the identity provider."""
    if not config.login_via_idp:
        return []
    return [
        warning(
            key.pos,
            f"user {key.owner.upper()} signs in through the identity provider"
            " (users.login_via_idp), which sets login.password: false and login.external: true"
            f" at each sign-in, so pisync plans those; remove {key.value}, or take the user out"
            " of users.login_via_idp",
            key.key_path,
        )
        for key in keys
        if key.kind == "login" and key.owner is not None and config.is_login_via_idp(key.owner)
    ]


#: Prefixes of environment variables a desired-state file may not read with ``{env: NAME}``:
#: pisync's own settings and credentials, and the CI runner's (tokens among them).
RESERVED_ENV_PREFIXES = ("PISYNC_", "GITHUB_", "ACTIONS_", "RUNNER_")
#: ... except the names ``pisync import`` gives the secure variables it finds.
IMPORTED_ENV_PREFIX = "PISYNC_VAR_"


def reserved_env(name: str) -> bool:
    """Whether ``{env: name}`` would read one of pisync's or the runner's own variables."""
    upper = name.upper()
    if upper.startswith(IMPORTED_ENV_PREFIX):
        return False
    return upper.startswith(RESERVED_ENV_PREFIXES) or upper == "GH_TOKEN"


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
            env = value.get("env") if isinstance(value, dict) else None
            if isinstance(env, str) and reserved_env(env):
                issues.append(
                    error(
                        value.value_at("env") if isinstance(value, PosDict) else None,
                        f'variable "{name}" reads {env}, an environment variable of pisync\'s own'
                        " or of the CI runner (PISYNC_*, GITHUB_*, ACTIONS_*, RUNNER_*): its"
                        " value, a credential perhaps, would be sent to the server; read the"
                        " secret from a variable of its own, e.g. {env: FINANCE_DB_PASSWORD,"
                        " secure: true}",
                        format_path((*path, "variables", name, "env")),
                    )
                )
            literal = isinstance(value, dict) and "value" in value and "env" not in value
            if literal and value.get("secure") is True:
                issues.append(
                    error(
                        variables.key_at(name),
                        f"variable {quote_value(name)} has a literal value marked secure: true,"
                        " but secrets "
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


def role_ref_issues(
    refs: Sequence[RoleRef], declared: Iterable[str], *, every_role_declared: bool
) -> tuple[list[Issue], list[RoleRef]]:
    """The references to roles no file declares (``refs``) that are errors offline, and the
    rest, which only the server can settle.

    An error: a close misspelling of a declared role (``"Sales Viewr"``); with
    ``every_role_declared`` (``roles.prune: delete`` over the whole desired state) every one.
    Each distinct name is looked up once (many users hold the same few roles).
    """
    names = sorted(set(declared), key=str.casefold)
    hints: dict[str, str | None] = {}
    issues: list[Issue] = []
    unchecked: list[RoleRef] = []
    for ref in refs:
        folded = ref.role.casefold()
        if folded not in hints:
            hints[folded] = (did_you_mean if every_role_declared else misspelling_of)(
                ref.role, names
            )
        hint = hints[folded]
        if every_role_declared:
            message = (
                f'role "{ref.role}" is not declared in any desired-state file, and roles.prune:'
                " delete means the files declare every role; declare it under roles:"
                + (f', or did you mean "{hint}"?' if hint else "")
            )
        elif hint is not None:
            message = (
                f'role "{ref.role}" is not declared in any desired-state file; did you mean'
                f' "{hint}"? If the server has a role of exactly this name, declare it under'
                " roles: with its name alone (that leaves it as it is)"
            )
        else:
            unchecked.append(ref)
            continue
        issues.append(error(ref.pos, message, ref.key_path))
    return issues, unchecked


def unchecked_roles_note(refs: Sequence[RoleRef]) -> str | None:
    """One sentence for every reference :func:`role_ref_issues` left to the server."""
    if not refs:
        return None
    roles = len({r.role.casefold() for r in refs})
    if len(refs) == 1:
        return (
            "1 role reference names a role that no file declares; it may exist only on the"
            " server, so validate cannot check it offline: pisync plan checks it"
        )
    named = "a role" if roles == 1 else f"{roles} roles"
    return (
        f"{len(refs)} role references name {named} that no file declares; they may exist only"
        " on the server, so validate cannot check them offline: pisync plan checks them"
    )
