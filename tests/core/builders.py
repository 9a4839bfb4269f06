"""Shared test builders for canonical records (the form model/values.py's docstring describes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: A complete canonical live record of a plain user with every field at its default.
BASE_RECORD: dict[str, Any] = {
    "forenames": "Test",
    "surname": "User",
    "email": None,
    "type": "user",
    "enabled": True,
    "lite": False,
    "parent": None,
    "organisation": None,
    "theme": None,
    "expires": None,
    "login.password": False,
    "login.external": True,
    "login.mfa": False,
    "privileges": (),
    "roles": (),
    "categories": (),
    "variables": (),
    "restrictions": (),
}


def rec(extra: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A complete canonical live record: the base with ``extra`` and ``fields`` overlaid."""
    return {**BASE_RECORD, **(extra or {}), **fields}
