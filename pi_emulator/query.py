"""List queries: ``page``/``pageSize`` paging and ``field(op)=value`` filters (reference §4).

Paging [G]: ``page`` is 1-based (default 1), ``pageSize`` defaults to 20 and is capped at
``MAX_PAGE_SIZE`` (a larger value is served as 1000, and ``size`` in the envelope says so).
``list_body`` shapes the answer (envelope or bare array, paged or not, capped) as the
server-shape options ask. Filters [C]/[G]: AND-combined; string comparisons ignore case;
``like`` is a case-insensitive substring match; the value ``null`` with ``eq``/``ne`` tests
for null.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pi_emulator.errors import bad_request
from pi_emulator.wire import FieldKind, JsonObj

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
OPERATORS = ("eq", "ne", "gt", "lt", "ge", "le", "like", "nlike")
#: Plain parameters that are not filters: paging, and ``orgId`` (accepted and ignored, S9).
RESERVED = frozenset({"page", "pageSize", "orgId"})
_FILTER_KEY = re.compile(r"(?P<field>[A-Za-z_][A-Za-z0-9_]*)\((?P<op>[A-Za-z]*)\)")

T = TypeVar("T")
Test = Callable[[Any], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    field: str
    op: str
    value: str
    test: Test


def page_request(params: Mapping[str, str]) -> PageRequest:
    page = _positive(params, "page", 1)
    size = min(_positive(params, "pageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    return PageRequest(page=page, size=size)


def _positive(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise bad_request(f'{name} must be a positive integer, got "{raw}"')
    return value


def envelope(content: list[JsonObj], total: int, request: PageRequest) -> JsonObj:
    """The Spring-style page object [G]; ``number`` is the 1-based page that was asked for."""
    pages = -(-total // request.size)
    return {
        "content": content,
        "totalElements": total,
        "totalPages": pages,
        "number": request.page,
        "size": request.size,
        "first": request.page == 1,
        "last": request.page >= pages,
    }


def unpaged_envelope(content: list[JsonObj], total: int) -> JsonObj:
    """The page object of a server that does not page: one page holding the whole list."""
    return {
        "content": content,
        "totalElements": total,
        "totalPages": 1,
        "number": 1,
        "size": len(content),
        "first": True,
        "last": True,
    }


Window = Callable[[int, int], list[JsonObj]]


def list_body(
    window: Window, total: int, page: PageRequest | None, *, cap: int | None, bare: bool
) -> JsonObj | list[JsonObj]:
    """A list answer over ``total`` matching items; ``window(start, stop)`` renders a slice.

    ``page`` None: the server does not page (the whole list). ``cap``: at most that many
    items of the whole list are ever returned, while an envelope still reports the true
    ``total``. ``bare``: the items alone, as a JSON array.
    """
    limit = total if cap is None else min(total, cap)
    if page is None:
        content = window(0, limit)
        return content if bare else unpaged_envelope(content, total)
    start = min(page.offset, limit)
    content = window(start, min(page.offset + page.size, limit))
    return content if bare else envelope(content, total, page)


def parse_filters(
    params: Sequence[tuple[str, str]], fields: Mapping[str, FieldKind]
) -> list[Filter]:
    """Filters from the (already percent-decoded) query items; plain parameters are ignored."""
    filters: list[Filter] = []
    for key, value in params:
        if "(" not in key and ")" not in key:
            continue
        match = _FILTER_KEY.fullmatch(key)
        if match is None:
            raise bad_request(f'malformed filter "{key}": use field(op)=value, e.g. usercode(eq)=X')
        name, op = match["field"], match["op"]
        if op not in OPERATORS:
            raise bad_request(
                f'unknown filter operator "{op}" in "{key}": use one of {", ".join(OPERATORS)}'
            )
        kind = fields.get(name)
        if kind is None:
            raise bad_request(
                f'cannot filter on "{name}": filterable fields are {", ".join(sorted(fields))}'
            )
        filters.append(Filter(field=name, op=op, value=value, test=_test(name, kind, op, value)))
    return filters


def apply(items: Iterable[T], filters: Sequence[Filter], get: Callable[[T, str], Any]) -> list[T]:
    return [item for item in items if all(f.test(get(item, f.field)) for f in filters)]


def _test(name: str, kind: FieldKind, op: str, raw: str) -> Test:
    if op in ("eq", "ne") and raw.casefold() == "null":
        return (lambda v: v is None) if op == "eq" else (lambda v: v is not None)
    if kind == "bool":
        return _bool_test(name, op, raw)
    if op in ("like", "nlike"):
        needle = raw.casefold()
        if op == "like":
            return lambda v: v is not None and needle in str(v).casefold()
        return lambda v: v is None or needle not in str(v).casefold()
    if kind == "int":
        return _compare(op, _int(name, raw), lambda v: v)
    return _compare(op, raw.casefold(), lambda v: str(v).casefold())


def _bool_test(name: str, op: str, raw: str) -> Test:
    if op not in ("eq", "ne"):
        raise bad_request(f'operator "{op}" cannot be used on the boolean field "{name}"')
    if raw.lower() not in ("true", "false"):
        raise bad_request(f'filter {name}({op}) needs true or false, got "{raw}"')
    wanted = raw.lower() == "true"
    return (lambda v: v is wanted) if op == "eq" else (lambda v: v is not wanted)


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f'filter on "{name}" needs an integer, got "{raw}"') from None


def _compare(op: str, target: Any, norm: Callable[[Any], Any]) -> Test:
    """eq/ne/gt/lt/ge/le; a null field value matches only ``ne``."""
    match op:
        case "eq":
            return lambda v: v is not None and norm(v) == target
        case "ne":
            return lambda v: v is None or norm(v) != target
        case "gt":
            return lambda v: v is not None and norm(v) > target
        case "lt":
            return lambda v: v is not None and norm(v) < target
        case "ge":
            return lambda v: v is not None and norm(v) >= target
        case _:
            return lambda v: v is not None and norm(v) <= target
