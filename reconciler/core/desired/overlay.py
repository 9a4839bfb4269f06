"""A fleet's desired state: the base, each server's overlay laid over it, checked. Pure.

With ``servers:`` in pisync.yaml, the files of the top-level ``sources`` are the *base*, which
every server gets, and the files of a server's own ``sources`` are its *overlay*:

- an overlay entry of a user (or role) the base gives the server changes it for that server,
  key by key: a key the overlay writes replaces the base's whole value — ``login``, every
  list and ``variables`` included, exactly as a key written in any file is managed whole; the
  overlay's ``pisync:`` settings (``prune``, ``ignore``, the why) replace the base's whole too;
- ``pisync: {exclude: true}`` leaves a user (or role) of the base out on that server;
- any other overlay entry adds a user (or role) to that server alone;
- a base entry with ``pisync: {servers: [...]}`` (names or globs) goes only to those servers;
- ``{var: NAME}`` stands for ``servers.<server>.vars.NAME`` on each server that gets the entry.

Every conflict is an error at its file:line:col (:func:`fleet_state`), reported once with the
servers it applies to: a file that two places claim, a glob matching no server, ``exclude``
in a base file or beside other keys, ``pisync.servers`` in an overlay, an exclude of what the
base does not give the server, an entry twice in one overlay, a ``{var}`` a server lacks.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.core.desired.analysis import FileResult
from reconciler.core.desired.build import built_key, resolved
from reconciler.core.desired.rules import (
    KeyEntry,
    RoleRef,
    duplicate_issues,
    idp_login_issues,
    role_ref_issues,
)
from reconciler.core.governance.policies import desired_issues
from reconciler.core.governance.subjects import Subject, role_defs, subject_of_spec
from reconciler.core.model.config import Config, RolePrune, ServerEntry
from reconciler.core.model.issues import Issue, error, sort_issues
from reconciler.core.model.values import (
    USER_FIELDS,
    DesiredState,
    Marks,
    RoleSpec,
    SourcePos,
    UserSpec,
)

#: At most this many server names in an issue's "(servers …)"; the rest are counted.
_NAMES_SHOWN = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerState:
    """One server's effective desired state and what is left to check against it live."""

    name: str
    desired: DesiredState
    #: role references no file the server reads declares (plan checks them live)
    unchecked_roles: tuple[RoleRef, ...] = ()
    #: where an overlay entry changed or added a user (``"user", CODE``) or role
    #: (``"role", casefolded name``) on this server
    overlaid: Mapping[tuple[str, str], SourcePos] = field(default_factory=dict)
    #: the server's own problems that are warnings (errors stop everything)
    warnings: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetState:
    """Each server's state (in the order asked) and every problem, each reported once."""

    servers: tuple[ServerState, ...]
    issues: tuple[Issue, ...]

    def named(self, name: str) -> ServerState:
        return next(s for s in self.servers if s.name == name)


def placement_issues(places: Mapping[str, Sequence[str]]) -> list[Issue]:
    """A file matched by two places (the base, ``servers.NAME.sources``): an error at its top.
    ``places``: display path -> the places whose globs match it."""
    return [
        error(
            SourcePos(file=file, line=1, col=1),
            f"this file is matched by {' and by '.join(where)}; a file belongs to one place:"
            " narrow the globs so that only one matches it",
        )
        for file, where in sorted(places.items())
        if len(where) > 1
    ]


def fleet_state(
    config: Config,
    base: Sequence[FileResult],
    overlays: Mapping[str, Sequence[FileResult]],
    *,
    whole: bool = True,
    policies_today: dt.date | None = None,
) -> FleetState:
    """Each server of ``overlays`` (by name: its overlay files' results) with the ``base``
    laid under it, and every problem of the files and of each server's state (module
    docstring). ``whole``: the base and overlays are all the files (``roles.prune: delete``
    then requires every role a user holds to be declared). ``policies_today``: check each
    server's ``policies:`` on its declared users as of this date (``pisync validate``)."""
    names = [e.name for e in config.servers]
    base = sorted(base, key=lambda r: r.file)
    found = _Found()
    for result in base:
        found.all(result.issues)
    found.all(duplicate_issues(k for r in base for k in r.keys))
    base_users = sorted((u for r in base for u in r.users), key=lambda u: u.usercode)
    base_roles = sorted((x for r in base for x in r.roles), key=lambda x: x.name.casefold())
    for spec in base_users:
        found.all(_base_mark_issues(spec.marks, names))
    for role in base_roles:
        found.all(_base_mark_issues(role.marks, names))
    states = []
    for name in overlays:
        entry = config.server_named(name)
        results = sorted(overlays[name], key=lambda r: r.file)
        for result in results:
            found.all(result.issues, name)
        found.all(duplicate_issues(k for r in results for k in r.keys), name)
        state = _server_state(entry, base, base_users, base_roles, results, found, whole=whole)
        if policies_today is not None and entry.config.policies:
            found.each(name, _policy_issues(state.desired, entry.config, policies_today))
        states.append(state)
    total = len(names)
    return FleetState(
        servers=tuple(replace(s, warnings=found.warnings(s.name, total)) for s in states),
        issues=tuple(found.issues(total)),
    )


def matches(server: str, globs: Iterable[str]) -> bool:
    """Whether server name ``server`` is one of ``globs`` (names or ``fnmatch`` globs)."""
    return any(fnmatch.fnmatchcase(server, g) for g in globs)


# --- one server --------------------------------------------------------------------------


def _server_state(
    entry: ServerEntry,
    base: Sequence[FileResult],
    base_users: Sequence[UserSpec],
    base_roles: Sequence[RoleSpec],
    overlay: Sequence[FileResult],
    found: _Found,
    *,
    whole: bool,
) -> ServerState:
    name = entry.name
    o_users = _first_of(
        ((u.usercode, u) for r in overlay for u in r.users),
        lambda u: _overlay_mark_issues(u, "user", u.usercode),
        found,
    )
    o_roles = _first_of(
        ((x.name.casefold(), x) for r in overlay for x in r.roles),
        lambda x: _overlay_mark_issues(x, "role", x.name),
        found,
    )
    overlaid: dict[tuple[str, str], SourcePos] = {}
    users: list[UserSpec] = []
    roles_from_base: set[str] = set()  # users whose roles key the base wrote (its refs count)
    for u in base_users:
        if u.marks.servers and not matches(name, u.marks.servers):
            continue
        o = o_users.pop(u.usercode, None)
        if o is not None and o.marks.exclude is not None:
            continue
        merged = u if o is None else _merge_user(u, o)
        if o is not None and o.source is not None:
            overlaid[("user", u.usercode)] = o.source
        if o is None or "roles" not in o.fields:
            roles_from_base.add(u.usercode)
        users.append(merged)
    for o in o_users.values():
        if o.marks.exclude is not None:
            found.all([_not_given(o.marks.exclude, f"user {o.usercode}", name)], name)
            continue
        if o.source is not None:
            overlaid[("user", o.usercode)] = o.source
        users.append(o)
    roles: list[RoleSpec] = []
    for x in base_roles:
        key = x.name.casefold()
        if x.marks.servers and not matches(name, x.marks.servers):
            continue
        ox = o_roles.pop(key, None)
        if ox is not None and ox.marks.exclude is not None:
            continue
        if ox is not None and ox.source is not None:
            overlaid[("role", key)] = ox.source
        roles.append(x if ox is None else replace(x, fields={**x.fields, **ox.fields}))
    for ox in o_roles.values():
        if ox.marks.exclude is not None:
            found.all([_not_given(ox.marks.exclude, f'role "{ox.name}"', name)], name)
            continue
        if ox.source is not None:
            overlaid[("role", ox.name.casefold())] = ox.source
        roles.append(ox)
    users = [_with_vars(u, entry, found) for u in users]
    users.sort(key=lambda u: u.usercode)
    roles.sort(key=lambda x: (x.name.casefold(), x.name))
    declared = {x.name for x in roles}
    given = {u.usercode for u in users}
    refs = [r for res in base for r in res.role_refs if r.usercode in roles_from_base]
    refs += [r for res in overlay for r in res.role_refs if r.usercode in given]
    folded = {n.casefold() for n in declared}
    undeclared = [r for r in refs if r.role.casefold() not in folded]
    every = whole and entry.config.roles_prune is RolePrune.DELETE
    wrong, unchecked = role_ref_issues(undeclared, declared, every_role_declared=every)
    found.each(name, wrong)
    keys = [k for res in (*base, *overlay) for k in res.keys if _owner(k) in given]
    found.each(name, idp_login_issues(keys, entry.config))
    return ServerState(
        name=name,
        desired=DesiredState(users=tuple(users), roles=tuple(roles)),
        unchecked_roles=tuple(unchecked),
        overlaid=overlaid,
    )


def _owner(key: KeyEntry) -> str | None:
    return None if key.owner is None else key.owner.upper()


def _first_of(
    pairs: Iterable[tuple[str, Any]],
    check: Any,
    found: _Found,
) -> dict[str, Any]:
    """The overlay's entries by key (a repeat is reported by the duplicate rules), each
    checked once for what an overlay may not write."""
    out: dict[str, Any] = {}
    for key, spec in pairs:
        found.all(check(spec))
        out.setdefault(key, spec)
    return out


def _merge_user(base: UserSpec, over: UserSpec) -> UserSpec:
    """``base`` with the keys ``over`` writes replacing its own (a ``login.*`` flag written
    replaces the whole ``login``), and ``over``'s ``pisync:`` settings when it writes any."""
    written = {_top(k) for k in over.fields}
    kept = {k: v for k, v in base.fields.items() if _top(k) not in written}
    fields = {**kept, **over.fields}
    positions: dict[str, SourcePos] = {}
    for k in fields:
        pos = (over.key_pos if k in over.fields else base.key_pos).get(k)
        if pos is not None:
            positions[k] = pos
    marks = Marks(
        servers=base.marks.servers,
        servers_at=base.marks.servers_at,
        templates={
            **{k: v for k, v in base.marks.templates.items() if k not in written},
            **over.marks.templates,
        },
        var_uses=(
            *(u for u in base.marks.var_uses if u.key not in written),
            *over.marks.var_uses,
        ),
    )
    controls = over if over.marks.controls else base
    return replace(
        base,
        fields={k: fields[k] for k in USER_FIELDS if k in fields},
        key_pos=positions,
        prune=controls.prune,
        ignore=controls.ignore,
        meta=controls.meta,
        marks=marks,
    )


def _top(key: str) -> str:
    """The YAML key a canonical field is written under (``login.mfa`` -> ``login``)."""
    return key.split(".", 1)[0]


def _with_vars(user: UserSpec, entry: ServerEntry, found: _Found) -> UserSpec:
    """The user with each ``{var: NAME}`` replaced by the server's value; a value the server
    lacks is reported (at the ``{var}``, naming the server)."""
    marks = user.marks
    if not marks.var_uses:
        return user
    for use in marks.var_uses:
        if use.var not in entry.vars:
            found.missing_var(use.var, use.pos, entry.name)
    fields = dict(user.fields)
    for key, template in marks.templates.items():
        if key in fields:
            fields[key] = built_key(key, resolved(template, entry.vars))
    return replace(user, fields=fields)


# --- what an entry may say where ------------------------------------------------------------


def _base_mark_issues(marks: Marks, names: Sequence[str]) -> list[Issue]:
    """A base entry: ``exclude`` belongs in an overlay; each server glob must match one."""
    issues = []
    if marks.exclude is not None:
        issues.append(
            error(
                marks.exclude,
                "pisync.exclude leaves a shared entry out on one server, so it belongs in that"
                " server's overlay file (its sources in pisync.yaml), not in a base file; here,"
                " narrow pisync.servers instead",
            )
        )
    for glob, pos in zip(marks.servers, marks.servers_at, strict=True):
        if not any(fnmatch.fnmatchcase(n, glob) for n in names):
            issues.append(
                error(
                    pos,
                    f'no server of servers: in pisync.yaml is named "{glob}" (servers: '
                    f"{', '.join(names)}); fix the name or add the server",
                )
            )
    return issues


def _overlay_mark_issues(spec: UserSpec | RoleSpec, kind: str, ident: str) -> list[Issue]:
    """An overlay entry: no ``pisync.servers`` (the overlay is one server's); an ``exclude``
    holds nothing else."""
    marks = spec.marks
    issues = []
    if marks.servers_at:
        issues.append(
            error(
                marks.servers_at[0],
                "pisync.servers chooses servers for a base entry; an overlay file is already one"
                " server's: remove pisync.servers here (or move the entry to a base file)",
            )
        )
    if marks.exclude is not None and (spec.fields or marks.controls):
        what = "usercode" if kind == "user" else "name"
        issues.append(
            error(
                marks.exclude,
                f"{kind} {ident} is excluded on this server and also sets keys; an entry that"
                f" excludes holds only its {what} and pisync: {{exclude: true}}: remove the"
                " other keys, or the exclude",
            )
        )
    return issues


def _not_given(pos: SourcePos, what: str, server: str) -> Issue:
    return error(
        pos,
        f"{what} is excluded on server {server}, but no base file gives it to {server}"
        " (nothing to leave out): remove this entry",
    )


def _policy_issues(desired: DesiredState, config: Config, today: dt.date) -> list[Issue]:
    subjects: list[Subject] = []
    for user in desired.users:
        if config.is_ignored(user.usercode):
            continue
        subject = subject_of_spec(user, 0)
        if subject is not None:
            subjects.append(subject._replace(entry=None))
    defs = role_defs(
        (x.name, tuple(x.fields.get("categories") or ()), tuple(x.fields.get("privileges") or ()))
        for x in desired.roles
    )
    return desired_issues(subjects, defs, config.policies, today=today)


# --- reporting each problem once ------------------------------------------------------------


class _Found:
    """Problems as found: those of the files (once), and each server's (grouped after)."""

    def __init__(self) -> None:
        self._all: list[tuple[Issue, str | None]] = []  # (issue, the overlay's server or None)
        self._each: dict[Issue, list[str]] = {}
        self._vars: dict[tuple[str, SourcePos], list[str]] = {}

    def all(self, issues: Iterable[Issue], overlay: str | None = None) -> None:
        """Problems of the files (of the base, or of ``overlay``'s files), reported as they are."""
        self._all.extend((i, overlay) for i in issues)

    def each(self, server: str, issues: Iterable[Issue]) -> None:
        for issue in issues:
            names = self._each.setdefault(issue, [])
            if server not in names:
                names.append(server)

    def missing_var(self, var: str, pos: SourcePos, server: str) -> None:
        names = self._vars.setdefault((var, pos), [])
        if server not in names:
            names.append(server)

    def warnings(self, server: str, total: int) -> tuple[Issue, ...]:
        """The warnings a plan of ``server`` carries: its files', and its own."""
        files = [i for i, o in self._all if o in (None, server)]
        own = [self._named(i, n, total) for i, n in self._each.items() if server in n]
        return tuple(i for i in sort_issues([*files, *own]) if i.severity == "warning")

    @staticmethod
    def _named(issue: Issue, names: Sequence[str], total: int) -> Issue:
        return replace(issue, message=f"{issue.message} ({_servers(names, total)})")

    def issues(self, servers: int) -> list[Issue]:
        out = [i for i, _ in self._all]
        out += [self._named(i, names, servers) for i, names in self._each.items()]
        for (var, pos), names in self._vars.items():
            where = f"servers.{names[0]}.vars" if len(names) == 1 else "servers.<name>.vars of each"
            message = (
                f"{{var: {var}}} has no value on {_servers(names, servers)}: add {var} under"
                f" {where} in pisync.yaml"
            )
            out.append(error(pos, message))
        return sort_issues(out)


def _servers(names: Sequence[str], total: int) -> str:
    ordered = sorted(names)
    if len(ordered) == 1:
        return f"server {ordered[0]}"
    if total > 1 and len(ordered) == total:
        return f"every server: {_list(ordered)}"
    return f"servers {_list(ordered)}"


def _list(names: Sequence[str]) -> str:
    if len(names) <= _NAMES_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:_NAMES_SHOWN]) + f" and {len(names) - _NAMES_SHOWN} more"
