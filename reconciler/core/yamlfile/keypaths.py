"""Key paths inside a document (``users[3].roles[0]``) and the file position they point at."""

from __future__ import annotations

import re
from typing import Any

from reconciler.core.model.text import quote_value
from reconciler.core.model.values import SourcePos
from reconciler.core.yamlfile.positions import PosDict, PosList

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """``("users", 3, "roles", 0)`` -> ``users[3].roles[0]``; odd keys as ``["a b"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{quote_value(part)}]"
    return out


SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def locate(root: Any, path: Path) -> tuple[SourcePos | None, int]:
    """The position of the key or item at ``path``, and how much of the path was walked."""
    node = root
    pos = root.pos if isinstance(root, PosDict | PosList) else None
    for depth, part in enumerate(path):
        if isinstance(node, PosDict) and isinstance(part, str) and part in node:
            pos = node.key_at(part)
        elif isinstance(node, PosList) and isinstance(part, int) and 0 <= part < len(node):
            pos = node.item_at(part)
        elif isinstance(node, dict | list):
            return pos, depth  # a plain container: no positions below this point
        else:
            return pos, depth
        node = node[part]
    return pos, len(path)


def where(root: PosDict, path: Path) -> tuple[SourcePos | None, str]:
    return locate(root, path)[0], format_path(path)
