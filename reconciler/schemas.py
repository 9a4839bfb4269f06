"""Where pisync's JSON Schemas live, and loading them.

The schema files are written once, in the repository's ``schemas/`` folder. A wheel carries
them inside the package as ``reconciler/_schemas`` (pyproject's hatch ``force-include``); an
editable install reads the repository folder next to the package. :func:`schema_dir` looks in
that order.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

#: The schema files pisync ships (``pisync schema`` prints them; ``import`` copies them).
SCHEMA_NAMES: tuple[str, ...] = (
    "pisync-file.schema.json",
    "pisync-config.schema.json",
    "plan.schema.json",
    "claims.schema.json",
    "review.schema.json",
    "bundle.schema.json",
    "decisions.schema.json",
)
#: The schemas ``pisync import`` writes into a repository, for editors and readers of its
#: files and plans (a bundle's schema is pisync's own business).
REPOSITORY_SCHEMAS: tuple[str, ...] = tuple(n for n in SCHEMA_NAMES if n != "bundle.schema.json")
_SUFFIX = ".schema.json"


def schema_filename(name: str) -> str:
    """``"pisync-file"`` or ``"pisync-file.schema.json"`` -> ``"pisync-file.schema.json"``."""
    return name if name.endswith(_SUFFIX) else name + _SUFFIX


def schema_dir() -> Traversable:
    """The folder that holds the schema files (the packaged copy first)."""
    packaged = resources.files("reconciler") / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


def schema_text(name: str) -> str:
    """The schema file's text; ``KeyError`` for a name not in :data:`SCHEMA_NAMES`."""
    filename = schema_filename(name)
    if filename not in SCHEMA_NAMES:
        raise KeyError(f"no schema named {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    return (schema_dir() / filename).read_text(encoding="utf-8")


@cache
def _cached_text(name: str) -> str:
    return schema_text(schema_filename(name))


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (``"pisync-file"``, ``"pisync-config.schema.json"``…), a fresh
    copy each call.

    The file is read once per process.
    """
    schema: Any = json.loads(_cached_text(name))
    if not isinstance(schema, dict):
        raise TypeError(f"{schema_filename(name)} does not hold a JSON object")
    return schema
