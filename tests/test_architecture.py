"""The architecture, checked: every Panintelligence wire name lives in ``reconciler/pi/``.

import-linter keeps the layers apart (pyproject's contracts); this keeps the vocabulary apart:
no module outside the adapter contains a field name, element key, envelope key, path or header
scheme that exists only on the wire — not in code, not in a message, not in a docstring — so
that correcting a guess about the API is a change in ``reconciler/pi/`` alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from reconciler.pi.wire import WIRE_ONLY_NAMES

ROOT = Path(__file__).resolve().parents[1]


def strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def wire_names_in(text: str) -> list[str]:
    return [
        name
        for name in WIRE_ONLY_NAMES
        if re.search(r"(?<![A-Za-z])" + re.escape(name) + r"(?![A-Za-z])", text)
    ]


def test_no_module_outside_the_adapter_names_the_wire() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {', '.join(names)}"
        for path in sorted((ROOT / "reconciler").rglob("*.py"))
        if "pi" not in path.relative_to(ROOT / "reconciler").parts[:1]
        for line, text in strings(path)
        if (names := wire_names_in(text))
    ]
    assert found == []


def test_the_check_would_see_a_wire_name() -> None:
    assert wire_names_in('user["userRoles"]') == ["userRoles"]
    assert wire_names_in("GET /users/syncPayload?usercode=") == ["syncPayload", "/users"]
    assert wire_names_in("the users' roles, a Basic idea") == ["Basic"]
    assert wire_names_in("roles and users") == []


def loop_runs_in(tree: ast.AST) -> list[int]:
    """Lines that run a coroutine with ``asyncio.run(...)`` or ``<runner>.run(...)``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and (
            (isinstance(node.func.value, ast.Name) and node.func.value.id in ("asyncio", "runner"))
            or (isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "runner")
        )
    ]


def test_every_coroutine_runs_through_shell_loop() -> None:
    """Python 3.11's Runner formats a task's result (a whole plan) for a message it drops;
    ``reconciler/shell/loop.py`` keeps results out of the task, so nothing else runs the loop."""
    loop = ROOT / "reconciler" / "shell" / "loop.py"
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "reconciler").rglob("*.py"))
        if path != loop
        for line in loop_runs_in(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_loop_check_would_see_a_direct_run() -> None:
    code = "asyncio.run(main())\nself.runner.run(go())\nrunner.run(x)\nsubprocess.run([])\n"
    assert loop_runs_in(ast.parse(code)) == [1, 2, 3]


def import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(imports.get(module, ())):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_circle_anywhere() -> None:
    """No two modules of pisync or the emulator import each other, even through others (a
    TYPE_CHECKING import counts: it is an arrow a reader follows too)."""
    import grimp  # import-linter's graph builder

    graph = grimp.build_graph("reconciler", "pi_emulator", cache_dir=None)
    imports = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert import_cycles(imports) == []


def test_the_circle_check_would_see_a_circle() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert import_cycles(imports) == [["a", "b", "c"]]
