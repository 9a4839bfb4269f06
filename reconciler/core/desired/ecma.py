"""JSON Schema patterns read as ECMA-262 reads them (as ``jsonschema_rs`` does)."""

from __future__ import annotations

import re
from functools import cache


@cache
def end_anchored(pattern: str) -> re.Pattern[str]:
    # ECMA-262 (and jsonschema_rs) read a final "$" as the end of the text; Python's re also
    # matches it before a final newline, which would let "jsmith\n" pass as a usercode.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)
