"""The documentation stays true to the code: the YAML reference is the schemas', the exit codes
and environment variables listed are the ones the code uses, and every link resolves."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import signal
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reconciler.core.yamlfile.read import parse_yaml
from reconciler.schemas import load_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "yaml-reference.md"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]
KIT_README = ROOT / "examples" / "github-actions" / "README.md"


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


# --- exit codes --------------------------------------------------------------------------


def _ints(node: ast.AST | None) -> set[int]:
    """The int literal ``node`` is, if it is one."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return {node.value}
    return set()


def codes_the_cli_can_return() -> set[int]:
    """Every exit status pisync's code can produce, read from its source: the ``exit_code`` of
    each error class, every ``EXIT_*`` constant, every literal ``return N`` of a command flow or
    the CLI, ``sys.exit(N)``/``typer.Exit(N)`` literals, and 128 + each signal apply handles."""
    shell = ROOT / "reconciler" / "shell"
    files = [ROOT / "reconciler" / "errors.py", shell / "cli.py", *sorted(shell.glob("flows/*.py"))]
    codes: set[int] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any(n == "exit_code" or n.startswith("EXIT_") for n in names):
                    codes |= _ints(node.value)
            elif isinstance(node, ast.Return):
                codes |= _ints(node.value)
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "sys.exit",
                "typer.Exit",
            ):
                codes |= _ints(node.args[0] if node.args else None)
    handled = set(re.findall(r"signal\.(SIG[A-Z]+)", (shell / "signals.py").read_text("utf-8")))
    codes |= {128 + int(getattr(signal, name)) for name in handled}
    return codes


def test_exit_codes_page_lists_exactly_the_codes_the_code_returns() -> None:
    page = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    listed = {int(c) for c in re.findall(r"^\| (\d+) \|", page, flags=re.M)}
    found = codes_the_cli_can_return()
    assert found >= {0, 1, 2, 3, 4, 5, 6, 64, 130, 143}  # the scan itself still sees them
    assert listed == found


def test_readme_exit_code_table_matches_the_page() -> None:
    page = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Exit codes") :]
    section = section[: section.index("\n## ", 1)]
    assert {int(c) for c in re.findall(r"^\| (\d+) \|", section, flags=re.M)} == {
        int(c) for c in re.findall(r"^\| (\d+) \|", page, flags=re.M)
    }


# --- environment variables ---------------------------------------------------------------

ENV_NAME = re.compile(r"(PISYNC_[A-Z_]+|GITHUB_ACTIONS|GITHUB_STEP_SUMMARY|NO_COLOR)")


def variables_the_code_reads() -> set[str]:
    """Environment variable names that appear as string literals in reconciler/ (a prefix such
    as ``PISYNC_VAR_`` in an f-string counts as the prefix)."""
    names: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = ENV_NAME.fullmatch(node.value)
                if match:
                    names.add(match.group(1))
    return names


def test_environment_page_lists_every_variable_the_code_reads() -> None:
    # the kit's workflows read the last section's variables, not pisync
    page = (
        (DOCS / "environment.md").read_text(encoding="utf-8").split("## The GitHub Actions kit")[0]
    )
    documented = set(re.findall(r"^\| `([A-Z_]+)", page, flags=re.M))
    documented |= {"PISYNC_VAR_"} if "| `PISYNC_VAR_<USER>_<NAME>`" in page else set()
    read = variables_the_code_reads()
    assert {"PISYNC_URL", "PISYNC_TOKEN", "PISYNC_VAR_", "NO_COLOR"} <= read
    assert sorted(read - documented) == []
    own = {n for n in documented if n.startswith("PISYNC_")}
    assert sorted(own - read) == []  # no variable documented that the code does not read


# --- links -------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors_of(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (code blocks skipped)."""
    text = re.sub(r"^```.*?^```$", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    made = generator().Anchors()
    return {made.add(h) for h in re.findall(r"^#{1,6} (.+?)\s*$", text, flags=re.M)}


def links(page: Path) -> Iterator[str]:
    text = re.sub(r"^```.*?^```$", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    yield from LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # https://… and mailto: are not files
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if ROOT not in path.parents and path != ROOT:
            broken.append(f"{target}: outside the repository")
        elif not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors_of(path):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


def test_the_link_check_finds_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](#title) [b](#nope) [c](missing.md)\n", encoding="utf-8")
    assert list(links(page)) == ["#title", "#nope", "missing.md"]
    assert anchors_of(page) == {"title"}


def install_commands(page: Path) -> list[str]:
    """The ``pip install`` commands in a page's code blocks (a shell comment after ``#`` is
    prose, not a command)."""
    text = page.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"^```[a-z]*\n(.*?)^```$", text, flags=re.M | re.S))
    lines = (line.split(" #", 1)[0] for line in code.splitlines())
    return [m.strip() for line in lines for m in re.findall(r"pip install [^;&|]+", line)]


def installs_pypi_pisync(command: str) -> bool:
    """Whether a ``pip install`` command asks the package index for the name ``pisync``."""
    words = shlex.split(command)[2:]
    return any(
        re.fullmatch(r"pisync(\[[^\]]*\])?([=<>!~].*)?", w) and words[i + 1 : i + 2] != ["@"]
        for i, w in enumerate(words)
    )


def test_no_page_installs_the_unrelated_pypi_project_named_pisync() -> None:
    commands = [c for p in [*PAGES, KIT_README] for c in install_commands(p)]
    assert any("git+" in c for c in commands)  # the pages do say how to install
    assert [c for c in commands if installs_pypi_pisync(c)] == []


def test_the_install_check_catches_the_pypi_name(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("```sh\npip install pisync  # no\npip install ./x\n```\n", encoding="utf-8")
    assert install_commands(page) == ["pip install pisync", "pip install ./x"]
    assert [installs_pypi_pisync(c) for c in install_commands(page)] == [True, False]
    assert installs_pypi_pisync("pip install -U 'pisync[dev]==0.1'")
    assert not installs_pypi_pisync('pip install "pisync @ git+https://example.com/pisync"')
    assert not installs_pypi_pisync("pip install pisync @ git+https://example.com/pisync")


# --- commands the pages name ---------------------------------------------------------------

_COMMAND_MENTION = re.compile(r"`pisync ([a-z][a-z-]*)")


def command_mentions(page: Path) -> set[str]:
    """The words that follow ``pisync`` at the start of an inline code span or code line."""
    text = page.read_text(encoding="utf-8")
    found = set(_COMMAND_MENTION.findall(text))
    for block in re.findall(r"(?ms)^\s*```(?:sh|bash|console|shell)\n(.*?)^\s*```", text):
        found |= set(re.findall(r"(?m)^\s*(?:\$ )?pisync ([a-z][a-z-]*)", block))
    return found


def cli_commands() -> set[str]:
    import typer.main

    from reconciler.shell.cli import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


@pytest.mark.parametrize("page", [*PAGES, KIT_README], ids=lambda p: p.name)
def test_every_pisync_command_a_page_names_exists(page: Path) -> None:
    assert sorted(command_mentions(page) - cli_commands()) == []


def test_the_command_check_finds_a_command_that_does_not_exist(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "Run `pisync drift` daily.\npisync is prose.\n\n```sh\npisync plan\n```\n", encoding="utf-8"
    )
    assert command_mentions(page) == {"drift", "plan"}
    assert "drift" not in cli_commands()
    assert "plan" in cli_commands()
