"""Validated documents -> :class:`~reconciler.core.model.values.DesiredState`, in canonical
form. Pure.

Call :func:`build_desired` only on files that
:func:`~reconciler.core.desired.validate.validate_files` passed without errors: it trusts the
schema's types.

Canonical form (the one ``model/values.py`` describes, so desired and live compare with ``==``):

- ``usercode`` and ``parent`` upper case; other strings exactly as written;
- ``fields`` holds only the keys the YAML writes, by
  :data:`~reconciler.core.model.values.USER_FIELDS` name (``login.password`` … flattened);
  ``type`` stays the friendly name; ``expires`` is the ISO date string or ``None``;
- ``privileges``: sorted tuple without repeats; ``roles``/``categories``: the author's spelling,
  repeats removed ignoring case (the first spelling wins), sorted by casefold then spelling;
- ``variables``: tuple of :class:`~reconciler.core.model.values.Variable` sorted by name (an ``env``
  variable's ``digest`` is left ``None``: the shell fills it when it reads the environment);
- ``restrictions``: sorted tuple of :class:`~reconciler.core.model.values.Restriction`, each with
  its values sorted and without repeats; repeated restrictions removed.

Users are sorted by usercode, roles by casefolded name.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from reconciler.core.model import intern
from reconciler.core.model.config import Config
from reconciler.core.model.values import (
    GRANT_KEYS,
    NO_MARKS,
    USER_FIELDS,
    DesiredState,
    Marks,
    Restriction,
    RoleSpec,
    UserSpec,
    Variable,
    VarUse,
    grant_of,
)
from reconciler.core.yamlfile.positions import PackedPositions, PosDict, PosList
from reconciler.core.yamlfile.read import ParsedFile

# Keys that are not user fields: the identity, and pisync's own per-user controls.
_NOT_FIELDS = frozenset({"usercode", "pisync", "login"})


def build_desired(files: Sequence[ParsedFile]) -> DesiredState:
    """The users and roles the files declare (files in any order; the result is sorted)."""
    users: list[UserSpec] = []
    roles: list[RoleSpec] = []
    for parsed in sorted(files, key=lambda f: f.file):
        data = parsed.data
        if data is None:
            continue
        users.extend(_items(data.get("users"), user_spec))
        roles.extend(_items(data.get("roles"), role_spec))
    users.sort(key=lambda u: u.usercode)
    roles.sort(key=lambda r: (r.name.casefold(), r.name))
    return DesiredState(users=tuple(users), roles=tuple(roles))


def config_from_document(parsed: ParsedFile) -> Config:
    """The configuration of a schema-valid ``pisync.yaml`` (``Config()`` when it has no data).

    ``defaults`` stays in desired-state form (``{"type": "user", "login": {...}}``) as plain
    dicts and lists; :func:`canonical_defaults` turns it into canonical fields.
    """
    if parsed.data is None:
        return Config()
    plain = _plain(parsed.data)
    assert isinstance(plain, dict)
    return Config.from_dict(plain)


def canonical_user_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical ``fields`` of a user entry (or of the config's ``defaults``), in
    :data:`USER_FIELDS` order whatever order the author wrote the keys in."""
    fields: dict[str, Any] = {}
    login = entry.get("login")
    if not isinstance(login, Mapping):
        login = {}
    # one pass over USER_FIELDS: this runs once per user, 100,000 times for a large repo
    for name, source, key, convert in _STEPS:
        holder = entry if source is None else login
        if key in holder:
            value = holder[key]
            fields[name] = value if convert is None else convert(value)
    return fields


def canonical_defaults(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The config's ``defaults`` (desired-state form) as canonical user fields."""
    return canonical_user_fields(defaults)


#: The login flags the server sets at each sign-in through the identity provider, whatever
#: the user's payload says (the reference's "login flags under external auth").
IDP_LOGIN: Mapping[str, bool] = MappingProxyType({"login.password": False, "login.external": True})


def with_idp_login(desired: DesiredState, config: Config) -> DesiredState:
    """``desired`` with the users of ``users.login_via_idp`` given :data:`IDP_LOGIN`.

    Their effective desired login is what the server forces at their next sign-in, so a plan
    after it shows no login change, apply sends the same flags, and ``pisync claims`` renders
    them. Done once, when the desired state is loaded, so that the diff, the plan-time checks
    and the guards all see the same fields. The keys stay at the entry's place (``key_pos``).
    """
    if not config.login_via_idp:
        return desired
    users = tuple(
        replace(u, fields=_forced(u.fields)) if config.is_login_via_idp(u.usercode) else u
        for u in desired.users
    )
    return replace(desired, users=users)


def _forced(fields: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**fields, **IDP_LOGIN}
    return {name: merged[name] for name in USER_FIELDS if name in merged}


def _items(seq: Any, build: Callable[[PosDict, PosList, int], Any]) -> Iterable[Any]:
    if isinstance(seq, PosList):
        for i, item in enumerate(seq):
            if isinstance(item, PosDict):
                yield build(item, seq, i)


def user_spec(entry: PosDict, seq: PosList, index: int) -> UserSpec:
    """The UserSpec of item ``index`` of ``seq`` (``entry``), a schema-valid user."""
    controls = entry.get("pisync") or {}
    return UserSpec(
        usercode=entry["usercode"].upper(),
        fields=canonical_user_fields(entry),
        source=seq.item_at(index),
        key_pos=_key_positions(entry),
        prune=controls.get("prune", True) is not False,
        ignore=controls.get("ignore", False) is True,
        meta=grant_of(controls),
        marks=_marks(entry, controls, _USER_CONTROLS),
    )


#: The ``pisync:`` keys that are a user's own settings (not about the servers of a fleet).
_USER_CONTROLS = frozenset({"prune", "ignore", *GRANT_KEYS})
#: The keys whose values may hold ``{var: NAME}``.
VAR_KEYS: tuple[str, ...] = ("variables", "restrictions")


def _marks(entry: PosDict, controls: Any, own: frozenset[str]) -> Marks:
    """What the entry says about the servers of a fleet (:class:`Marks`); :data:`NO_MARKS`
    for nearly every entry, which says nothing of them."""
    uses = [u for key in VAR_KEYS if key in entry for u in var_uses(entry[key], key)]
    if not uses and not controls:
        return NO_MARKS
    servers = controls.get("servers") if isinstance(controls, PosDict) else None
    marks = Marks(
        servers=tuple(servers) if isinstance(servers, PosList) else (),
        servers_at=tuple(servers.item_pos) if isinstance(servers, PosList) else (),
        exclude=controls.key_at("exclude")
        if isinstance(controls, PosDict) and "exclude" in controls
        else None,
        controls=any(k in own for k in controls),
        templates={k: _plain(entry[k]) for k in VAR_KEYS if k in entry and var_uses(entry[k])},
        var_uses=tuple(uses),
    )
    return marks if marks else NO_MARKS


def var_uses(value: Any, key: str = "") -> list[VarUse]:
    """Every ``{var: NAME}`` in the value of user key ``key``, with its place."""
    found: list[VarUse] = []
    if isinstance(value, PosDict):
        if "var" in value and isinstance(value["var"], str):
            return [VarUse(var=value["var"], key=key, pos=value.value_at("var"))]
        for item in value.values():
            found += var_uses(item, key)
    elif isinstance(value, PosList):
        for item in value:
            found += var_uses(item, key)
    return found


def var_placeholder(name: str) -> str:
    """What a ``{var: NAME}`` reads as before a server's value is put in (never planned: a
    fleet resolves it per server, and a repository without ``servers:`` may not hold one)."""
    return f"{{var: {name}}}"


def resolved(value: Any, values: Mapping[str, str]) -> Any:
    """A key's written value (plain) with each ``{var: NAME}`` replaced by ``values[NAME]``
    (a name ``values`` lacks stays a placeholder: the caller reports it)."""
    if isinstance(value, Mapping):
        if set(value) == {"var"} and isinstance(value["var"], str):
            return values.get(value["var"], var_placeholder(value["var"]))
        return {k: resolved(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v, values) for v in value]
    return value


def built_key(key: str, value: Any) -> Any:
    """The canonical value of user key ``key`` (one of :data:`VAR_KEYS`) as written."""
    return _variables(value) if key == "variables" else _restrictions(value)


#: The keys whose position a UserSpec keeps (plan-time messages point at them).
POSITION_KEYS: tuple[str, ...] = USER_FIELDS
_POSITION_INDEX = {k: i for i, k in enumerate(POSITION_KEYS)}


def key_positions(file: str, found: Mapping[str, int]) -> PackedPositions:
    """Packed positions of the written fields (``found``: key -> packed position)."""
    return PackedPositions.of(file, POSITION_KEYS, _POSITION_INDEX, found)


_NO_POSITIONS = array("q", [-1]) * len(POSITION_KEYS)


def _key_positions(entry: PosDict) -> PackedPositions:
    """Where each written field's key is (``login.mfa`` at its own key), packed: the
    document's own position tables are freed with it. (What :func:`key_positions` makes of
    a :class:`FieldPositions` view of the entry, without the view: it runs for every user.)"""
    packed = array("q", _NO_POSITIONS)
    index = _POSITION_INDEX
    for key, at in entry.packed_keys().items():
        slot = index.get(key)
        if slot is not None:
            packed[slot] = at
    login = entry.get("login")
    if isinstance(login, PosDict):
        for key, at in login.packed_keys().items():
            slot = index.get("login." + key)
            if slot is not None:
                packed[slot] = at
    return PackedPositions(entry.file, POSITION_KEYS, _POSITION_INDEX, packed)


def role_spec(entry: PosDict, seq: PosList, index: int) -> RoleSpec:
    """The RoleSpec of item ``index`` of ``seq`` (``entry``), a schema-valid role."""
    fields: dict[str, Any] = {}
    if "description" in entry:
        fields["description"] = entry["description"]
    if "categories" in entry:
        fields["categories"] = _names(entry["categories"])
    if "privileges" in entry:
        fields["privileges"] = _privileges(entry["privileges"])
    controls = entry.get("pisync") or {}
    marks = _marks(entry, controls, frozenset()) if controls else NO_MARKS
    return RoleSpec(name=entry["name"], fields=fields, source=seq.item_at(index), marks=marks)


def _upper(value: str) -> str:
    return value.upper()


def _names(values: Sequence[str]) -> tuple[str, ...]:
    """Repeats removed ignoring case (first spelling kept); sorted by casefold, then spelling."""
    key = ("names", *values)
    found = _MADE.get(key)
    if found is None:
        found = _remember(key, _names_made(values))
    return found  # type: ignore[no-any-return]


def _names_made(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) == 1:  # the common case, without the sort machinery
        return intern.names((values[0],))
    kept: dict[str, str] = {}
    for name in values:
        kept.setdefault(name.casefold(), name)
    return intern.names(tuple(sorted(kept.values(), key=_name_order)))


#: Lists users repeat (the same roles, privileges, variables), each made once: a canonical
#: value depends on the written one alone. Bounded: it starts again past the limit.
_MADE: dict[tuple[Any, ...], Any] = {}
_MADE_LIMIT = 100_000


def _remember(key: tuple[Any, ...], value: Any) -> Any:
    if len(_MADE) >= _MADE_LIMIT:
        _MADE.clear()
    _MADE[key] = value
    return value


def _name_order(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def _privileges(values: Sequence[str]) -> tuple[str, ...]:
    key = ("privileges", *values)
    found = _MADE.get(key)
    if found is None:
        found = _remember(key, intern.names(tuple(sorted(set(values)))))
    return found  # type: ignore[no-any-return]


def _variables(values: Mapping[str, Any]) -> tuple[Variable, ...]:
    if not all(type(v) is str for v in values.values()):
        return _variables_made(values)  # an {env:} or {value:, secure:} spec: made each time
    key = ("variables", *values.items())
    found = _MADE.get(key)
    if found is None:
        found = _remember(key, _variables_made(values))
    return found  # type: ignore[no-any-return]


def _variables_made(values: Mapping[str, Any]) -> tuple[Variable, ...]:
    out = []
    for name, spec in values.items():
        if isinstance(spec, Mapping) and "env" in spec:
            out.append(Variable(name=name, env=spec["env"], secure=bool(spec.get("secure"))))
        elif isinstance(spec, Mapping) and "var" in spec:
            out.append(Variable(name=name, value=_text(spec)))
        elif isinstance(spec, Mapping):
            value = _text(spec["value"])
            out.append(Variable(name=name, value=value, secure=bool(spec.get("secure"))))
        else:
            out.append(Variable(name=name, value=spec))
    return intern.shared(tuple(intern.shared(v) for v in sorted(out, key=lambda v: v.name)))


def _restrictions(values: Iterable[Mapping[str, Any]]) -> tuple[Restriction, ...]:
    found = {
        Restriction(
            connection=r["connection"],
            column=r["column"],
            values=tuple(sorted({_text(v) for v in r["values"]})),
        )
        for r in values
    }
    return intern.shared(tuple(intern.shared(r) for r in sorted(found)))


def _text(value: Any) -> str:
    """A string value, or the placeholder of a ``{var: NAME}`` not resolved yet."""
    if isinstance(value, Mapping):
        return var_placeholder(str(value.get("var")))
    return str(value)


# How each canonical field is read: (field, None for the entry or "login", key, conversion);
# a conversion of None keeps the value as it is (strings exactly as written, bools, dates
# already ISO text).
_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "parent": _upper,
    "type": intern.text,
    "organisation": intern.text,
    "theme": intern.text,
    "privileges": _privileges,
    "roles": _names,
    "categories": _names,
    "variables": _variables,
    "restrictions": _restrictions,
}
_STEPS: tuple[tuple[str, str | None, str, Callable[[Any], Any] | None], ...] = tuple(
    (name, "login", name[len("login.") :], None)
    if name.startswith("login.")
    else (name, None, name, _CONVERSIONS.get(name))
    for name in USER_FIELDS
)


def plain(value: Any) -> Any:
    """A document read with positions as plain dicts and lists (for comparing documents)."""
    return _plain(value)


def _plain(value: Any) -> Any:
    """PosDict/PosList -> dict/list, recursively (for values that leave the core's YAML view)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
