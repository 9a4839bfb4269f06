"""Seed documents (``--seed``) and state documents (``--state``, ``GET /_emulator/state``).

A *seed* describes an organisation in API terms and is applied through the same code the
API uses, so a bad seed fails exactly like a bad request would::

    {"categories": [{"name": "Finance", "parent": null}, {"name": "Budgets", "parent": "Finance"}],
     "roles": [{"name": "Sales Viewer", "description": "...", "categories": ["Sales"],
                "privileges": ["exportToCsv"]}],
     "users": [<sync payload elements; "password" or "clientPassword" inside "user">]}

A *state* is the emulator's own snapshot: ids are kept, user fields equal to their default
are left out to keep 100,000-user files small, and roles and categories are named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pi_emulator import catalog
from pi_emulator.errors import ApiError
from pi_emulator.model import Category, Restriction, Role, UserRecord, Variable
from pi_emulator.render import category_object, restriction, variable
from pi_emulator.store import Store
from pi_emulator.sync import plan_sync
from pi_emulator.wire import STORED_FIELDS, SUPER_ADMIN_ID, USER_DEFAULTS, JsonObj

STATE_FORMAT = "pi-emulator-state/1"
SEED_KEYS = frozenset({"categories", "roles", "users"})
_ALWAYS_STORED = ("usercode", "forenames", "surname")


class SeedError(Exception):
    """The seed document cannot be applied; the message says where and why."""


class StateError(Exception):
    """The state document cannot be loaded."""


# -- seeds --------------------------------------------------------------------------------------


def build_store(seed: object) -> Store:
    """A store holding the super admin plus everything the seed declares."""
    store = Store.with_super_admin()
    if seed is None:
        return store
    if not isinstance(seed, dict):
        raise SeedError("the seed must be a JSON object with categories, roles and users")
    unknown = sorted(k for k in seed if k not in SEED_KEYS and not k.startswith(("$", "_")))
    if unknown:
        raise SeedError(f"unknown seed keys {unknown}: expected categories, roles, users")
    _seed_categories(store, _list(seed, "categories"))
    for index, role in enumerate(_list(seed, "roles")):
        try:
            catalog.save_role(store, role, None)
        except ApiError as exc:
            raise SeedError(f"roles[{index}]: {exc.message}") from None
    users = _list(seed, "users")
    if users:
        admin = store.users[SUPER_ADMIN_ID]
        try:
            store.put_users(plan_sync(store, admin, users))
        except ApiError as exc:
            raise SeedError(f"users: {exc.message}") from None
    return store


def _list(seed: Mapping[str, Any], key: str) -> list[Any]:
    value = seed.get(key, [])
    if not isinstance(value, list):
        raise SeedError(f"{key} must be an array")
    return value


def _seed_categories(store: Store, items: list[Any]) -> None:
    """Categories in any order: each is added once its parent exists."""
    waiting = list(enumerate(items))
    while waiting:
        still: list[tuple[int, Any]] = []
        for index, item in waiting:
            if not isinstance(item, dict):
                raise SeedError(f'categories[{index}] must be an object with "name"')
            parent = item.get("parent")
            parent_record = None if parent is None else store.category_by_name(str(parent))
            if parent is not None and parent_record is None:
                still.append((index, item))
                continue
            body = {k: v for k, v in item.items() if k != "parent"}
            body["parentId"] = None if parent_record is None else parent_record.id
            try:
                catalog.save_category(store, body, None)
            except ApiError as exc:
                raise SeedError(f"categories[{index}]: {exc.message}") from None
        if len(still) == len(waiting):
            index, item = still[0]
            raise SeedError(f'categories[{index}]: unknown parent category "{item["parent"]}"')
        waiting = still


# -- states -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Shallow copies of the store's collections: safe to encode in another thread."""

    users: list[UserRecord]
    roles: dict[int, Role]
    categories: dict[int, Category]
    next_ids: dict[str, int]


def snapshot(store: Store) -> Snapshot:
    return Snapshot(
        users=list(store.users.values()),
        roles=dict(store.roles),
        categories=dict(store.categories),
        next_ids={
            "users": store.next_user_id,
            "roles": store.next_role_id,
            "categories": store.next_category_id,
        },
    )


def state_document(snap: Snapshot) -> JsonObj:
    """The JSON document of a snapshot (the ``--state`` file format)."""
    cat_name = {c.id: c.description for c in snap.categories.values()}
    return {
        "format": STATE_FORMAT,
        "nextIds": snap.next_ids,
        "categories": [category_object(c) for c in snap.categories.values()],
        "roles": [
            {
                "id": r.id,
                "name": r.name,
                "description": r.description,
                "categories": [cat_name[c] for c in r.category_ids],
                "privileges": list(r.privileges),
            }
            for r in snap.roles.values()
        ],
        "users": [_user_entry(u, snap.roles, cat_name) for u in snap.users],
    }


def _user_entry(
    user: UserRecord, roles: Mapping[int, Role], cat_name: Mapping[int, str]
) -> JsonObj:
    fields = user.fields
    return {
        "id": user.id,
        "parentId": user.parent_id,
        "password": user.password,
        "user": {k: v for k, v in fields.items() if k in _ALWAYS_STORED or USER_DEFAULTS[k] != v},
        "userRoles": [roles[r].name for r in user.role_ids],
        "userCategories": [cat_name[c] for c in user.category_ids],
        "variables": [variable(v) for v in user.variables],
        "restrictions": [restriction(r) for r in user.restrictions],
    }


def load_state(doc: object) -> Store:
    """Rebuild a store from a state document; StateError if it is not one."""
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise StateError(f'not a pi-emulator state document (expected "format": "{STATE_FORMAT}")')
    try:
        return _load(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"corrupt pi-emulator state document: {exc!r}") from None


def _load(doc: JsonObj) -> Store:
    store = Store()
    for c in doc["categories"]:
        store.put_category(
            Category(
                id=int(c["id"]),
                description=str(c["description"]),
                parent_id=c["parentId"],
                label=c.get("label"),
                help_text=c.get("helpText"),
                objects_position=str(c.get("categoryObjectsPosition", "TOP")),
                cascade_filters=bool(c.get("cascadeFilters", False)),
            )
        )
    cat_id = {c.description: c.id for c in store.categories.values()}
    for r in doc["roles"]:
        store.put_role(
            Role(
                id=int(r["id"]),
                name=str(r["name"]),
                description=str(r.get("description", "")),
                category_ids=tuple(cat_id[n] for n in r.get("categories", [])),
                privileges=tuple(r.get("privileges", [])),
            )
        )
    role_id = {r.name: r.id for r in store.roles.values()}
    users = sorted(doc["users"], key=lambda u: int(u["id"]))
    store.put_users([_user_record(u, role_id, cat_id) for u in users])
    if SUPER_ADMIN_ID not in store.users:
        raise ValueError("the state has no super admin (user id 1)")
    next_ids = doc.get("nextIds", {})
    store.next_user_id = max(store.next_user_id, int(next_ids.get("users", 0)))
    store.next_role_id = max(store.next_role_id, int(next_ids.get("roles", 0)))
    store.next_category_id = max(store.next_category_id, int(next_ids.get("categories", 0)))
    return store


def _user_record(
    entry: JsonObj, role_id: Mapping[str, int], cat_id: Mapping[str, int]
) -> UserRecord:
    given = entry["user"]
    unknown = set(given) - set(STORED_FIELDS)
    if unknown:
        raise ValueError(f"user {entry['id']}: unknown fields {sorted(unknown)}")
    fields = {name: given[name] if name in given else USER_DEFAULTS[name] for name in STORED_FIELDS}
    usercode = str(fields["usercode"]).upper()
    fields["usercode"] = usercode
    return UserRecord(
        id=int(entry["id"]),
        usercode=usercode,
        fields=fields,
        parent_id=entry.get("parentId"),
        password=entry.get("password"),
        role_ids=tuple(role_id[n] for n in entry.get("userRoles", [])),
        category_ids=tuple(cat_id[n] for n in entry.get("userCategories", [])),
        variables=tuple(
            Variable(name=v["name"], value=v["value"], is_secure=bool(v.get("isSecure", False)))
            for v in entry.get("variables", [])
        ),
        restrictions=tuple(
            Restriction(
                connection=r["dataConnectionIdentifier"],
                column=r["columnIdentifier"],
                value=r["value"],
            )
            for r in entry.get("restrictions", [])
        ),
    )
