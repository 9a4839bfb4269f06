"""Bundles: a fleet's plans in one file (``plan --server/--all-servers --out FILE``), read back
whole and checked before anything is shown or applied — the bundle against
``schemas/bundle.schema.json`` and its digest, each server's plan as a single saved plan is
checked (:func:`reconciler.shell.planfile.plan_from_document`) — and shard bundles joined
into one (:func:`read_bundles`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.core.desired.schema import document_problems
from reconciler.core.model.issues import error
from reconciler.core.plans.fleet import (
    BUNDLE_FORMAT_VERSION,
    BUNDLE_KIND,
    FleetPlan,
    ServerPlan,
    bundle_digest,
    merge,
)
from reconciler.errors import InvalidStateError, StalePlanError
from reconciler.schemas import load_schema
from reconciler.shell.files import write_atomic
from reconciler.shell.planfile import plan_from_document, read_json


def write_bundle(fleet: FleetPlan, path: str) -> None:
    """Write the bundle atomically (no partial file on failure)."""
    text = json.dumps(fleet.to_document(), indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, text, what="the plan bundle")


def is_bundle(path: str) -> bool:
    """Whether the JSON file at ``path`` is a bundle (False for a plan, or anything else)."""
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return '"kind": "bundle"' in head


def read_bundle(path: str, *, applying: bool = True) -> FleetPlan:
    """The bundle at ``path``, or an error that says why it cannot be used."""
    nothing = "; nothing was applied" if applying else ""
    data = read_json(path, "plan bundle", nothing)
    if not isinstance(data, dict) or data.get("kind") != BUNDLE_KIND:
        raise InvalidStateError(f"{path} is not a pisync plan bundle{nothing}")
    if data.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise InvalidStateError(
            f"{path} is a plan bundle of format_version {data.get('format_version')!r}, not"
            f" {BUNDLE_FORMAT_VERSION}; make it again with this pisync{nothing}"
        )
    problems = document_problems(load_schema("bundle"), data)
    if problems:
        raise InvalidStateError(
            f"{path} does not match bundle.schema.json{nothing}",
            [error(None, f"{path}: {p}") for p in problems],
        )
    if data.get("digest") != bundle_digest(data):
        raise StalePlanError(
            f"{path} was changed after pisync wrote it (its content does not match its"
            f" digest){nothing}. Make the plans again and review them"
        )
    servers = []
    for entry in data["servers"]:
        where = f"{path} (server {entry['name']})"
        doc = entry["plan"]
        plan = None if doc is None else plan_from_document(doc, where, applying=applying)
        if plan is not None and plan.server.rstrip("/") != str(entry["url"]).rstrip("/"):
            raise StalePlanError(
                f"{where}: the plan is bound to {plan.server}, not to the server's url"
                f" {entry['url']}{nothing}"
            )
        servers.append(ServerPlan.from_dict(entry, plan))
    shard = data["shard"]
    return FleetPlan(
        servers=tuple(servers),
        skipped=tuple((str(s["name"]), str(s["reason"])) for s in data["skipped"]),
        changed_since=data["changed_since"],
        shard=None if shard is None else (int(shard["index"]), int(shard["count"])),
        notes=tuple(str(n) for n in data["notes"]),
    )


def read_bundles(paths: Sequence[str], *, applying: bool = False, join: bool = True) -> FleetPlan:
    """Shard bundles joined into one (each checked as :func:`read_bundle`); parts that do
    not make one fleet's plan are refused (exit 3), saying why (a shard missing included).
    ``join=False``: one bundle, shown as it is (a shard alone is fine)."""
    parts = [read_bundle(p, applying=applying) for p in paths]
    if not join and len(parts) == 1:
        return parts[0]
    joined, problems = merge(parts)
    if joined is None:
        raise InvalidStateError(
            "these bundles do not join into one plan: " + "; ".join(problems),
            [error(None, p) for p in problems],
        )
    return joined
