"""The plan as JSON. Pure.

JSON (:func:`render_json`) is ``Plan.to_document()`` (``to_dict()`` and its digest), documented
by ``schemas/plan.schema.json``, indented by two spaces with the keys in ``to_dict()``'s order.

:func:`json_chunks` yields the same text piece by piece, one change (or access change) at a
time, with the digest computed on the way: a plan of 50,000 creates is never held as one
document (every change as a dict, then all of it as one string, took 200 MB more than the
plan itself at 20,000 users). Each piece is encoded by orjson (its two-space indentation is
``json.dumps(indent=2)``'s, byte for byte: tests/core/render/test_render.py checks both on every
golden plan), and by the json module for a value orjson refuses (an integer beyond 64 bits).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from reconciler.core.model.digest import Hasher
from reconciler.core.plans.plan import AccessChange, Change, Plan

#: The document's lists that grow with the users, streamed item by item.
_STREAMED = ("changes", "access")


def render_json(plan: Plan) -> str:
    """The saved-plan form (``plan --out``), documented by ``schemas/plan.schema.json``."""
    return "".join(json_chunks(plan))


def json_chunks(plan: Plan) -> Iterator[str]:
    """:func:`render_json`'s text in pieces (their concatenation is exactly that text).

    The digest hashes the canonical document (keys sorted) as it goes, without keeping it:
    ``access`` and ``changes`` are its first two keys, so the access changes are hashed
    first (encoded once more when they are written), then each change as it is written,
    then the small rest.
    """
    document = plan.to_dict(streamed=_STREAMED)
    rest = sorted(k for k in document if k not in _STREAMED)
    assert sorted(document)[:2] == ["access", "changes"], "the digest's streaming order"
    hasher = Hasher()
    hasher.update(b'{"access":[')
    for n, access in enumerate(plan.access):
        hasher.update((b"," if n else b"") + _canonical(access.to_dict()))
    hasher.update(b'],"changes":[')
    yield "{\n"
    for key, value in document.items():
        yield f"  {_indented(key, 2)}: "
        listed: Sequence[Change | AccessChange] = (
            plan.changes if key == "changes" else plan.access if key == "access" else ()
        )
        if listed:
            yield "[\n"
            last = len(listed) - 1
            for n, item in enumerate(listed):
                data = item.to_dict()
                if key == "changes":
                    hasher.update((b"," if n else b"") + _canonical(data))
                yield "    " + _indented(data, 4) + (",\n" if n < last else "\n")
            yield "  ],\n"
        else:
            yield _indented(value, 2) + ",\n"
    hasher.update(b"]")
    for key in rest:
        hasher.update(b"," + _canonical(key) + b":" + _canonical(document[key]))
    hasher.update(b"}")
    yield f"  {_indented('digest', 2)}: {_indented(hasher.fingerprint(), 2)}\n}}\n"


def _canonical(value: Any) -> bytes:
    """The canonical JSON of ``value`` (what a fingerprint hashes), UTF-8 encoded."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def _indented(value: Any, depth: int) -> str:
    """``value`` as ``json.dumps(value, indent=2, ensure_ascii=False)`` writes it nested
    ``depth`` spaces deep (JSON strings hold no raw newline, so every newline is layout)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:  # beyond what orjson encodes (an integer over 64 bits)
        text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + " " * depth) if depth else text
