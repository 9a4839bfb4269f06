"""A stand-in ``pisync`` for running the workflows locally: it behaves as the scenario file in
``$FAKE_PISYNC_SCENARIO`` says (exit code, what it prints, the plan or report it writes) and logs
every call (arguments, and which PISYNC_* variables were set) to ``$FAKE_PISYNC_LOG``.

The real CLI is tested elsewhere; here only its interface (SPEC §4) matters: the options the
workflows pass, the files they expect and the exit codes they map.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def main() -> int:
    args = sys.argv[1:]
    scenario = json.loads(Path(os.environ["FAKE_PISYNC_SCENARIO"]).read_text())
    with open(os.environ["FAKE_PISYNC_LOG"], "a", encoding="utf-8") as log:
        env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("PISYNC_")}
        env.pop("PISYNC_KIT", None)
        log.write(json.dumps({"args": args, "env": env}) + "\n")
    if args == ["--version"]:
        print("pisync, version 0.1.0")
        return 0
    command = args[0]
    step = scenario.get(command, {})
    if command == "validate":
        fmt = option(args, "--format") or "text"
        print(step.get(fmt, "1 file valid: 1 user, 0 roles."))
        return int(step.get("exit", 0))
    if command == "plan":
        out = option(args, "--out")
        if out and "plan" in step:
            Path(out).write_text(json.dumps(step["plan"], indent=2) + "\n")
        sys.stdout.write(step.get("markdown", ""))
        sys.stderr.write(step.get("stderr", ""))
        return int(step.get("exit", 0))
    if command == "show":
        plan = json.loads(Path(args[1]).read_text())
        fmt = option(args, "--format") or "text"
        print(f"[{fmt}] {json.dumps(plan['summary'], sort_keys=True)}")
        return 0
    if command == "apply":
        report = option(args, "--report")
        if report and "report" in step:
            Path(report).write_text(json.dumps(step["report"]) + "\n")
        sys.stdout.write(step.get("stdout", ""))
        sys.stderr.write(step.get("stderr", ""))
        return int(step.get("exit", 0))
    print(f"fake pisync: no such command {command}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
