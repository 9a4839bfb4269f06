"""The wording of schema problems: what is wrong and what is allowed, in a person's words.

jsonschema's own messages say ``'x' is not of type 'boolean'``; these say ``enabled must be true
or false, found the text "yes" (YAML 1.2 reads yes/no/on/off as text: write true or false)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import ValidationError

from reconciler.core.desired.ecma import end_anchored
from reconciler.core.model.suggest import did_you_mean
from reconciler.core.model.text import quote_value
from reconciler.core.yamlfile.keypaths import SIMPLE_KEY, Path


def rule(err: ValidationError) -> Any:
    """The schema keyword's value the error is about (e.g. the ``enum`` list)."""
    return err.validator_value


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
    "review_by": "a date YYYY-MM-DD",
    "owner": "a usercode or an email address",
    "email": "an email address like name@example.com",
    "url": "a URL that starts with https:// or http://",
    "concurrency": "a whole number from 1 to 64, or auto",
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
    "types": "user type",
    "keys": "grant metadata key",
    "allowed": "domain",
}


# What an item of a list must look like, by the list's key.
_ITEM_SHAPE = {"allowed": "a domain like example.com"}


def _item_shape(path: Path) -> str | None:
    if len(path) >= 2 and isinstance(path[-1], int) and isinstance(path[-2], str):
        return _ITEM_SHAPE.get(path[-2])
    return None


_YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})


_LONG_ENUM = 12


def _item_noun(path: Path) -> str | None:
    if len(path) < 2 or not isinstance(path[-1], int) or not isinstance(path[-2], str):
        return None
    key = path[-2]
    if key == "roles":
        return "role" if len(path) == 2 else "role name"
    return _ITEM_NOUN.get(key)


def what_at(path: Path) -> str:
    """The thing at ``path`` as a message names it: ``enabled``, ``variable "x"``, ``a role``."""
    if not path:
        return "the file"
    last = path[-1]
    if isinstance(last, str):
        if len(path) >= 2 and path[-2] == "variables":
            return f"variable {quote_value(last)}"
        return last if SIMPLE_KEY.match(last) else quote_value(last)
    noun = _item_noun(path)
    if noun:
        return f"an {noun}" if noun[0] in "aeio" else f"a {noun}"  # "a user", "an entry"
    parent = path[-2] if len(path) >= 2 else None
    return f'an entry of "{parent}"' if isinstance(parent, str) else "an entry"


def object_name(path: Path) -> str:
    """The mapping at ``path``: ``this user``, ``login``, ``variable "x"``, ``the file``."""
    noun = _item_noun(path)
    if noun:
        return f"this {noun}"
    return what_at(path)


def schema_message(err: ValidationError, path: Path) -> str:
    kind = err.validator
    value = err.instance
    what = what_at(path)
    shape = _SHAPE.get(path[-1]) if path and isinstance(path[-1], str) else None
    if kind == "type":
        expected = _as_list(rule(err))
        message = f"{what} must be {shape or _expected(expected)}, found {_found(value)}"
        if "boolean" in expected and _is_yaml11_word(value):
            message += " (YAML 1.2 reads yes/no/on/off as text: write true or false)"
        elif "string" in expected and _fits_as_text(value, err.schema):
            message += " (quote it to make it text)"
        return message
    if kind == "enum":
        return _enum_message(err, path, what)
    if kind in ("anyOf", "oneOf") and (needed := _required_branches(rule(err))):
        return f"{what} needs at least one of {', '.join(needed)}"
    if kind in ("anyOf", "oneOf"):
        parent = path[-2] if len(path) >= 2 else ""
        shape = shape or _ANYOF_SHAPE.get(str(parent)) or _branches(rule(err))
        return f"{what} must be {shape}; found {_found(value)}"
    if kind == "pattern":
        shape = shape or _item_shape(path)
        if shape:
            return f"{what} {show_value(value)} is not valid: it must be {shape}"
        return f"{what} {show_value(value)} does not match the pattern {rule(err)}"
    if kind == "format":
        return f"{what} {show_value(value)} is not a real date: write YYYY-MM-DD"
    if kind == "minItems":
        n = rule(err)
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
        return f"{what} must be {bounds[str(kind)]} {rule(err)}, found {show_value(value)}"
    return err.message


def _enum_message(err: ValidationError, path: Path, what: str) -> str:
    options = list(rule(err))
    hint = did_you_mean(value, options) if isinstance(value := err.instance, str) else None
    if len(options) > _LONG_ENUM:
        noun = _item_noun(path) or what
        message = f"unknown {noun} {show_value(value)}"
        if hint:
            message += f'; did you mean "{hint}"?'
        return message + f" (`pisync schema` lists all {len(options)})"
    allowed = ", ".join(o if isinstance(o, str) else show_value(o) for o in options)
    message = f"{what} must be one of {allowed}; found {show_value(value)}"
    if hint:
        message += f'; did you mean "{hint}"?'
    return message


def _as_list(types: Any) -> list[Any]:
    return [types] if isinstance(types, str) else list(types)


def _expected(types: Any) -> str:
    return " or ".join(_EXPECTED.get(str(t), str(t)) for t in _as_list(types))


def _required_branches(branches: Any) -> list[str]:
    """The keys of an ``anyOf`` whose every branch only requires one key (else ``[]``)."""
    keys = []
    for branch in branches if isinstance(branches, list) else ():
        required = branch.get("required") if isinstance(branch, Mapping) else None
        if not isinstance(required, list) or len(branch) != 1 or len(required) != 1:
            return []
        keys.append(str(required[0]))
    return keys


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
    text = show_value(value)
    if "enum" in schema and text not in schema["enum"]:
        return False
    pattern = schema.get("pattern")
    return pattern is None or bool(end_anchored(pattern).search(text))


def _is_yaml11_word(value: Any) -> bool:
    return isinstance(value, str) and value.lower() in _YAML11_WORDS


def show_value(value: Any) -> str:
    """A value as YAML-ish text for a message: strings quoted and shortened."""
    if isinstance(value, str):
        return quote_value(value)
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
        return f"the text {show_value(value)}"
    if isinstance(value, bool):
        return show_value(value)
    if value is None:
        return "nothing (null)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    return "a list"
