"""The documentation stays true to the code: the YAML reference is the schemas', the exit codes
and environment variables listed are the ones the code uses, and every link resolves."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reconciler.core.yamldoc import parse_yaml
from reconciler.schemas import load_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "yaml-reference.md"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


@cache
def generator() -> ModuleType:
    path = ROOT / "scripts" / "gen_yaml_reference.py"
    spec = importlib.util.spec_from_file_location("gen_yaml_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


# --- the YAML reference ------------------------------------------------------------------


def test_yaml_reference_is_up_to_date() -> None:
    fresh = generator().render()
    committed = REFERENCE.read_text(encoding="utf-8")
    assert fresh == committed, (
        "docs/yaml-reference.md is out of date with schemas/: run"
        " python scripts/gen_yaml_reference.py (or make docs) and commit the result"
    )


def test_the_generator_writes_the_same_bytes_twice() -> None:
    assert generator().render() == generator().render()


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.M | re.S)


def test_yaml_reference_examples_read_back_as_the_schema_examples() -> None:
    blocks = fenced(REFERENCE.read_text(encoding="utf-8"), "yaml")
    read = [parse_yaml(b.encode(), "example.yaml") for b in blocks]
    assert [r.issues for r in read] == [(), ()]
    assert [r.data for r in read] == [
        load_schema("pisync-file")["examples"][0],
        load_schema("pisync-config")["examples"][0],
    ]


def _keys(node: Any, schema: dict[str, Any]) -> Iterator[str]:
    """Every property name of a schema, ``$ref`` followed (each definition once)."""
    seen: set[str] = set()

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                yield from walk(schema["$defs"][ref.rsplit("/", 1)[1]])
            for key, value in node.items():
                if key == "properties":
                    yield from value
                    yield from (k for v in value.values() for k in walk(v))
                elif key != "$defs":
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    return walk(node)


@pytest.mark.parametrize("name", ["pisync-file", "pisync-config"])
def test_yaml_reference_has_a_section_or_line_for_every_key(name: str) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    headed = {m.rsplit(".", 1)[-1] for m in re.findall(r"^#+ `([^`]+)`$", text, flags=re.M)}
    listed = set(re.findall(r"^  - `(\w+)` \((?:required|optional);", text, flags=re.M))
    schema = load_schema(name)
    missing = sorted(set(_keys(schema, schema)) - {k.removesuffix("[]") for k in headed} - listed)
    assert missing == []


def test_a_pisync_yaml_key_without_a_known_default_stops_the_generator() -> None:
    module = generator()
    config = module.Document(
        name="x.json",
        schema={"properties": {"new_key": {"type": "integer", "description": "New."}}},
        kind="config",
    )
    with pytest.raises(KeyError, match=r"no default known for pisync\.yaml key new_key"):
        module.write_document(module.Writer(), config, "pisync.yaml", [])


def test_headings_get_githubs_anchors_and_repeats_are_numbered() -> None:
    anchors = generator().Anchors()
    headings = ("`users[].login.mfa`", "pisync.yaml", "`users`", "`users`")
    assert [anchors.add(h) for h in headings] == [
        "usersloginmfa",
        "pisyncyaml",
        "users",
        "users-1",
    ]
