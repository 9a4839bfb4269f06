"""In-memory state: users, roles and categories with the indexes the API needs. No HTTP.

Users are kept three ways so that every request is cheap at 100,000 users:

* ``users``: id -> record. Ids only grow, so insertion order is id order.
* ``_ids``: the same ids in a sorted list, so a page is one slice (O(page size)).
* ``_by_code``: upper-case usercode -> id, for sync and syncPayload (O(1)).

Records are immutable; ``put_users`` replaces them. ``version`` counts mutations so the
persister knows when there is something to write.
"""

from __future__ import annotations

import bisect
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from pi_emulator.errors import bad_request, not_found
from pi_emulator.licence import Usage
from pi_emulator.model import Category, Role, UserRecord
from pi_emulator.wire import (
    SUPER_ADMIN_CODE,
    SUPER_ADMIN_DEFAULTS,
    SUPER_ADMIN_ID,
    SUPER_ADMIN_PASSWORD,
)


class Store:
    """The whole emulated server state."""

    def __init__(self) -> None:
        self.users: dict[int, UserRecord] = {}
        self._ids: list[int] = []
        self._by_code: dict[str, int] = {}
        self._children: dict[int, set[int]] = {}
        self.roles: dict[int, Role] = {}
        self._role_by_name: dict[str, int] = {}
        self.categories: dict[int, Category] = {}
        self._category_by_name: dict[str, int] = {}
        #: enabled users per licence bucket (licence.py)
        self.licence_usage = Usage()
        self.next_user_id = SUPER_ADMIN_ID
        self.next_role_id = 1
        self.next_category_id = 1
        self.version = 0

    @classmethod
    def with_super_admin(cls) -> Store:
        """An empty server holding only the built-in super admin ``ADMIN`` / ``dashboard``."""
        store = cls()
        store.put_users([super_admin_record()])
        return store

    # -- users -----------------------------------------------------------------------------

    @property
    def user_count(self) -> int:
        return len(self._ids)

    def user(self, user_id: int) -> UserRecord | None:
        return self.users.get(user_id)

    def user_by_code(self, usercode: str) -> UserRecord | None:
        user_id = self._by_code.get(usercode.upper())
        return None if user_id is None else self.users[user_id]

    def require_user(self, user_id: int) -> UserRecord:
        record = self.users.get(user_id)
        if record is None:
            raise not_found(f"no user with id {user_id}")
        return record

    def iter_users(self) -> Iterator[UserRecord]:
        """All users in id order."""
        return iter(self.users.values())

    def user_page(self, offset: int, size: int) -> list[UserRecord]:
        users = self.users
        return [users[i] for i in self._ids[offset : offset + size]]

    def parent_code(self, record: UserRecord) -> str | None:
        if record.parent_id is None:
            return None
        parent = self.users.get(record.parent_id)
        return None if parent is None else parent.usercode

    def put_users(self, records: Sequence[UserRecord]) -> None:
        """Create or replace users; a new id must be above every existing one.

        An unchanged record is skipped, so a no-op sync leaves ``version`` alone.
        """
        changed = False
        for record in records:
            old = self.users.get(record.id)
            if old == record:
                continue
            changed = True
            if old is None:
                if self._ids and record.id <= self._ids[-1]:
                    raise ValueError(f"user id {record.id} is not above {self._ids[-1]}")
                self._ids.append(record.id)
                self._by_code[record.usercode] = record.id
            elif old.parent_id != record.parent_id:
                self._unlink_child(old)
            moved = old is None or old.parent_id != record.parent_id
            if moved and record.parent_id is not None:
                self._children.setdefault(record.parent_id, set()).add(record.id)
            self.users[record.id] = record
            self.licence_usage.replace(old, record)
            self.next_user_id = max(self.next_user_id, record.id + 1)
        if changed:
            self.version += 1

    def delete_user(self, user_id: int) -> UserRecord:
        """Remove a user; its children move up to its own parent [G]."""
        record = self.require_user(user_id)
        if user_id == SUPER_ADMIN_ID:
            raise bad_request(f"the super admin ({SUPER_ADMIN_CODE}) cannot be deleted")
        self._unlink_child(record)
        self.licence_usage.replace(record, None)
        del self.users[user_id]
        del self._by_code[record.usercode]
        del self._ids[bisect.bisect_left(self._ids, user_id)]
        orphans = sorted(self._children.pop(user_id, set()))
        adopted = [replace(self.users[c], parent_id=record.parent_id) for c in orphans]
        self.put_users(adopted)
        return record

    def _unlink_child(self, record: UserRecord) -> None:
        if record.parent_id is not None:
            self._children.get(record.parent_id, set()).discard(record.id)

    def users_with_role(self, role_id: int) -> list[UserRecord]:
        return [u for u in self.users.values() if role_id in u.role_ids]

    def users_with_category(self, category_id: int) -> list[UserRecord]:
        return [u for u in self.users.values() if category_id in u.category_ids]

    def check_password(self, record: UserRecord, password: str) -> bool:
        if record.password is None:
            return False
        return hmac.compare_digest(record.password.encode(), password.encode())

    def has_privilege(self, record: UserRecord, privilege: str) -> bool:
        """The super admin has everything; others through their own flag or any of their roles."""
        if record.id == SUPER_ADMIN_ID or record.fields.get(privilege) is True:
            return True
        return any(privilege in self.roles[r].privileges for r in record.role_ids)

    # -- roles -----------------------------------------------------------------------------

    def role_by_name(self, name: str) -> Role | None:
        role_id = self._role_by_name.get(name.casefold())
        return None if role_id is None else self.roles[role_id]

    def require_role(self, role_id: int) -> Role:
        role = self.roles.get(role_id)
        if role is None:
            raise not_found(f"no role with id {role_id}")
        return role

    def put_role(self, role: Role) -> None:
        old = self.roles.get(role.id)
        if old is not None:
            del self._role_by_name[old.name.casefold()]
        self.roles[role.id] = role
        self._role_by_name[role.name.casefold()] = role.id
        self.next_role_id = max(self.next_role_id, role.id + 1)
        self.version += 1

    def delete_role(self, role_id: int) -> None:
        role = self.roles.pop(role_id)
        del self._role_by_name[role.name.casefold()]
        self.version += 1

    # -- categories ------------------------------------------------------------------------

    def category_by_name(self, name: str) -> Category | None:
        category_id = self._category_by_name.get(name.casefold())
        return None if category_id is None else self.categories[category_id]

    def require_category(self, category_id: int) -> Category:
        category = self.categories.get(category_id)
        if category is None:
            raise not_found(f"no category with id {category_id}")
        return category

    def category_children(self, category_id: int) -> list[Category]:
        return [c for c in self.categories.values() if c.parent_id == category_id]

    def category_ancestors(self, category_id: int) -> Iterable[int]:
        """Ids from the category's parent up to its top-level ancestor."""
        parent = self.categories[category_id].parent_id
        seen: set[int] = set()
        while parent is not None and parent not in seen:
            seen.add(parent)
            yield parent
            parent = self.categories[parent].parent_id

    def put_category(self, category: Category) -> None:
        old = self.categories.get(category.id)
        if old is not None:
            del self._category_by_name[old.description.casefold()]
        self.categories[category.id] = category
        self._category_by_name[category.description.casefold()] = category.id
        self.next_category_id = max(self.next_category_id, category.id + 1)
        self.version += 1

    def delete_category(self, category_id: int) -> None:
        category = self.categories.pop(category_id)
        del self._category_by_name[category.description.casefold()]
        self.version += 1


def super_admin_record(password: str = SUPER_ADMIN_PASSWORD) -> UserRecord:
    """The built-in super admin: id 1, ``ADMIN``, every privilege, password login on."""
    fields = {
        "usercode": SUPER_ADMIN_CODE,
        "forenames": "Super",
        "surname": "Admin",
        **SUPER_ADMIN_DEFAULTS,
    }
    return UserRecord(
        id=SUPER_ADMIN_ID,
        usercode=SUPER_ADMIN_CODE,
        fields=fields,
        parent_id=None,
        password=password,
        role_ids=(),
        category_ids=(),
        variables=(),
        restrictions=(),
    )
