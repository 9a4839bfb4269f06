"""plan in every format through the real CLI: text, markdown, json (schema-valid), github."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.schemas import load_schema
from tests.e2e.conftest import SECRET, log_text, pisync

pytestmark = pytest.mark.e2e


def test_json_plan_and_plan_file_validate_against_the_schema(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    out = tmp_path / "plan.json"
    r = pisync(["plan", "--format", "json", "--out", str(out)], cwd=example_repo, url=emu.url)
    assert r.code == 0, r.all
    printed = json.loads(r.out)
    assert json.loads(out.read_text()) == printed
    jsonschema.Draft202012Validator(load_schema("plan")).validate(printed)
    assert printed["summary"] == {"create": 15, "update": 7, "disable": 1, "delete": 0}
    assert {c["action"] for c in printed["changes"]} == {"create", "update", "disable"}
    lchen = next(c for c in printed["changes"] if c["key"] == "LCHEN")
    assert lchen["desired"]["variables"]["warehousePassword"] == {
        "env": "FINANCE_DB_PASSWORD",
        "secure": True,
    }
    assert SECRET not in r.all + out.read_text()


def test_markdown_and_github_summary(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    md = pisync(["plan", "--format", "markdown"], cwd=example_repo, url=emu.url)
    assert md.code == 0, md.all
    assert "| 15 | 7 | 1 | 0 |" in md.out.replace("  ", " ")
    assert "<details>" in md.out
    summary = tmp_path / "summary.md"
    gh = pisync(
        ["plan", "--format", "github"],
        cwd=example_repo,
        url=emu.url,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert gh.code == 0, gh.all
    assert log_text(gh.out).startswith("pisync will perform these actions against")
    assert summary.read_text() == md.out
    assert SECRET not in md.out + gh.all


def test_target_limits_the_plan_and_says_so(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(
        ["plan", "--format", "json", "--target", "lchen", "--target", "BWONG"],
        cwd=example_repo,
        url=emu.url,
    )
    assert r.code == 0, r.all
    plan = json.loads(r.out)
    assert plan["targets"] == ["BWONG", "LCHEN"]
    assert [(c["kind"], c["key"]) for c in plan["changes"]] == [
        ("role", "Finance Viewer"),
        ("user", "BWONG"),
        ("user", "LCHEN"),
    ]
    text = pisync(["plan", "--target", "lchen"], cwd=example_repo, url=emu.url)
    assert "partial" in text.out.lower()
    assert "LCHEN" in text.out
