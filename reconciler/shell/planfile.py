"""Saved plans (``plan --out FILE``, ``apply FILE``): written atomically, read back whole."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.plan import Plan
from reconciler.core.render import render_json
from reconciler.errors import UsageError
from reconciler.shell.files import write_atomic


def write_plan_file(plan: Plan, path: str) -> None:
    """Write the JSON plan atomically (no partial file on failure)."""
    write_atomic(path, render_json(plan), what="the plan")


def read_plan_file(path: str) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Plan.from_dict(data)
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a pisync plan file: {exc}") from None
