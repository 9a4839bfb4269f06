"""A :class:`~reconciler.core.desired.analysis.FileResult` as plain JSON values, and back. Pure.

For the validation cache: what is read back must equal what was analysed, exactly (a test
round-trips real results). Positions are stored as ``[line, col]`` in the result's own file.
Only data goes in and out: nothing read back is ever executed or imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.desired.analysis import FileResult
from reconciler.core.desired.build import key_positions
from reconciler.core.desired.rules import KeyEntry, RoleRef
from reconciler.core.governance.subjects import Subject
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import (
    GRANT_KEYS,
    NO_GRANT,
    NO_MARKS,
    SET_FIELDS,
    Grant,
    Marks,
    Restriction,
    RoleSpec,
    SourcePos,
    UserSpec,
    Variable,
    VarUse,
)
from reconciler.core.yamlfile.positions import SHIFT, PackedPositions

FORMAT = (
    4  # 2: users carry their grant metadata (meta); the policies' subjects; 3: marks; 4: env_names
)

Json = Any


def encode(result: FileResult) -> dict[str, Json]:
    return {
        "format": FORMAT,
        "file": result.file,
        "issues": [_issue(i) for i in result.issues],
        "keys": [[k.kind, k.value, k.line, k.col, k.key_path, k.owner] for k in result.keys],
        "role_refs": [[r.role, r.usercode, r.line, r.col, r.key_path] for r in result.role_refs],
        "role_names": list(result.role_names),
        "users": [_user(u) for u in result.users],
        "roles": [_role(r) for r in result.roles],
        "entries": [result.user_entries, result.role_entries],
        "built": result.built,
        "subjects": None if result.subjects is None else [_subject(s) for s in result.subjects],
        "role_defs": [[n, list(c), list(p)] for n, c, p in result.role_defs],
        "env_names": list(result.env_names),
    }


def decode(data: Mapping[str, Json], *, full: bool = True) -> FileResult:
    """The result ``encode`` gave; ``ValueError``/``KeyError``/``TypeError`` for anything else.

    ``full=False`` leaves out what only a plan needs (users, roles) and marks the result not
    built: ``pisync validate`` reads only the problems, the keys, the role references, and the
    policies' subjects and role definitions.
    """
    if data.get("format") != FORMAT:
        raise ValueError("not a FileResult of this format")
    file = str(data["file"])

    def at(line: Json, col: Json) -> SourcePos | None:
        return None if line is None else SourcePos(file=file, line=int(line), col=int(col))

    users_n, roles_n = data["entries"]
    return FileResult(
        file=file,
        issues=tuple(
            Issue(
                severity=i["severity"],
                pos=at(i["line"], i["col"]),
                message=str(i["message"]),
                key_path=str(i["key_path"]),
            )
            for i in data["issues"]
        ),
        keys=tuple(
            KeyEntry(kind=k, value=v, file=file, line=int(line), col=int(col), key_path=p, owner=o)
            for k, v, line, col, p, o in data["keys"]
        ),
        role_refs=tuple(
            RoleRef(r, u, file, line, col, p) for r, u, line, col, p in data["role_refs"]
        ),
        role_names=tuple(str(n) for n in data["role_names"]),
        users=tuple(_user_back(u, file) for u in (data["users"] if full else ())),
        roles=tuple(_role_back(r, file) for r in (data["roles"] if full else ())),
        user_entries=int(users_n),
        role_entries=int(roles_n),
        built=bool(data["built"]) and full,
        subjects=None
        if data["subjects"] is None
        else tuple(_subject_back(s, file) for s in data["subjects"]),
        role_defs=tuple((str(n), tuple(c), tuple(p)) for n, c, p in data["role_defs"]),
        env_names=tuple(str(n) for n in data["env_names"]),
    )


def _pos(pos: SourcePos | None) -> list[int | None]:
    return [None, None] if pos is None else [pos.line, pos.col]


def _issue(issue: Issue) -> dict[str, Json]:
    line, col = _pos(issue.pos)
    return {
        "severity": issue.severity,
        "line": line,
        "col": col,
        "message": issue.message,
        "key_path": issue.key_path,
    }


def _packed(pos: SourcePos) -> int:
    return (pos.line - 1) << SHIFT | (pos.col - 1)


def _user(user: UserSpec) -> dict[str, Json]:
    return {
        "usercode": user.usercode,
        "fields": {k: _field(k, v) for k, v in user.fields.items()},
        "source": _pos(user.source),
        "key_pos": _packed_positions(user),
        "prune": user.prune,
        "ignore": user.ignore,
        "meta": [user.meta.get(k) for k in GRANT_KEYS] if user.meta else None,
        "marks": _marks(user.marks),
    }


def _packed_positions(user: UserSpec) -> dict[str, int]:
    if isinstance(user.key_pos, PackedPositions):
        return user.key_pos.packed()
    return {k: _packed(p) for k, p in user.key_pos.items()}


def _user_back(data: Mapping[str, Json], file: str) -> UserSpec:
    line, col = data["source"]
    return UserSpec(
        usercode=str(data["usercode"]),
        fields={k: _field_back(k, v) for k, v in data["fields"].items()},
        source=None if line is None else SourcePos(file=file, line=line, col=col),
        key_pos=key_positions(file, {str(k): int(v) for k, v in data["key_pos"].items()}),
        prune=bool(data["prune"]),
        ignore=bool(data["ignore"]),
        meta=_grant_back(data["meta"]),
        marks=_marks_back(data["marks"], file),
    )


def _marks(marks: Marks) -> Json:
    if not marks:
        return None
    return {
        "servers": [
            [s, p.line, p.col] for s, p in zip(marks.servers, marks.servers_at, strict=True)
        ],
        "exclude": _pos(marks.exclude) if marks.exclude else None,
        "controls": marks.controls,
        "templates": dict(marks.templates),
        "var_uses": [[u.var, u.key, u.pos.line, u.pos.col] for u in marks.var_uses],
    }


def _marks_back(data: Json, file: str) -> Marks:
    if data is None:
        return NO_MARKS
    exclude = data["exclude"]
    return Marks(
        servers=tuple(str(s) for s, _, _ in data["servers"]),
        servers_at=tuple(
            SourcePos(file=file, line=int(a), col=int(b)) for _, a, b in data["servers"]
        ),
        exclude=None if exclude is None else SourcePos(file=file, line=exclude[0], col=exclude[1]),
        controls=bool(data["controls"]),
        templates=dict(data["templates"]),
        var_uses=tuple(
            VarUse(var=str(v), key=str(k), pos=SourcePos(file=file, line=int(a), col=int(b)))
            for v, k, a, b in data["var_uses"]
        ),
    )


def _grant_back(values: Json) -> Grant:
    if values is None:
        return NO_GRANT
    return Grant.from_dict(dict(zip(GRANT_KEYS, values, strict=True)))


def _subject(s: Subject) -> list[Json]:
    grant = [s.grant.get(k) for k in GRANT_KEYS] if s.grant else None
    return [
        s.usercode,
        s.type,
        s.enabled,
        s.expires,
        s.mfa,
        s.email,
        list(s.privileges),
        list(s.roles),
        grant,
        s.line,
        s.col,
        s.entry,
    ]


def _subject_back(data: Json, file: str) -> Subject:
    # positional and with few conversions: validate reads one of these per user from the cache
    code, kind, enabled, expires, mfa, email, privileges, roles, grant, line, col, entry = data
    return Subject._make(
        (
            code,
            kind,
            enabled is True,
            expires,
            mfa is True,
            email,
            tuple(privileges),
            tuple(roles),
            NO_GRANT if grant is None else _grant_back(grant),
            False,
            file,
            line,
            col,
            entry,
            None,
        )
    )


def _field(name: str, value: Json) -> Json:
    if name == "variables":
        return [[v.name, v.value, v.env, v.secure] for v in value]
    if name == "restrictions":
        return [[r.connection, r.column, list(r.values)] for r in value]
    if name in SET_FIELDS:
        return list(value)
    return value


def _field_back(name: str, value: Json) -> Json:
    if name == "variables":
        return tuple(Variable(name=n, value=v, env=e, secure=bool(s)) for n, v, e, s in value)
    if name == "restrictions":
        return tuple(Restriction(connection=c, column=k, values=tuple(vs)) for c, k, vs in value)
    if name in SET_FIELDS:
        return tuple(value)
    return value


def _role(role: RoleSpec) -> dict[str, Json]:
    return {
        "name": role.name,
        "fields": {k: list(v) if isinstance(v, tuple) else v for k, v in role.fields.items()},
        "source": _pos(role.source),
        "marks": _marks(role.marks),
    }


def _role_back(data: Mapping[str, Json], file: str) -> RoleSpec:
    line, col = data["source"]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(data["fields"]).items()}
    return RoleSpec(
        name=str(data["name"]),
        fields=fields,
        source=None if line is None else SourcePos(file=file, line=line, col=col),
        marks=_marks_back(data["marks"], file),
    )
