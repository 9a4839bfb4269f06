"""The array sections of a sync payload element: roles, categories, variables, restrictions.

Each parser accepts the input shapes listed in the README (bare names, ``name``/``description``
keys, ``values`` arrays), appends a human message to ``errors`` for each problem, and returns
the canonical tuple, in the order given. Duplicate roles, categories and restrictions are
dropped (first kept); two variables with one name are an error (their values may differ).
"""

from __future__ import annotations

from typing import Any

from pi_emulator.model import Restriction, Variable
from pi_emulator.store import Store
from pi_emulator.wire import (
    CATEGORY_REF_KEYS,
    COLUMN_KEYS,
    CONNECTION_KEYS,
    ROLE_REF_KEYS,
    JsonObj,
    describe,
    ref_name,
)


def _array(raw: object, section: str, errors: list[str]) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, list):
        return raw
    errors.append(f"{section} must be an array, got {describe(raw)}")
    return []


def roles(store: Store, raw: object, errors: list[str]) -> tuple[int, ...]:
    ids: dict[int, None] = {}
    for index, item in enumerate(_array(raw, "userRoles", errors)):
        name = ref_name(item, ROLE_REF_KEYS)
        if name is None or name.strip() == "":
            errors.append(
                f'userRoles[{index}] must be a role name or an object with "roleIdentifier", '
                f"got {describe(item)}"
            )
            continue
        role = store.role_by_name(name)
        if role is None:
            errors.append(f'unknown role "{name}" in userRoles')
        else:
            ids[role.id] = None
    return tuple(ids)


def categories(store: Store, raw: object, errors: list[str]) -> tuple[int, ...]:
    ids: dict[int, None] = {}
    for index, item in enumerate(_array(raw, "userCategories", errors)):
        name = ref_name(item, CATEGORY_REF_KEYS)
        if name is None or name.strip() == "":
            errors.append(
                f"userCategories[{index}] must be a category name or an object with "
                f'"categoryIdentifier", got {describe(item)}'
            )
            continue
        category = store.category_by_name(name)
        if category is None:
            errors.append(f'unknown category "{name}" in userCategories')
        else:
            ids[category.id] = None
    for category_id in ids:
        parent_id = store.categories[category_id].parent_id
        if parent_id is not None and parent_id not in ids:
            child = store.categories[category_id].description
            parent = store.categories[parent_id].description
            errors.append(
                f'category "{child}" is listed without its parent category "{parent}": '
                f'list "{parent}" in userCategories too'
            )
    return tuple(ids)


def variables(raw: object, errors: list[str]) -> tuple[Variable, ...]:
    out: dict[str, Variable] = {}
    for index, item in enumerate(_array(raw, "variables", errors)):
        where = f"variables[{index}]"
        if not isinstance(item, dict):
            errors.append(f'{where} must be an object with "name", "value" and "isSecure"')
            continue
        name, value, secure = item.get("name"), item.get("value"), item.get("isSecure", False)
        if not isinstance(name, str) or name == "":
            errors.append(f"{where}.name must be a non-empty string, got {describe(name)}")
        elif not isinstance(value, str):
            errors.append(f"{where}.value must be a string, got {describe(value)}")
        elif not isinstance(secure, bool):
            errors.append(f"{where}.isSecure must be true or false, got {describe(secure)}")
        elif name in out:
            errors.append(f'variable "{name}" is given more than once')
        else:
            out[name] = Variable(name=name, value=value, is_secure=secure)
    return tuple(out.values())


def restrictions(raw: object, errors: list[str]) -> tuple[Restriction, ...]:
    out: dict[Restriction, None] = {}
    for index, item in enumerate(_array(raw, "restrictions", errors)):
        where = f"restrictions[{index}]"
        if not isinstance(item, dict):
            errors.append(
                f'{where} must be an object with "dataConnectionIdentifier", '
                f'"columnIdentifier" and "value"'
            )
            continue
        connection = _first_string(item, CONNECTION_KEYS)
        column = _first_string(item, COLUMN_KEYS)
        values = _restriction_values(item, where, errors)
        if connection is None:
            errors.append(f"{where}.dataConnectionIdentifier must be a non-empty string")
        if column is None:
            errors.append(f"{where}.columnIdentifier must be a non-empty string")
        if connection is None or column is None:
            continue
        for value in values:
            out[Restriction(connection=connection, column=column, value=value)] = None
    return tuple(out)


def _first_string(item: JsonObj, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value != "":
            return value
    return None


def _restriction_values(item: JsonObj, where: str, errors: list[str]) -> list[str]:
    """``value`` (canonical, one per element) or ``values`` (an array, accepted on input)."""
    if "value" in item:
        value = item["value"]
        if isinstance(value, str):
            return [value]
        errors.append(f"{where}.value must be a string, got {describe(value)}")
        return []
    values = item.get("values")
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        return values
    errors.append(f'{where} needs "value" (a string) or "values" (a non-empty array of strings)')
    return []
