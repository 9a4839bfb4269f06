"""A stand-in ``pisync`` for running the workflows and scripts locally: it behaves as the scenario
file in ``$FAKE_PISYNC_SCENARIO`` says (exit code, what it prints, the plan or report it writes)
and logs every call (arguments, the working folder and, for apply, its git commit, and which
PISYNC_* variables were set) to ``$FAKE_PISYNC_LOG``.

The real CLI is tested elsewhere; here only its interface matters: the options the workflows
pass, the files they expect, the exit codes they map, and what ``pisync show`` says of a saved
plan (``--summary --format json``: ``summary``, ``escalations`` and ``changes``, as the real one
writes them, which tests/kit/test_kit_contract.py checks against the real CLI). A plan file may
steer its own ``show`` and ``apply``: ``fake_markdown`` (what ``show --format markdown``
prints), ``fake_show_exit`` (``show`` refuses it) and ``fake_apply_exit``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

GLOBAL_WITH_VALUE = ("--url", "--server-urls", "--config", "--max-rps")


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def git_head() -> str:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def command_of(args: list[str]) -> tuple[str, list[str]]:
    """The subcommand and its arguments, global options (``--url URL`` …) skipped."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in GLOBAL_WITH_VALUE else 1
    return (args[i], args[i + 1 :]) if i < len(args) else ("", [])


def show(scenario: dict[str, Any], rest: list[str]) -> int:
    plan = json.loads(Path(rest[0]).read_text())
    if "fake_show_exit" in plan:
        sys.stderr.write(f"error: {rest[0]}: the plan file was changed after it was written\n")
        return int(plan["fake_show_exit"])
    fmt = option(rest, "--format") or "text"
    if "--summary" in rest and fmt == "json":
        doc = {
            "summary": plan["summary"],
            "escalations": [
                a["usercode"] for a in plan.get("access", []) if a.get("escalation") is True
            ],
            "changes": [
                {"kind": c.get("kind"), "key": c.get("key"), "action": c.get("action")}
                for c in plan.get("changes", [])
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    if fmt == "markdown":
        default = f"## pisync plan\n\n(fake) {json.dumps(plan['summary'], sort_keys=True)}\n"
        sys.stdout.write(plan.get("fake_markdown") or scenario.get("show_markdown") or default)
        return 0
    print(f"[{fmt}] {json.dumps(plan['summary'], sort_keys=True)}")
    return 0


def main() -> int:
    args = sys.argv[1:]
    text = Path(os.environ["FAKE_PISYNC_SCENARIO"]).read_text()
    scenario = json.loads(text) if text.strip() else {}
    command, rest = command_of(args)
    with open(os.environ["FAKE_PISYNC_LOG"], "a", encoding="utf-8") as log:
        env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("PISYNC_")}
        env.pop("PISYNC_KIT", None)
        entry = {
            "args": args,
            "env": env,
            "cwd": os.getcwd(),
            "head": git_head() if command == "apply" else "",
        }
        log.write(json.dumps(entry) + "\n")
    if args == ["--version"]:
        print("pisync, version 0.1.0")
        return 0
    step = scenario.get(command, {})
    if command == "validate":
        fmt = option(rest, "--format") or "text"
        print(step.get(fmt, "1 file valid: 1 user, 0 roles."))
        return int(step.get("exit", 0))
    if command == "plan":
        out = option(rest, "--out")
        if out and "plan" in step:
            Path(out).write_text(json.dumps(step["plan"], indent=2) + "\n")
        sys.stdout.write(step.get("markdown", ""))
        sys.stderr.write(step.get("stderr", ""))
        return int(step.get("exit", 0))
    if command == "show":
        return show(scenario, rest)
    if command == "apply":
        plan = json.loads(Path(rest[0]).read_text()) if rest[0].endswith(".json") else {}
        report = option(rest, "--report")
        if report and "report" in step:
            Path(report).write_text(json.dumps(step["report"]) + "\n")
        sys.stdout.write(step.get("stdout", ""))
        sys.stderr.write(step.get("stderr", ""))
        return int(plan.get("fake_apply_exit", step.get("exit", 0)))
    print(f"fake pisync: no such command {command}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
