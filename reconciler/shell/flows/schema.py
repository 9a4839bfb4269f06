"""``pisync schema``: print one JSON Schema, or write them all into a folder.

The schema files' text is copied as shipped, never parsed and written again: what pisync
prints or writes is byte for byte the repository's ``schemas/`` (UTF-8, ``…`` kept)."""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.schemas import SCHEMA_NAMES, schema_text
from reconciler.shell.files import write_atomic

#: ``--name`` values: the short name of each schema file.
SHORT_NAMES = {
    name.removesuffix(".schema.json").removeprefix("pisync-"): name for name in SCHEMA_NAMES
}


def schema_command(*, name: str, out: str | None) -> int:
    if out is not None:
        folder = Path(out)
        for filename in SCHEMA_NAMES:
            write_atomic(folder / filename, schema_text(filename))
            sys.stdout.write(f"wrote {folder / filename}\n")
        return 0
    chosen = SHORT_NAMES.get(name)
    if chosen is None:
        raise UsageError(f"--name {name}: not a schema; one of {', '.join(SHORT_NAMES)}")
    sys.stdout.write(schema_text(chosen))
    return 0
