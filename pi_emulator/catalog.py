"""Roles and categories: validate a request body, then create, update or delete. No HTTP.

Both endpoints are [G] for roles (reference §2.5, U13) and partly [G] for categories (§2.4).
POST needs the identifying field; PUT changes only the fields it is given (S9 sends partial
category updates). Problems are collected and reported together as one 400; a name that is
already taken is a 409.
"""

from __future__ import annotations

from typing import Any

from pi_emulator.errors import bad_request, conflict
from pi_emulator.model import Category, Role
from pi_emulator.store import Store
from pi_emulator.wire import CATEGORY_REF_KEYS, ORG_ID, ORG_NAME, PRIVILEGES, describe, ref_name

POSITIONS = ("TOP", "RIGHT")
#: The values a new category starts from.
_NEW_CATEGORY = Category(
    id=0,
    description="",
    parent_id=None,
    label=None,
    help_text=None,
    objects_position="TOP",
    cascade_filters=False,
)
_PRIVILEGE_SET = frozenset(PRIVILEGES)


def _require_object(body: object, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object describing {what}")
    return body


def _name(body: dict[str, Any], key: str, current: str | None, errors: list[str]) -> str:
    if key not in body and current is not None:
        return current
    value = body.get(key)
    if isinstance(value, str) and value.strip() != "":
        return value
    errors.append(f"{key} is required" if value is None else f"{key} must be a non-empty string")
    return ""


def _optional_text(body: dict[str, Any], key: str, current: str | None, errors: list[str]) -> Any:
    if key not in body:
        return current
    value = body[key]
    if value is None or isinstance(value, str):
        return value
    errors.append(f"{key} must be a string or null, got {describe(value)}")
    return current


def _check_org(body: dict[str, Any], errors: list[str]) -> None:
    if "orgId" in body and body["orgId"] != ORG_ID:
        errors.append(f"orgId must be {ORG_ID} (the emulator has only the {ORG_NAME} organisation)")


def _category_refs(store: Store, raw: object, errors: list[str]) -> tuple[int, ...]:
    if not isinstance(raw, list):
        errors.append(f"categories must be an array of category names, got {describe(raw)}")
        return ()
    ids: dict[int, None] = {}
    for index, item in enumerate(raw):
        name = ref_name(item, CATEGORY_REF_KEYS)
        if name is None:
            errors.append(
                f"categories[{index}] must be a category name "
                'or an object with "categoryIdentifier"'
            )
            continue
        category = store.category_by_name(name)
        if category is None:
            errors.append(f'unknown category "{name}"')
        else:
            ids[category.id] = None
    return tuple(ids)


def _privileges(raw: object, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list):
        errors.append(f"privileges must be an array of privilege names, got {describe(raw)}")
        return ()
    names: dict[str, None] = {}
    for item in raw:
        if isinstance(item, str) and item in _PRIVILEGE_SET:
            names[item] = None
        else:
            errors.append(
                f"unknown privilege {describe(item)}; "
                f"a privilege is one of: {', '.join(PRIVILEGES)}"
            )
    return tuple(names)


def _raise(errors: list[str]) -> None:
    if errors:
        raise bad_request("; ".join(errors))


# -- roles --------------------------------------------------------------------------------------


def save_role(store: Store, body: object, current: Role | None) -> Role:
    """Create (``current`` None) or update a role from a request body; returns the new record."""
    data = _require_object(body, "a role")
    errors: list[str] = []
    name = _name(data, "name", None if current is None else current.name, errors)
    old_description = "" if current is None else current.description
    description = _optional_text(data, "description", old_description, errors)
    _check_org(data, errors)
    category_ids = current.category_ids if current is not None else ()
    if data.get("categories") is not None:
        category_ids = _category_refs(store, data["categories"], errors)
    privileges = current.privileges if current is not None else ()
    if data.get("privileges") is not None:
        privileges = _privileges(data["privileges"], errors)
    _raise(errors)
    other = store.role_by_name(name)
    if other is not None and (current is None or other.id != current.id):
        raise conflict(f'a role named "{other.name}" already exists (id {other.id})')
    role = Role(
        id=store.next_role_id if current is None else current.id,
        name=name,
        description=description or "",
        category_ids=category_ids,
        privileges=privileges,
    )
    store.put_role(role)
    return role


def delete_role(store: Store, role_id: int) -> None:
    role = store.require_role(role_id)
    holders = store.users_with_role(role_id)
    if holders:
        raise bad_request(
            f'role "{role.name}" is still assigned to {_count(holders, "user")} '
            f"({_sample(u.usercode for u in holders)}); remove it from them first"
        )
    store.delete_role(role_id)


# -- categories ---------------------------------------------------------------------------------


def save_category(store: Store, body: object, current: Category | None) -> Category:
    """Create (``current`` None) or update a category; only given fields change on update."""
    data = _require_object(body, "a category")
    if current is None and "description" not in data and "name" in data:
        data = {**data, "description": data["name"]}
    errors: list[str] = []
    was = current if current is not None else _NEW_CATEGORY
    description = _name(data, "description", None if current is None else was.description, errors)
    _check_org(data, errors)
    parent_id = _category_parent(store, data, current, errors)
    label = _optional_text(data, "label", was.label, errors)
    help_text = _optional_text(data, "helpText", was.help_text, errors)
    position = data.get("categoryObjectsPosition", was.objects_position)
    if position not in POSITIONS:
        errors.append(f'categoryObjectsPosition must be "TOP" or "RIGHT", got {describe(position)}')
    cascade = data.get("cascadeFilters", was.cascade_filters)
    if not isinstance(cascade, bool):
        errors.append(f"cascadeFilters must be true or false, got {describe(cascade)}")
    _raise(errors)
    other = store.category_by_name(description)
    if other is not None and (current is None or other.id != current.id):
        raise conflict(f'a category named "{other.description}" already exists (id {other.id})')
    category = Category(
        id=store.next_category_id if current is None else current.id,
        description=description,
        parent_id=parent_id,
        label=label,
        help_text=help_text,
        objects_position=position,
        cascade_filters=cascade,
    )
    store.put_category(category)
    return category


def _category_parent(
    store: Store, data: dict[str, Any], current: Category | None, errors: list[str]
) -> int | None:
    if "parentId" not in data:
        return None if current is None else current.parent_id
    parent_id = data["parentId"]
    if parent_id is None:
        return None
    if not isinstance(parent_id, int) or isinstance(parent_id, bool):
        errors.append(f"parentId must be a category id or null, got {describe(parent_id)}")
        return None
    if parent_id not in store.categories:
        errors.append(f"parentId {parent_id}: no category has that id")
        return None
    if current is not None and (
        parent_id == current.id or current.id in store.category_ancestors(parent_id)
    ):
        errors.append(f"parentId {parent_id} would make a cycle in the category tree")
        return None
    return parent_id


def delete_category(store: Store, category_id: int) -> None:
    """Refuse while anything still refers to the category (children, roles, users) [G]."""
    category = store.require_category(category_id)
    name = category.description
    children = store.category_children(category_id)
    if children:
        raise bad_request(
            f'category "{name}" has child categories '
            f"({_sample(c.description for c in children)}); delete or move them first"
        )
    roles = [r for r in store.roles.values() if category_id in r.category_ids]
    if roles:
        raise bad_request(
            f'category "{name}" is granted by {_count(roles, "role")} '
            f"({_sample(r.name for r in roles)}); remove it from them first"
        )
    users = store.users_with_category(category_id)
    if users:
        raise bad_request(
            f'category "{name}" is granted to {_count(users, "user")} '
            f"({_sample(u.usercode for u in users)}); remove it from them first"
        )
    store.delete_category(category_id)


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")


def _sample(names: Any, limit: int = 5) -> str:
    listed = list(names)
    shown = ", ".join(listed[:limit])
    return shown + (", …" if len(listed) > limit else "")
