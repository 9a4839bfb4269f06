"""The plan as JSON. Pure.

JSON (:func:`render_json`) is ``Plan.to_document()`` (``to_dict()`` and its digest), documented
by ``schemas/plan.schema.json``.
"""

from __future__ import annotations

import json

from reconciler.core.plans.plan import Plan

# --- json ------------------------------------------------------------------------------------


def render_json(plan: Plan) -> str:
    """The saved-plan form (``plan --out``), documented by ``schemas/plan.schema.json``."""
    return json.dumps(plan.to_document(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
