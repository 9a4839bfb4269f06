"""A small YAML emitter for the files ``pisync import`` writes: block style, short lists and
flat mappings inline (up to 88 columns), strings quoted only when YAML would read them as
something else, and every character YAML 1.2 cannot hold raw escaped — so any string a server
holds survives the round trip (pinned by property tests).

Why not ruamel's emitter (measured on 10,000 imported users, docs/design.md,
``benchmarks/bench_emit.py``): ``YAML(typ='rt')`` took 24-33x and ``YAML(typ='safe')`` 10x the
time of this module, the safe dumper sorts keys (losing
the SPEC's key order a reader expects), and both write ``code: yes`` unquoted, which reads as a
boolean to anyone who knows YAML 1.1 and as text to pisync.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any


def emit(body: Mapping[str, Sequence[Mapping[str, Any]]], *, comments: Sequence[str] = ()) -> str:
    """``comments`` (each already a ``# …`` line), then each top key with its list of entries."""
    lines = list(comments)
    for top, entries in body.items():
        lines.append(f"{top}:")
        for entry in entries:
            lines.extend(_mapping(entry, indent=4, first="  - "))
    return "\n".join(lines) + "\n"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9 _.@/()+-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
_INLINE_WIDTH = 88


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as ``value`` (strings quoted only when needed)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _DATE.match(text):
        return text
    return text if _is_plain(text) else _quoted(text)


def _key(name: str) -> str:
    return name if _is_plain(name) else _quoted(name)


def _is_plain(text: str) -> bool:
    """Whether YAML reads ``text`` back unquoted as exactly this string."""
    return bool(
        _PLAIN.match(text)
        and text == text.strip()
        and text.lower() not in _RESERVED
        and ": " not in text
        and " #" not in text
    )


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar: JSON escapes, plus ``\\u`` for every character YAML 1.2
    does not allow raw, or would fold (controls, NEL, surrogates, BOM, line separators)."""
    return "".join(
        c if _printable(c) else f"\\u{ord(c):04x}" for c in json.dumps(text, ensure_ascii=False)
    )


def _printable(c: str) -> bool:
    o = ord(c)
    return (
        0x20 <= o <= 0x7E
        or (0xA0 <= o <= 0xD7FF and o not in (0x2028, 0x2029))
        or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)
        or o >= 0x10000
    )


def _mapping(entry: Mapping[str, Any], *, indent: int, first: str | None = None) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for n, (key, value) in enumerate(entry.items()):
        lead = first if (first is not None and n == 0) else pad
        out.extend(_field(lead, _key(key), value, indent))
    return out


def _field(lead: str, key: str, value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        inline = "{" + ", ".join(f"{_key(k)}: {scalar(v)}" for k, v in value.items()) + "}"
        flat = all(not isinstance(v, (Mapping, list)) for v in value.values())
        if flat and len(lead) + len(key) + len(inline) + 2 <= _INLINE_WIDTH:
            return [f"{lead}{key}: {inline}"]
        return [f"{lead}{key}:", *_mapping(value, indent=indent + 2)]
    if isinstance(value, list):
        if all(not isinstance(v, (Mapping, list)) for v in value):
            inline = "[" + ", ".join(scalar(v) for v in value) + "]"
            if len(lead) + len(key) + len(inline) + 2 <= _INLINE_WIDTH:
                return [f"{lead}{key}: {inline}"]
            return [f"{lead}{key}:", *(f"{pad}  - {scalar(v)}" for v in value)]
        out = [f"{lead}{key}:"]
        for item in value:
            out.extend(_field_item(item, indent + 2))
        return out
    return [f"{lead}{key}: {scalar(value)}"]


def _field_item(item: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(item, Mapping):
        inline = "{" + ", ".join(f"{_key(k)}: {_inline(v)}" for k, v in item.items()) + "}"
        if len(pad) + len(inline) + 2 <= _INLINE_WIDTH:
            return [f"{pad}- {inline}"]
        return _mapping(item, indent=indent + 2, first=f"{pad}- ")
    return [f"{pad}- {scalar(item)}"]


def _inline(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    return scalar(value)
