"""A fleet's plan as JSON. Pure.

:func:`render_json` is the bundle (``FleetPlan.to_document()``, documented by
``schemas/bundle.schema.json``): what ``--out`` writes and ``--format json`` prints.
:func:`render_summary_json` is its ``--summary`` form: the fleet's totals (``summary``), every
change and escalation named with its server (``changes``, ``escalations``: the keys a
single server's summary has, so a script that reads one reads the other), the exit code, and
each server's own summary document with its name, result and why it was planned.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.plans.fleet import FleetPlan
from reconciler.core.render import summary


def render_json(fleet: FleetPlan) -> str:
    """The bundle document."""
    return json.dumps(fleet.to_document(), indent=2, ensure_ascii=False) + "\n"


def render_summary_json(fleet: FleetPlan) -> str:
    """The fleet's summary document (module docstring)."""
    servers: list[dict[str, Any]] = [
        {
            "name": s.name,
            "url": s.url,
            "status": s.status,
            "exit_code": s.exit_code,
            "reasons": list(s.reasons),
            "error": s.error,
            "summary": None if s.plan is None else json.loads(summary.render_json(s.plan)),
        }
        for s in fleet.servers
    ]
    c = fleet.counts
    doc: dict[str, Any] = {
        "kind": "bundle-summary",
        "exit_code": fleet.exit_code,
        "changed_since": fleet.changed_since,
        "summary": {
            "create": c.create,
            "update": c.update,
            "disable": c.disable,
            "delete": c.delete,
        },
        "escalations": [
            f"{s['name']}: {code}"
            for s in servers
            if s["summary"] is not None
            for code in s["summary"]["escalations"]
        ],
        "changes": [
            {**change, "server": s["name"]}
            for s in servers
            if s["summary"] is not None
            for change in s["summary"]["changes"]
        ],
        "servers": servers,
        "skipped": [{"name": n, "reason": r} for n, r in fleet.skipped],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
