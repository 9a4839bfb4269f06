"""Through the real CLI: ``show`` of a saved plan, ``--summary``, global options after the
subcommand, the config found from a subfolder, and ``schema --name``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.schemas import load_schema
from tests.e2e.conftest import ROOT, SECRET, pisync

pytestmark = pytest.mark.e2e


def saved(emu: Any, repo: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """A plan saved with --out, and the text and JSON plan printed when it was made."""
    planfile = tmp_path / "plan.json"
    text = pisync(["plan", "--out", str(planfile)], cwd=repo, url=emu.url)
    assert text.code == 0, text.all
    printed = json.loads(planfile.read_text(encoding="utf-8"))
    return planfile, text.out, json.dumps(printed)


def test_show_renders_a_saved_plan_without_a_server(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    planfile, text, _ = saved(emu, example_repo, tmp_path)
    emu.stop()

    shown = pisync(["show", str(planfile)], cwd=tmp_path, unset=["PISYNC_URL"])
    as_json = pisync(["show", str(planfile), "--format", "json"], cwd=tmp_path)

    assert (shown.code, shown.err) == (0, "")
    assert shown.out == text
    assert as_json.code == 0, as_json.all
    assert json.loads(as_json.out) == json.loads(planfile.read_text(encoding="utf-8"))
    assert SECRET not in shown.all + as_json.all


BRIEF = """\
pisync plan summary: {url}

Plan: 15 to create, 7 to update, 1 to disable, 0 to delete.
Privilege escalations: SFISCHER (editUserAccess, pdf)
Changes:
  ~ role "Executive": categories, description, privileges
  + role "Finance Viewer"
  + role "People Partner"
  ~ user ASHAH: privileges, roles, variables.costCentre
  ~ user BWONG: restrictions
  ~ user CJONES: categories
  ~ user DPATEL: login.mfa, privileges, roles
  ~ user EMURPHY: roles
  ~ user FGARCIA: privileges
  + user JSMITH
  + user KMORRIS
  + user LCHEN
  + user MOKAFOR
  + user NADEBAYO
  + user OOYELARAN
  + user PMARTIN
  + user QWILLIAMS
  + user RBROWN
  + user SFISCHER
  + user TNGUYEN
  + user VLOPEZ
  + user WZHANG
  - user HNOVAK  (disable)
"""


def test_show_summary_is_one_line_per_change(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    planfile, _, _ = saved(emu, example_repo, tmp_path)

    brief = pisync(["show", str(planfile), "--summary"], cwd=tmp_path)
    brief_json = pisync(["show", str(planfile), "--summary", "--format", "json"], cwd=tmp_path)
    live = pisync(["plan", "--summary"], cwd=example_repo, url=emu.url)

    assert brief.code == 0, brief.all
    assert brief.out == BRIEF.format(url=emu.url)
    doc = json.loads(brief_json.out)
    assert doc["summary"] == {"create": 15, "update": 7, "disable": 1, "delete": 0}
    assert doc["escalations"] == ["SFISCHER"]
    assert doc["changes"][:2] == [
        {
            "kind": "role",
            "key": "Executive",
            "action": "update",
            "fields": ["categories", "description", "privileges"],
        },
        {"kind": "role", "key": "Finance Viewer", "action": "create", "fields": []},
    ]
    assert len(doc["changes"]) == 23
    assert live.code == 0, live.all
    assert live.out == brief.out


def test_show_refuses_a_changed_plan_file(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    planfile, _, _ = saved(emu, example_repo, tmp_path)
    data = json.loads(planfile.read_text(encoding="utf-8"))
    data["changes"][0]["key"] = "SOMEONE_ELSE"
    planfile.write_text(json.dumps(data), encoding="utf-8")

    shown = pisync(["show", str(planfile)], cwd=tmp_path)

    assert shown.code == 5
    assert shown.out == ""
    assert shown.err == (
        f"Error: {planfile} was changed after pisync wrote it (its content does not match its"
        f" digest). Make the plan again and review it: pisync plan --out {planfile}\n"
    )


def test_show_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    shown = pisync(["show", "nope.json"], cwd=tmp_path)
    assert (shown.code, shown.out) == (64, "")
    assert shown.err == "Error: plan file nope.json does not exist\n"


def test_global_options_work_after_the_subcommand(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    before = pisync(["--url", emu.url, "--no-color", "plan", "--format", "json"], cwd=example_repo)
    after = pisync(["plan", "--format", "json", "--url", emu.url, "--no-color"], cwd=example_repo)
    equals = pisync(["plan", f"--url={emu.url}", "--format", "json"], cwd=example_repo)

    assert before.code == after.code == equals.code == 0, after.all
    assert json.loads(after.out) == json.loads(before.out) == json.loads(equals.out)


def test_the_config_is_found_from_a_subfolder(example_repo: Path) -> None:
    (example_repo / ".git").mkdir()  # the top of the repository: the search stops here
    inside = example_repo / "users"
    from_top = pisync(["validate"], cwd=example_repo)
    from_inside = pisync(["validate"], cwd=inside)

    assert from_top.code == from_inside.code == 0, from_inside.all
    assert from_inside.out == from_top.out
    assert from_inside.out == "All 7 files valid: 20 users, 4 roles.\n"


def test_the_config_search_stops_at_the_top_of_the_git_repository(
    example_repo: Path, tmp_path: Path
) -> None:
    nested = example_repo / "vendor" / "other"
    nested.mkdir(parents=True)
    (nested / ".git").mkdir()
    (nested / "users").mkdir()
    (nested / "users" / "a.yaml").write_text("users:\n  - usercode: SOLO\n")

    r = pisync(["validate"], cwd=nested)

    assert r.code == 0, r.all
    assert r.out == "1 file valid: 1 user, 0 roles.\n"


def test_schema_by_name(tmp_path: Path) -> None:
    default = pisync(["schema"], cwd=tmp_path)
    plan = pisync(["schema", "--name", "plan"], cwd=tmp_path)
    wrong = pisync(["schema", "--name", "nope"], cwd=tmp_path)

    assert json.loads(default.out) == load_schema("pisync-file")
    assert json.loads(plan.out) == load_schema("plan")
    assert wrong.code == 64
    assert wrong.err.startswith("Error: --name nope: not a schema; one of ")


def test_schema_out_writes_the_repository_schemas_byte_for_byte(tmp_path: Path) -> None:
    r = pisync(["schema", "--out", str(tmp_path / "out")], cwd=tmp_path)

    assert r.code == 0, r.all
    shipped = ROOT / "schemas"
    names = sorted(p.name for p in shipped.glob("*.schema.json"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    for name in names:
        assert (tmp_path / "out" / name).read_bytes() == (shipped / name).read_bytes(), name


def test_schema_prints_the_repository_schema_as_it_is(tmp_path: Path) -> None:
    r = pisync(["schema", "--name", "config"], cwd=tmp_path)

    assert r.code == 0, r.all
    assert r.out == (ROOT / "schemas" / "pisync-config.schema.json").read_text(encoding="utf-8")
    assert "\\u2026" not in r.out


def test_shell_completion_through_typer(tmp_path: Path) -> None:
    script = pisync(["--show-completion", "bash"], cwd=tmp_path, env={"SHELL": "/bin/bash"})
    commands = pisync(
        [],
        cwd=tmp_path,
        env={"_PISYNC_COMPLETE": "complete_bash", "COMP_WORDS": "pisync pl", "COMP_CWORD": "1"},
    )
    options = pisync(
        [],
        cwd=tmp_path,
        env={
            "_PISYNC_COMPLETE": "complete_bash",
            "COMP_WORDS": "pisync plan --for",
            "COMP_CWORD": "2",
        },
    )

    assert script.code == 0, script.all
    assert "complete -o default -F _pisync_completion pisync" in script.out
    assert (commands.code, commands.out) == (0, "plan\n")
    assert (options.code, options.out) == (0, "--format\n--force\n")
