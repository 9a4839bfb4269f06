"""Offline checks of desired state (SPEC §2.3): JSON Schema, then the cross-file rules. Pure.

:func:`validate_files` and :func:`validate_config` return *every* problem as an
:class:`~reconciler.core.issues.Issue`, sorted, each at the line and column of the key (or list
item) it is about, with a message that says what is wrong and what is allowed.

Schema checking has a fast path: the compiled ``jsonschema_rs`` validator checks each document
(about 100x faster than pure Python); only a document it rejects is checked again, user by user
and role by role, and only the users and roles it rejects go through jsonschema's
``Draft202012Validator.iter_errors``, whose errors become the messages. jsonschema's ``pattern``
is made to match the way ``jsonschema_rs`` (and JSON Schema's ECMA-262 regexes) read a final
``$`` (end of text, not "before a final newline"), so the two agree; should they ever disagree,
``jsonschema_rs``'s own errors are reported rather than nothing.

Cross-file rules (all case-insensitive where names are compared; a duplicate is reported at its
later occurrence in sorted file order, then line, naming the first): duplicate usercodes,
duplicate role names, duplicate emails (a warning), both login methods off, a literal variable
value marked ``secure: true``, a user who is their own ``parent``. Unknown privileges are
reported by the schema (its enum is :data:`~reconciler.core.privileges.PRIVILEGES`). Roles that
users reference but no file declares are not an error offline: :func:`undeclared_role_refs`
lists them and :func:`unknown_role_issues` turns the ones the server lacks into errors at plan
time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from reconciler.core.issues import Issue, error, sort_issues, warning
from reconciler.core.model import SourcePos
from reconciler.core.yamldoc import ParsedFile, PosDict, PosList

Path = tuple[str | int, ...]


# --- public API --------------------------------------------------------------------------


def validate_files(files: Sequence[ParsedFile], *, file_schema: Mapping[str, Any]) -> list[Issue]:
    """Every problem of the desired-state files: YAML, schema and cross-file; sorted."""
    checker = SchemaChecker(file_schema)
    issues: list[Issue] = []
    for parsed in files:
        issues.extend(parsed.issues)
        if parsed.data is not None:
            issues.extend(checker.check(parsed.data))
    ordered = sorted(files, key=lambda f: f.file)
    issues.extend(_duplicate_usercodes(ordered))
    issues.extend(_duplicate_roles(ordered))
    issues.extend(_duplicate_emails(ordered))
    for user, path in _users(ordered):
        issues.extend(_user_rules(user, path))
    return sort_issues(issues)


def validate_config(parsed: ParsedFile, *, config_schema: Mapping[str, Any]) -> list[Issue]:
    """Every problem of ``pisync.yaml``: YAML, schema, and the user rules run on ``defaults``."""
    issues = list(parsed.issues)
    if parsed.data is not None:
        issues.extend(SchemaChecker(config_schema).check(parsed.data))
        defaults = parsed.data.get("defaults")
        if isinstance(defaults, PosDict):
            issues.extend(_user_rules(defaults, ("defaults",)))
    return sort_issues(issues)


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
        for role, _ in _roles(sorted(files, key=lambda f: f.file))
        if isinstance(role.get("name"), str)
    }
    refs = []
    for user, path in _users(sorted(files, key=lambda f: f.file)):
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
        hint = _suggest(ref.role, live.values())
        if hint:
            message += f', or did you mean "{hint}"?'
        issues.append(error(ref.pos, message, ref.key_path))
    return sort_issues(issues)


def format_path(path: Path) -> str:
    """``("users", 3, "roles", 0)`` -> ``users[3].roles[0]``; odd keys as ``["a b"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


# --- JSON Schema -------------------------------------------------------------------------


@cache
def _end_anchored(pattern: str) -> re.Pattern[str]:
    # ECMA-262 (and jsonschema_rs) read a final "$" as the end of the text; Python's re also
    # matches it before a final newline, which would let "jsmith\n" pass as a usercode.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _end_anchored(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_PyValidator: Any = extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


def _fast_validator(schema: Mapping[str, Any]) -> Any:
    """A compiled ``jsonschema_rs`` validator, or None when it cannot compile the schema."""
    try:
        return jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    except Exception:  # any failure only costs speed: the pure-Python validator decides
        return None


def _slow_validator(schema: Mapping[str, Any]) -> Validator:
    validator: Validator = _PyValidator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator


def _fast_ok(fast: Any, instance: Any) -> bool:
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(instance))
    except Exception:  # a value jsonschema_rs cannot convert: let jsonschema judge it
        return False


class SchemaChecker:
    """Checks documents against one schema: ``jsonschema_rs`` first, jsonschema for messages.

    A top-level ``array`` property whose ``items`` is a schema (``users``, ``roles``) is
    checked item by item when a document fails, so that one bad user costs one slow check.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._fast = _fast_validator(schema)
        self._slow = _slow_validator(schema)
        self._items: dict[str, tuple[Any, Validator]] = {}
        for key, sub in (schema.get("properties") or {}).items():
            items = sub.get("items") if isinstance(sub, Mapping) else None
            if sub.get("type") == "array" and isinstance(items, Mapping):
                item_schema = {
                    "$schema": schema.get("$schema"),
                    "$defs": schema.get("$defs", {}),
                    **items,
                }
                self._items[key] = (_fast_validator(item_schema), _slow_validator(item_schema))

    def check(self, data: PosDict) -> list[Issue]:
        if _fast_ok(self._fast, data):
            return []
        found: list[tuple[ValidationError, Path]] = []
        # the document without its item lists, then each item that fails the fast check
        shallow = {
            k: ([] if k in self._items and isinstance(v, list) else v) for k, v in data.items()
        }
        found += [(e, ()) for e in self._slow.iter_errors(shallow)]
        for key, (fast, slow) in self._items.items():
            seq = data.get(key)
            if not isinstance(seq, list):
                continue
            for i, item in enumerate(seq):
                if not _fast_ok(fast, item):
                    found += [(e, (key, i)) for e in slow.iter_errors(item)]
        if not found:
            return self._fast_errors(data)
        return _schema_issues(found, data)

    def _fast_errors(self, data: PosDict) -> list[Issue]:
        # Only if the two validators disagree: report jsonschema_rs's view, never nothing.
        if self._fast is None:
            return []
        try:
            errors = list(self._fast.iter_errors(data))
        except Exception:
            return []
        return [
            error(
                _locate(data, tuple(e.instance_path))[0],
                str(e.message),
                format_path(tuple(e.instance_path)),
            )
            for e in errors
        ]


def _schema_issues(found: list[tuple[ValidationError, Path]], root: PosDict) -> list[Issue]:
    issues: list[Issue] = []
    missing: dict[Path, list[str]] = {}
    leaves = [
        ((*prefix, *leaf.absolute_path), leaf) for err, prefix in found for leaf in _expand(err)
    ]
    # a value that breaks its pattern is not also reported as "not a real date"
    patterned = {path for path, leaf in leaves if leaf.validator == "pattern"}
    for path, leaf in leaves:
        if leaf.validator == "format" and path in patterned:
            continue
        if leaf.validator == "required":
            missing.setdefault(path, []).extend(_missing_keys(leaf))
        elif leaf.validator == "additionalProperties":
            issues.extend(_unknown_keys(leaf, path, root))
        else:
            pos, key_path = _where(root, path)
            issues.append(error(pos, _message(leaf, path), key_path))
    for path, keys in missing.items():
        names = sorted(set(keys))
        quoted = " and ".join(f'"{k}"' for k in names)
        noun = "key" if len(names) == 1 else "keys"
        pos, key_path = _where(root, path)
        message = f"{_object_name(path)} is missing the required {noun} {quoted}"
        issues.append(error(pos, message, key_path))
    return issues


def _expand(err: ValidationError) -> Iterator[ValidationError]:
    """The errors to report for ``err``: for anyOf/oneOf, those of the branch meant, if clear."""
    if err.validator in ("anyOf", "oneOf") and err.context:
        branch = _branch_meant(err)
        if branch is not None:
            for sub in err.context:
                if sub.relative_schema_path[0] == branch:
                    yield from _expand(sub)
            return
    yield err


def _branch_meant(err: ValidationError) -> int | None:
    """The one branch whose type fits the value and, for a mapping, that only it has a key of."""
    branches = [b if isinstance(b, Mapping) else {} for b in _rule(err)]
    instance = err.instance
    fitting = []
    for i, branch in enumerate(branches):
        if not _type_fits(branch.get("type"), instance):
            continue
        if isinstance(instance, dict):
            others = set().union(
                *(set(b.get("properties", {})) for j, b in enumerate(branches) if j != i)
            )
            own = set(branch.get("properties", {})) - others
            if not own & set(instance):
                continue
        fitting.append(i)
    return fitting[0] if len(fitting) == 1 else None


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _type_fits(types: Any, value: Any) -> bool:
    if types is None:
        return True
    names = [types] if isinstance(types, str) else list(types)
    return any(_JSON_TYPES.get(t, lambda _: False)(value) for t in names)


def _rule(err: ValidationError) -> Any:
    """The schema keyword's value the error is about (e.g. the ``enum`` list)."""
    return err.validator_value


def _missing_keys(err: ValidationError) -> list[str]:
    present = err.instance if isinstance(err.instance, dict) else {}
    return [k for k in _rule(err) if k not in present]


def _unknown_keys(err: ValidationError, path: Path, root: PosDict) -> list[Issue]:
    known = list((err.schema.get("properties") or {}) if isinstance(err.schema, Mapping) else {})
    patterns = err.schema.get("patternProperties") or {} if isinstance(err.schema, Mapping) else {}
    instance = err.instance if isinstance(err.instance, dict) else {}
    issues = []
    where = "at the top level" if not path else f"in {_object_name(path)}"
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        hint = _suggest(key, known)
        if hint:
            message = f'unknown key "{key}" {where}; did you mean "{hint}"?'
        else:
            message = f'unknown key "{key}" {where}; allowed keys: {", ".join(known)}'
        pos, key_path = _where(root, (*path, key))
        issues.append(error(pos, message, key_path))
    return issues


def _suggest(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` most likely meant: same but for case, a prefix, or a close spelling."""
    opts = [o for o in options if isinstance(o, str)]
    folded = word.casefold()
    for option in opts:
        if option.casefold() == folded:
            return option
    by_fold = {o.casefold(): o for o in opts}
    close = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.6)
    if close:
        return by_fold[close[0]]
    prefixed = [o for o in opts if len(folded) >= 3 and o.casefold().startswith(folded)]
    return prefixed[0] if len(prefixed) == 1 else None


# --- messages ----------------------------------------------------------------------------

_EXPECTED = {
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list",
    "object": "a mapping of keys",
    "null": "null",
}
# What a value must look like, by its key, where the schema's pattern would say it badly.
_SHAPE = {
    "usercode": "1 to 64 of A-Z a-z 0-9 . _ @ -",
    "parent": "a usercode: 1 to 64 of A-Z a-z 0-9 . _ @ -",
    "expires": "a date YYYY-MM-DD, or null for never",
    "email": "an email address like name@example.com",
    "url": "a URL that starts with https:// or http://",
    "env": "an environment variable name: letters, digits and _, not starting with a digit",
}
_ANYOF_SHAPE = {
    "variables": 'text, {env: NAME, secure: true|false} or {value: "text", secure: false}',
}
# Names for the items of a list, by the list's key (top-level lists hold whole objects).
_ITEM_NOUN = {
    "users": "user",
    "restrictions": "restriction",
    "privileges": "privilege",
    "categories": "category name",
    "values": "value",
    "sources": "source glob",
    "protected": "usercode glob",
    "ignore": "usercode glob",
}
_YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})
_LONG_ENUM = 12


def _item_noun(path: Path) -> str | None:
    if len(path) < 2 or not isinstance(path[-1], int) or not isinstance(path[-2], str):
        return None
    key = path[-2]
    if key == "roles":
        return "role" if len(path) == 2 else "role name"
    return _ITEM_NOUN.get(key)


def _what(path: Path) -> str:
    """The thing at ``path`` as a message names it: ``enabled``, ``variable "x"``, ``a role``."""
    if not path:
        return "the file"
    last = path[-1]
    if isinstance(last, str):
        if len(path) >= 2 and path[-2] == "variables":
            return f'variable "{last}"'
        return last if _SIMPLE_KEY.match(last) else f'"{last}"'
    noun = _item_noun(path)
    if noun:
        return f"an {noun}" if noun[0] in "aeio" else f"a {noun}"  # "a user", "an entry"
    parent = path[-2] if len(path) >= 2 else None
    return f'an entry of "{parent}"' if isinstance(parent, str) else "an entry"


def _object_name(path: Path) -> str:
    """The mapping at ``path``: ``this user``, ``login``, ``variable "x"``, ``the file``."""
    noun = _item_noun(path)
    if noun:
        return f"this {noun}"
    return _what(path)


def _message(err: ValidationError, path: Path) -> str:
    kind = err.validator
    value = err.instance
    what = _what(path)
    shape = _SHAPE.get(path[-1]) if path and isinstance(path[-1], str) else None
    if kind == "type":
        expected = _as_list(err.validator_value)
        message = f"{what} must be {shape or _expected(expected)}, found {_found(value)}"
        if "boolean" in expected and _is_yaml11_word(value):
            message += " (YAML 1.2 reads yes/no/on/off as text: write true or false)"
        elif "string" in expected and _fits_as_text(value, err.schema):
            message += " (quote it to make it text)"
        return message
    if kind == "enum":
        return _enum_message(err, path, what)
    if kind in ("anyOf", "oneOf"):
        parent = path[-2] if len(path) >= 2 else ""
        shape = _ANYOF_SHAPE.get(str(parent)) or _branches(err.validator_value)
        return f"{what} must be {shape}; found {_found(value)}"
    if kind == "pattern":
        if shape:
            return f"{what} {_show(value)} is not valid: it must be {shape}"
        return f"{what} {_show(value)} does not match the pattern {err.validator_value}"
    if kind == "format":
        return f"{what} {_show(value)} is not a real date: write YYYY-MM-DD"
    if kind == "minItems":
        n = err.validator_value
        return f"{what} must list at least {'one entry' if n == 1 else f'{n} entries'}"
    if kind == "minLength":
        return f"{what} must not be empty"
    bounds = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "greater than",
        "exclusiveMaximum": "less than",
    }
    if kind in bounds:
        return f"{what} must be {bounds[str(kind)]} {err.validator_value}, found {_show(value)}"
    return err.message


def _enum_message(err: ValidationError, path: Path, what: str) -> str:
    options = list(_rule(err))
    hint = _suggest(value, options) if isinstance(value := err.instance, str) else None
    if len(options) > _LONG_ENUM:
        noun = _item_noun(path) or what
        message = f"unknown {noun} {_show(value)}"
        if hint:
            message += f'; did you mean "{hint}"?'
        return message + f" (`pisync schema` lists all {len(options)})"
    allowed = ", ".join(o if isinstance(o, str) else _show(o) for o in options)
    message = f"{what} must be one of {allowed}; found {_show(value)}"
    if hint:
        message += f'; did you mean "{hint}"?'
    return message


def _as_list(types: Any) -> list[Any]:
    return [types] if isinstance(types, str) else list(types)


def _expected(types: Any) -> str:
    return " or ".join(_EXPECTED.get(str(t), str(t)) for t in _as_list(types))


def _branches(branches: Any) -> str:
    shapes = []
    for branch in branches:
        if not isinstance(branch, Mapping):
            continue
        keys = list(branch.get("properties", {}))
        shapes.append("{" + ", ".join(keys) + "}" if keys else _expected(branch.get("type", [])))
    return " or ".join(shapes)


def _fits_as_text(value: Any, schema: Any) -> bool:
    """Whether a number or bool written in quotes would pass (so "quote it" is the fix)."""
    if not isinstance(value, int | float) or not isinstance(schema, Mapping):
        return False
    text = _show(value)
    if "enum" in schema and text not in schema["enum"]:
        return False
    pattern = schema.get("pattern")
    return pattern is None or bool(_end_anchored(pattern).search(text))


def _is_yaml11_word(value: Any) -> bool:
    return isinstance(value, str) and value.lower() in _YAML11_WORDS


def _show(value: Any) -> str:
    """A value as YAML-ish text for a message: strings quoted and shortened."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return '"' + text.replace("\n", "\\n") + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _found(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {_show(value)}"
    if isinstance(value, bool):
        return _show(value)
    if value is None:
        return "nothing (null)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    return "a list"


# --- positions ---------------------------------------------------------------------------


def _locate(root: Any, path: Path) -> tuple[SourcePos | None, int]:
    """The position of the key or item at ``path``, and how much of the path was walked."""
    node = root
    pos = root.pos if isinstance(root, PosDict | PosList) else None
    for depth, part in enumerate(path):
        if isinstance(node, PosDict) and isinstance(part, str) and part in node:
            pos = node.key_at(part)
        elif isinstance(node, PosList) and isinstance(part, int) and 0 <= part < len(node):
            pos = node.item_at(part)
        elif isinstance(node, dict | list):
            return pos, depth  # a plain container: no positions below this point
        else:
            return pos, depth
        node = node[part]
    return pos, len(path)


def _where(root: PosDict, path: Path) -> tuple[SourcePos | None, str]:
    return _locate(root, path)[0], format_path(path)


# --- cross-file rules --------------------------------------------------------------------


def _users(files: Iterable[ParsedFile]) -> Iterator[tuple[PosDict, Path]]:
    yield from _entries(files, "users")


def _roles(files: Iterable[ParsedFile]) -> Iterator[tuple[PosDict, Path]]:
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
        for later, path, value, first in _duplicates(_users(files), "usercode", str.upper)
    ]


def _duplicate_roles(files: Sequence[ParsedFile]) -> list[Issue]:
    issues = []
    for later, path, value, first in _duplicates(_roles(files), "name", str.casefold):
        message = f'duplicate role "{value}"; first declared at {first.key_at("name")}'
        if first["name"] != value:
            message += f' as "{first["name"]}" (role names are compared ignoring case)'
        issues.append(error(later.key_at("name"), message, format_path((*path, "name"))))
    return issues


def _duplicate_emails(files: Sequence[ParsedFile]) -> list[Issue]:
    issues = []
    for later, path, value, first in _duplicates(_users(files), "email", str.casefold):
        owner = first.get("usercode")
        by = f"{owner.upper()} " if isinstance(owner, str) else ""
        message = f'duplicate email "{value}"; also used by {by}at {first.key_at("email")}'
        issues.append(warning(later.key_at("email"), message, format_path((*path, "email"))))
    return issues


def _user_rules(user: PosDict, path: Path) -> list[Issue]:
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
