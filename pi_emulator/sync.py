"""``POST /users/sync``: validate a payload array and plan the resulting user records.

``plan_sync`` never changes the store. It checks the whole request (structure, then
permission, then every field of every element) and either raises ``ApiError`` with every
problem found or returns the new records; the caller commits them with ``Store.put_users``.
That is what makes a request all-or-nothing.

Semantics (reference §3.1): create-or-update by upper-case usercode, non-additive: an omitted
``user`` field takes its default, an omitted or empty array means none. Exceptions [G]: an
omitted ``forenames``, ``surname``, ``parentIdentifier`` or password keeps its current value on
update (they have no meaningful default).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pi_emulator import sections
from pi_emulator.errors import bad_request, forbidden
from pi_emulator.model import UserRecord
from pi_emulator.store import Store
from pi_emulator.wire import (
    DATE_FIELDS,
    ORG_NAME,
    STORED_FIELDS,
    STRING_FIELDS,
    SUPER_ADMIN_CODE,
    SUPER_ADMIN_DEFAULTS,
    SUPER_ADMIN_ID,
    USER_DEFAULTS,
    USER_TYPES,
    JsonObj,
    describe,
)

USERCODE_RE = re.compile(r"[A-Za-z0-9._@-]{1,64}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KEPT_ON_UPDATE = frozenset({"forenames", "surname"})
_ORG_FIELDS = frozenset({"orgIdentifier", "ownerOrgIdentifier"})
_TYPES_TEXT = ", ".join(f"{k} {v}" for k, v in USER_TYPES.items())
#: Every stored field with its default, in STORED_FIELDS order (names have none: None).
_TEMPLATE: Final = {name: USER_DEFAULTS.get(name) for name in STORED_FIELDS}
_SUPER_TEMPLATE: Final = {name: SUPER_ADMIN_DEFAULTS.get(name) for name in STORED_FIELDS}
_FIELD_INDEX: Final = {name: index for index, name in enumerate(STORED_FIELDS)}
#: The ``user`` keys sync stores; everything else there is read-only, a password or unknown.
_WRITABLE: Final = frozenset(STORED_FIELDS) - {"usercode"}


@dataclass(slots=True)
class _Plan:
    """What one request has planned so far: later elements see earlier ones."""

    store: Store
    actor: UserRecord
    next_id: int
    by_code: dict[str, UserRecord] = field(default_factory=dict)
    by_id: dict[int, UserRecord] = field(default_factory=dict)

    def lookup(self, usercode: str) -> UserRecord | None:
        code = usercode.upper()
        return self.by_code.get(code) or self.store.user_by_code(code)

    def parent_of(self, user_id: int) -> int | None:
        record = self.by_id.get(user_id) or self.store.user(user_id)
        return None if record is None else record.parent_id


def plan_sync(store: Store, actor: UserRecord, body: object) -> list[UserRecord]:
    """Validate a whole sync request; return the records to commit, in request order."""
    codes = _usercodes(body)
    _authorize(store, actor, codes)
    assert isinstance(body, list)
    plan = _Plan(store=store, actor=actor, next_id=store.next_user_id)
    records: list[UserRecord] = []
    problems: list[str] = []
    for index, (element, code) in enumerate(zip(body, codes, strict=True)):
        record, errors = _plan_element(plan, element, code)
        problems += [f"payload[{index}] ({code}): {e}" for e in errors]
        if record is not None:
            records.append(record)
    if problems:
        raise bad_request("; ".join(problems))
    return records


def _usercodes(body: object) -> list[str]:
    """Check the array's structure and return each element's upper-case usercode."""
    if not isinstance(body, list):
        raise bad_request(
            f"the request body must be a JSON array of sync payload elements, got {describe(body)}"
        )
    if not body:
        raise bad_request("the request body is an empty array: send at least one payload element")
    problems: list[str] = []
    codes: list[str] = []
    seen: set[str] = set()
    for index, element in enumerate(body):
        user = element.get("user") if isinstance(element, dict) else None
        if not isinstance(user, dict):
            problems.append(f'payload[{index}]: must be an object with a "user" object')
            continue
        usercode = user.get("usercode")
        if usercode is None:
            problems.append(f"payload[{index}]: user.usercode is required")
        elif not isinstance(usercode, str) or not USERCODE_RE.fullmatch(usercode):
            problems.append(
                f"payload[{index}]: user.usercode must be 1 to 64 characters from "
                f"A-Z a-z 0-9 . _ @ -, got {describe(usercode)}"
            )
        elif usercode.upper() in seen:
            code = usercode.upper()
            problems.append(f"payload[{index}]: usercode {code} appears more than once")
        else:
            seen.add(usercode.upper())
            codes.append(usercode.upper())
    if problems:
        raise bad_request("; ".join(problems))
    return codes


def _authorize(store: Store, actor: UserRecord, codes: list[str]) -> None:
    """Reference §1.4 (Feb 2024 rules): only the super admin creates; editUsers updates."""
    if actor.id == SUPER_ADMIN_ID:
        return
    for code in codes:
        target = store.user_by_code(code)
        if target is None:
            raise forbidden(
                f"only the super admin can create users through POST /users/sync: "
                f"{actor.usercode} cannot create {code}"
            )
        if target.id == SUPER_ADMIN_ID:
            raise forbidden(f"only the super admin can change the super admin ({SUPER_ADMIN_CODE})")
    if not store.has_privilege(actor, "editUsers"):
        raise forbidden(f"{actor.usercode} needs the editUsers privilege to update users")


def _plan_element(plan: _Plan, element: JsonObj, code: str) -> tuple[UserRecord | None, list[str]]:
    user: JsonObj = element["user"]
    existing = plan.lookup(code)
    is_super = existing is not None and existing.id == SUPER_ADMIN_ID
    errors: list[str] = []
    fields = _fields(user, code, existing, is_super, errors)
    parent_id = _parent(plan, user, code, existing, is_super, errors)
    role_ids = sections.roles(plan.store, element.get("userRoles"), errors)
    category_ids = sections.categories(plan.store, element.get("userCategories"), errors)
    variables = sections.variables(element.get("variables"), errors)
    restrictions = sections.restrictions(element.get("restrictions"), errors)
    password = _password(user, existing, errors)
    if errors:
        return None, errors
    record = UserRecord(
        id=existing.id if existing is not None else plan.next_id,
        usercode=code,
        fields=fields,
        parent_id=parent_id,
        password=password if fields["allowPasswordLogin"] else None,
        role_ids=role_ids,
        category_ids=category_ids,
        variables=variables,
        restrictions=restrictions,
    )
    if existing is None:
        plan.next_id += 1
    plan.by_code[code] = record
    plan.by_id[record.id] = record
    return record, []


# -- the user section ---------------------------------------------------------------------------


def _fields(
    user: JsonObj, code: str, existing: UserRecord | None, is_super: bool, errors: list[str]
) -> JsonObj:
    """Every stored field: the given value, else the kept (names on update) or default one.

    Starts from a copy of the defaults in ``STORED_FIELDS`` order and overlays the few given
    fields (a seed of 100,000 users goes through here); problems are reported in field order.
    """
    out = dict(_SUPER_TEMPLATE if is_super else _TEMPLATE)
    out["usercode"] = code
    problems: list[tuple[int, str]] = []
    for name in _KEPT_ON_UPDATE:
        if name in user:
            continue
        if existing is None:
            problems.append((_FIELD_INDEX[name], f"user.{name} is required to create a user"))
        else:
            out[name] = existing.fields[name]
    for name, value in user.items():
        if name not in _WRITABLE:
            continue
        problem = _field_problem(name, value)
        if problem is None:
            out[name] = ORG_NAME if name in _ORG_FIELDS else value
        else:
            problems.append((_FIELD_INDEX[name], problem))
    if problems:
        errors += [message for _, message in sorted(problems)]
    else:
        errors += _login_problems(out, is_super)
    return out


def _field_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be stored in ``user.<name>``, or None if it can."""
    if name in ("forenames", "surname", "themeName"):
        if isinstance(value, str) and value.strip() != "":
            return None
        return f"user.{name} must be a non-empty string, got {describe(value)}"
    if name == "email":
        if value is None or isinstance(value, str):
            return None
        return f"user.email must be a string or null, got {describe(value)}"
    if name in _ORG_FIELDS:
        if isinstance(value, str) and value.casefold() == ORG_NAME.casefold():
            return None
        return (
            f"unknown organisation {describe(value)} in user.{name}: "
            f'the emulator has only "{ORG_NAME}"'
        )
    if name == "userTypeId":
        if isinstance(value, int) and not isinstance(value, bool) and value in USER_TYPES:
            return None
        return (
            f"user.userTypeId must be an integer from 0 to 4 ({_TYPES_TEXT}), got {describe(value)}"
        )
    if name in DATE_FIELDS:
        if value is None or _is_date(value):
            return None
        return f'user.{name} must be a date "YYYY-MM-DD" or null, got {describe(value)}'
    assert name not in STRING_FIELDS, name
    if isinstance(value, bool):
        return None
    return f"user.{name} must be true or false, got {describe(value)}"


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _login_problems(fields: Mapping[str, Any], is_super: bool) -> list[str]:
    problems: list[str] = []
    if not fields["allowPasswordLogin"] and not fields["allowExternalLogin"]:
        problems.append(
            "allowPasswordLogin and allowExternalLogin cannot both be false: "
            "the user could not log in"
        )
    if is_super:
        if not fields["allowPasswordLogin"]:
            problems.append("password login cannot be disabled for the super admin")
        if not fields["clientEnabled"]:
            problems.append("the super admin cannot be disabled")
        if fields["userTypeId"] != 0:
            problems.append("the super admin must stay an Administrator (userTypeId 0)")
    return problems


def _password(user: JsonObj, existing: UserRecord | None, errors: list[str]) -> str | None:
    """``clientPassword`` (S8's name) or ``password``; write-only; omitted keeps the old one."""
    for key in ("clientPassword", "password"):
        value = user.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value != "":
            return value
        errors.append(f"user.{key} must be a non-empty string, got {describe(value)}")
        return None
    return None if existing is None else existing.password


def _parent(
    plan: _Plan,
    user: JsonObj,
    code: str,
    existing: UserRecord | None,
    is_super: bool,
    errors: list[str],
) -> int | None:
    """``parentIdentifier``: omitted keeps the parent (update) or uses the caller (create)."""
    raw = user.get("parentIdentifier")
    if is_super:
        return None
    if raw is None:
        return existing.parent_id if existing is not None else plan.actor.id
    if not isinstance(raw, str) or raw == "":
        errors.append(f"user.parentIdentifier must be a usercode, got {describe(raw)}")
        return None
    if raw.upper() == code:
        errors.append("a user cannot be its own parent (parentIdentifier)")
        return None
    parent = plan.lookup(raw)
    if parent is None:
        errors.append(f'unknown parentIdentifier "{raw}": no user has that usercode')
        return None
    if existing is not None and _is_below(plan, parent.id, existing.id):
        errors.append(
            f"parentIdentifier {parent.usercode} would make a cycle: "
            f"{parent.usercode} is below {code} in the user hierarchy"
        )
        return None
    return parent.id


def _is_below(plan: _Plan, user_id: int, ancestor_id: int) -> bool:
    seen: set[int] = set()
    current = plan.parent_of(user_id)
    while current is not None and current not in seen:
        if current == ancestor_id:
            return True
        seen.add(current)
        current = plan.parent_of(current)
    return False
