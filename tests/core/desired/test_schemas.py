"""The JSON Schemas: valid 2020-12, documented, closed, and in step with the code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler import schemas
from reconciler.core.model.config import LICENCE_KINDS
from reconciler.core.model.privileges import PRIVILEGES, USER_TYPES
from reconciler.core.model.values import GRANT_KEYS
from reconciler.pi.wire import USER_TYPES as USER_TYPE_IDS
from reconciler.schemas import SCHEMA_NAMES, load_schema, schema_dir, schema_text

REPO_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
OURS = ("pisync-file", "pisync-config")


@pytest.fixture(params=OURS)
def schema(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_schema(request.param)


def test_schemas_are_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_schemas_have_id_title_description_and_examples(schema: dict[str, Any]) -> None:
    # A relative $id: the schema's own file name, resolved against wherever it is read from
    # (the repository's schemas/ folder, or a folder written by pisync schema --out).
    assert schema["$id"] in SCHEMA_NAMES
    assert schema["title"]
    assert schema["description"]
    assert schema["examples"]


def test_the_examples_are_valid(schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []


def _objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that declares ``properties`` (with its JSON pointer)."""
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}/{i}")


def test_every_object_is_closed(schema: dict[str, Any]) -> None:
    for path, obj in _objects(schema):
        assert obj.get("additionalProperties") is False, path


def test_every_property_has_a_description(schema: dict[str, Any]) -> None:
    for path, obj in _objects(schema):
        for key, prop in obj["properties"].items():
            assert prop.get("description"), f"{path}/properties/{key}"


def _descriptions(node: Any, path: str = "#") -> Iterator[tuple[str, str]]:
    """Every annotation ``description`` (with its JSON pointer); not a property named so."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield path, value
            else:
                yield from _descriptions(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _descriptions(value, f"{path}/{i}")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_describes_every_property(name: str) -> None:
    for path, obj in _objects(load_schema(name)):
        for key, prop in obj["properties"].items():
            assert prop.get("description"), f"{name} {path}/properties/{key}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_descriptions_name_no_document_a_user_does_not_have(name: str) -> None:
    # VS Code shows these to someone editing YAML, who has neither the specification nor the
    # API research pisync was built from
    outside = re.compile(r"SPEC|§|pi-api-reference|see issue|\.to_dict\(", re.IGNORECASE)
    described = _descriptions(load_schema(name))
    assert [(path, text) for path, text in described if outside.search(text)] == []


def test_user_properties_name_the_payload_field_they_set() -> None:
    user = load_schema("pisync-file")["$defs"]["user"]["properties"]
    expected = {
        "usercode": "`usercode`",
        "forenames": "`forenames`",
        "surname": "`surname`",
        "email": "`email`",
        "type": "`userTypeId`",
        "enabled": "`clientEnabled`",
        "lite": "`lite`",
        "parent": "`parentIdentifier`",
        "organisation": "`orgIdentifier`",
        "theme": "`themeName`",
        "expires": "`userExpirationDate`",
        "login": "`allowPasswordLogin`",
        "privileges": "privilege flags",
        "roles": "`userRoles`",
        "categories": "`userCategories`",
        "variables": "`variables`",
        "restrictions": "`restrictions`",
        "pisync": "no payload field",
    }
    assert set(user) == set(expected)
    for key, field in expected.items():
        assert field in user[key]["description"], key
    login = load_schema("pisync-file")["$defs"]["login"]["properties"]
    assert "`allowPasswordLogin`" in login["password"]["description"]
    assert "`allowExternalLogin`" in login["external"]["description"]
    assert "`requireMfa`" in login["mfa"]["description"]


def test_type_description_gives_every_user_type_id() -> None:
    prop = load_schema("pisync-file")["$defs"]["user"]["properties"]["type"]
    assert prop["enum"] == list(USER_TYPES)
    for name, number in USER_TYPE_IDS.items():
        assert f"{name} = {number}" in prop["description"]


def test_privilege_enum_is_exactly_the_privileges_tuple(schema: dict[str, Any]) -> None:
    assert tuple(schema["$defs"]["privilege"]["enum"]) == PRIVILEGES


def test_usercode_and_expires_rules() -> None:
    props = load_schema("pisync-file")["$defs"]["user"]["properties"]
    assert props["usercode"]["pattern"] == "^[A-Za-z0-9._@-]{1,64}$"
    assert props["parent"]["pattern"] == props["usercode"]["pattern"]
    assert props["expires"]["type"] == ["string", "null"]
    assert props["expires"]["format"] == "date"


def test_config_defaults_are_the_user_keys_minus_usercode_and_pisync() -> None:
    user = load_schema("pisync-file")["$defs"]["user"]["properties"]
    defaults = load_schema("pisync-config")["properties"]["defaults"]["properties"]
    expected = {k: v for k, v in user.items() if k not in ("usercode", "pisync")}
    assert defaults == expected
    file_defs = load_schema("pisync-file")["$defs"]
    config_defs = load_schema("pisync-config")["$defs"]
    for shared in ("privilege", "login", "variables", "restriction"):
        assert config_defs[shared] == file_defs[shared]


def test_config_schema_covers_spec_section_3() -> None:
    props = load_schema("pisync-config")["properties"]
    assert set(props) == {
        "sources",
        "server",
        "defaults",
        "users",
        "roles",
        "safety",
        "licence",
        "plan",
        "policies",
        "fleet",
        "servers",
    }
    assert list(props["licence"]["properties"]) == list(LICENCE_KINDS)
    assert props["users"]["properties"]["login_claim"]["enum"] == ["usercode", "email"]
    number, auto = props["server"]["properties"]["concurrency"]["anyOf"]
    assert (number["minimum"], number["maximum"]) == (1, 64)
    assert auto == {"type": "string", "enum": ["auto"]}
    ceiling = props["server"]["properties"]["max_concurrency"]
    assert (ceiling["minimum"], ceiling["maximum"]) == (1, 64)
    assert props["users"]["properties"]["prune"]["enum"] == ["off", "disable", "delete", False]
    assert props["roles"]["properties"]["prune"]["enum"] == ["off", "delete", False]
    assert props["plan"]["properties"]["expiring_days"]["type"] == "integer"
    policies = props["policies"]["properties"]
    assert list(policies) == [
        "mfa_required_for",
        "administrators",
        "separation_of_duties",
        "escalation_requires",
        "max_access_days",
        "review_interval_days",
        "email_domains",
    ]
    max_days = set(policies["max_access_days"]["properties"]) - {"severity"}
    assert max_days == set(USER_TYPES)
    keys = policies["escalation_requires"]["properties"]["keys"]["items"]["enum"]
    assert tuple(keys) == GRANT_KEYS


# --- finding the files -------------------------------------------------------------------


def test_load_schema_accepts_short_and_file_names() -> None:
    assert load_schema("pisync-file") == load_schema("pisync-file.schema.json")
    assert load_schema("pisync-file") is not load_schema("pisync-file")  # a fresh copy


def test_schema_names_exist_and_parse() -> None:
    for name in SCHEMA_NAMES:
        assert isinstance(json.loads(schema_text(name)), dict)
    with pytest.raises(KeyError):
        schema_text("nope")


def test_editable_install_reads_the_repository_folder() -> None:
    # this checkout has no reconciler/_schemas (that exists only inside a wheel)
    assert Path(str(schema_dir())) == REPO_SCHEMAS


def test_packaged_schemas_are_preferred(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    packaged = tmp_path / "reconciler" / "_schemas"
    packaged.mkdir(parents=True)
    (packaged / "pisync-file.schema.json").write_text('{"title": "packaged"}', encoding="utf-8")
    monkeypatch.setattr(resources, "files", lambda _pkg: tmp_path / "reconciler")
    schemas._cached_text.cache_clear()
    try:
        assert Path(str(schema_dir())) == packaged
        assert load_schema("pisync-file") == {"title": "packaged"}
    finally:
        schemas._cached_text.cache_clear()
