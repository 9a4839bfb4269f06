"""``pisync COMMAND --help`` through the real CLI: usage lines a person can read, every exit
code each command can return (from the one table the code owns), and Terraform's single-dash
spelling of long options answered with the spelling pisync takes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.shell.cli import app_commands
from reconciler.shell.usage import COMMAND_EXITS, exit_meaning
from tests.e2e.conftest import pisync
from tests.test_docs import codes_the_cli_can_return

pytestmark = pytest.mark.e2e

USAGE = {
    "validate": "pisync validate [OPTIONS] [PATH]...",
    "plan": "pisync plan [OPTIONS] [PATH]...",
    "show": "pisync show [OPTIONS] PLANFILE",
    "apply": "pisync apply [OPTIONS] [PLANFILE | PATH...]",
    "import": "pisync import [OPTIONS]",
    "doctor": "pisync doctor [OPTIONS]",
    "claims": "pisync claims [OPTIONS] [PATH]...",
    "review": "pisync review [OPTIONS]",
    "revoke": "pisync revoke [OPTIONS]",
    "schema": "pisync schema [OPTIONS]",
    "show-desired": "pisync show-desired [OPTIONS]",
}


def section(text: str, title: str) -> list[str]:
    """The lines of a help section (``Arguments:``…), up to the next one."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    end = next((i for i in range(start, len(lines)) if re.match(r"^\S", lines[i])), len(lines))
    return [line for line in lines[start:end] if line.strip()]


def test_every_command_has_a_usage_line_and_an_exit_table() -> None:
    assert sorted(USAGE) == sorted(app_commands()) == sorted(COMMAND_EXITS)


@pytest.mark.parametrize("command", sorted(USAGE))
def test_help_shows_a_plain_usage_line_and_every_exit_code(command: str, tmp_path: Path) -> None:
    r = pisync([command, "--help"], cwd=tmp_path)

    assert r.code == 0, r.all
    assert r.out.splitlines()[0] == f"Usage: {USAGE[command]}"
    assert "<list[" not in r.out
    assert "<str>" not in r.out
    shown = [
        (int(code), " ".join(meaning.split()))
        for code, meaning in re.findall(
            r"^  (\d+)\s+(.*(?:\n {6,}\S.*)*)", "\n".join(section(r.out, "Exit codes")), re.M
        )
    ]
    assert shown == [(code, exit_meaning(command, code)) for code in COMMAND_EXITS[command]]


@pytest.mark.parametrize(
    ("command", "row"),
    [
        ("validate", "[PATH]..."),
        ("plan", "[PATH]..."),
        ("claims", "[PATH]..."),
        ("show", "PLANFILE"),
        ("apply", "[PLANFILE | PATH...]"),
    ],
)
def test_arguments_are_listed_as_the_usage_line_writes_them(
    command: str, row: str, tmp_path: Path
) -> None:
    r = pisync([command, "--help"], cwd=tmp_path)
    (first, *_) = section(r.out, "Arguments")
    assert first.split("  ")[1] == row


def test_the_exit_tables_hold_exactly_the_codes_pisync_can_return() -> None:
    every = set().union(*(set(codes) for codes in COMMAND_EXITS.values()))
    assert every == codes_the_cli_can_return()
    for codes in COMMAND_EXITS.values():
        assert {0, 1, 64, 130} <= set(codes)
        assert list(codes) == sorted(codes)
    assert {2, 3, 4} <= set(COMMAND_EXITS["plan"])
    assert {3, 4, 5, 6, 143} <= set(COMMAND_EXITS["apply"])
    assert {3, 5} <= set(COMMAND_EXITS["show"])


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["plan", "-out=plan.json"], "--out=plan.json"),
        (["plan", "-detailed-exitcode"], "--detailed-exitcode"),
        (["apply", "-auto-approve"], "--auto-approve"),
        (["plan", "-no-color"], "--no-color"),
        (["-no-color", "plan"], "--no-color"),
        (["show", "-format", "json", "plan.json"], "--format"),
    ],
)
def test_terraform_single_dash_options_get_the_pisync_spelling(
    args: list[str], hint: str, tmp_path: Path
) -> None:
    given = next(a for a in args if a.startswith("-"))
    r = pisync(args, cwd=tmp_path)

    assert r.code == 64, r.all
    assert r.err == (
        f"Error: {given}: pisync's long options start with two dashes; did you mean {hint}?\n"
    )
    assert r.out == ""


def test_short_options_and_values_that_look_like_options_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text("users:\n  - usercode: A\n", encoding="utf-8")

    quiet = pisync(["-vv", "validate", "-q"], cwd=tmp_path)
    unknown = pisync(["plan", "-nonsense"], cwd=tmp_path)
    after_dashes = pisync(["validate", "--", "-out=x"], cwd=tmp_path)

    assert (quiet.code, quiet.out) == (0, "1 file valid: 1 user, 0 roles.\n")
    assert unknown.code == 64
    assert "No such option: -n" in unknown.err
    assert after_dashes.code == 64
    assert after_dashes.err == "Error: -out=x: no such file or folder\n"
