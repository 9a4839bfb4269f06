"""``pisync schema``: print the JSON Schemas, or write them into a folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reconciler.schemas import SCHEMA_NAMES, load_schema
from reconciler.shell.files import write_atomic


def schema_command(*, out: str | None) -> int:
    if out is None:
        for name in SCHEMA_NAMES:
            sys.stdout.write(json.dumps(load_schema(name), indent=2) + "\n")
        return 0
    folder = Path(out)
    for name in SCHEMA_NAMES:
        write_atomic(folder / name, json.dumps(load_schema(name), indent=2) + "\n")
        sys.stdout.write(f"wrote {folder / name}\n")
    return 0
