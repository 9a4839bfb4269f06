"""Checking documents against a JSON Schema: ``jsonschema_rs`` first, jsonschema for messages.

The compiled ``jsonschema_rs`` validator checks each document (about 100x faster than pure Python);
only a document it rejects is checked again, user by user and role by role, and only the users and
roles it rejects go through jsonschema's ``Draft202012Validator.iter_errors``, whose errors become
Issues worded by :mod:`reconciler.core.desired.schema_messages`, each at the line and column of the
key or item it is about. jsonschema's ``pattern`` is made to match the way ``jsonschema_rs`` (and
JSON Schema's ECMA-262 regexes) read a final ``$`` (end of text, not "before a final newline"), so
the two agree; should they ever disagree, ``jsonschema_rs``'s own errors are reported rather than
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from reconciler.core.desired.ecma import end_anchored
from reconciler.core.desired.schema_messages import object_name, rule, schema_message
from reconciler.core.model.issues import Issue, error
from reconciler.core.model.suggest import did_you_mean
from reconciler.core.model.text import quote_value
from reconciler.core.yamlfile.keypaths import Path, format_path, locate, where
from reconciler.core.yamlfile.positions import PosDict


def _pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not end_anchored(pattern).search(instance):
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
        self._items: dict[str, tuple[Any, Validator]] = {}
        properties = dict(schema.get("properties") or {})
        for key, sub in list(properties.items()):
            items = sub.get("items") if isinstance(sub, Mapping) else None
            if sub.get("type") == "array" and isinstance(items, Mapping):
                item_schema = {
                    "$schema": schema.get("$schema"),
                    "$defs": schema.get("$defs", {}),
                    **items,
                }
                self._items[key] = (_fast_validator(item_schema), _slow_validator(item_schema))
                # the document's own check sees the list (its type, its length), not its items
                properties[key] = {k: v for k, v in sub.items() if k != "items"}
        self._slow = _slow_validator({**schema, "properties": properties})

    def check(self, data: PosDict) -> list[Issue]:
        if _fast_ok(self._fast, data):
            return []
        found: list[tuple[ValidationError, Path]] = []
        # the document without its items' schemas, then each item that fails the fast check
        found += [(e, ()) for e in self._slow.iter_errors(data)]
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
                locate(data, tuple(e.instance_path))[0],
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
            pos, key_path = where(root, path)
            issues.append(error(pos, schema_message(leaf, path), key_path))
    for path, keys in missing.items():
        names = sorted(set(keys))
        quoted = " and ".join(f'"{k}"' for k in names)
        noun = "key" if len(names) == 1 else "keys"
        pos, key_path = where(root, path)
        message = f"{object_name(path)} is missing the required {noun} {quoted}"
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
    branches = [b if isinstance(b, Mapping) else {} for b in rule(err)]
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


def _missing_keys(err: ValidationError) -> list[str]:
    present = err.instance if isinstance(err.instance, dict) else {}
    return [k for k in rule(err) if k not in present]


def _unknown_keys(err: ValidationError, path: Path, root: PosDict) -> list[Issue]:
    known = list((err.schema.get("properties") or {}) if isinstance(err.schema, Mapping) else {})
    patterns = err.schema.get("patternProperties") or {} if isinstance(err.schema, Mapping) else {}
    instance = err.instance if isinstance(err.instance, dict) else {}
    issues = []
    place = "at the top level" if not path else f"in {object_name(path)}"
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        hint = did_you_mean(key, known)
        if hint:
            message = f'unknown key {quote_value(key)} {place}; did you mean "{hint}"?'
        else:
            message = f"unknown key {quote_value(key)} {place}; allowed keys: {', '.join(known)}"
        pos, key_path = where(root, (*path, key))
        issues.append(error(pos, message, key_path))
    return issues


def document_problems(schema: Mapping[str, Any], document: Any, *, limit: int = 20) -> list[str]:
    """``key.path: what is wrong`` for each way ``document`` (plain JSON) breaks ``schema``,
    at most ``limit``: for files pisync wrote itself (a saved plan), where a file line is not
    needed but the place inside the document is."""
    fast = _fast_validator(schema)
    if fast is not None and _fast_ok(fast, document):
        return []
    errors = sorted(
        _slow_validator(schema).iter_errors(document), key=lambda e: list(map(str, e.path))
    )
    return [
        f"{format_path(tuple(e.absolute_path)) or 'the document'}: {e.message}"
        for e in errors[:limit]
    ]
