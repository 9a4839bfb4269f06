"""fleet/pisync-plan.yml: a matrix of shards that plans a fleet, and one job that joins the
shards into one comment and one bundle. The same standards as the other workflows (GitHub's
schema, actionlint with shellcheck, pinned actions, the pull request as data, credentials only
in the environment's server step), every server's URL from the variable, the 256-job limit of
a matrix, and the contract with the real pisync: the kit's scripts read a bundle as a plan."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import KIT
from gha_local import load_workflow
from test_kit_workflows import BIN, PINS, actionlint, by_name, module, strings

from reconciler.core.plans.fleet import FleetPlan, ServerPlan, bundle_digest
from reconciler.core.plans.plan import document_digest
from tests.core.render.test_render import access_escalation, empty

FLEET = "fleet/pisync-plan.yml"


def fleet_jobs() -> dict[str, dict[str, Any]]:
    return dict(load_workflow(KIT / FLEET)["jobs"])


def test_the_fleet_workflow_passes_githubs_schema_and_actionlint() -> None:
    schema = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(KIT / FLEET),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    linted = actionlint(KIT / FLEET)

    assert (schema.returncode, schema.stdout.strip()) == (0, "ok -- validation done")
    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "", "")


def test_shards_then_one_merge_job() -> None:
    data = load_workflow(KIT / FLEET)
    jobs = fleet_jobs()

    assert set(data["on"]) == {"pull_request_target"}
    assert data["permissions"] == {}
    assert list(jobs) == ["shards", "plan", "merge"]
    assert jobs["plan"]["needs"] == "shards"
    assert jobs["plan"]["strategy"] == {
        "fail-fast": False,
        "matrix": {"shard": "${{ fromJSON(needs.shards.outputs.indexes) }}"},
    }
    assert jobs["merge"]["needs"] == ["shards", "plan"]
    assert jobs["merge"]["if"] == "${{ !cancelled() && needs.shards.result == 'success' }}"
    assert {n: j.get("permissions") for n, j in jobs.items()} == {
        "shards": None,
        "plan": {"contents": "read"},
        "merge": {"pull-requests": "write", "statuses": "write"},
    }
    for job in jobs.values():
        for step in job["steps"]:
            uses = step.get("uses")
            if uses:
                action, commit = uses.split("@")
                assert commit == PINS[action][0], step["name"]


def shards_step(count: str, tmp_path: Path) -> tuple[int, str, str]:
    step = by_name(FLEET, "Choose the number of shards")
    out = tmp_path / "out"
    out.write_text("")
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={"PATH": os.environ["PATH"], "SHARDS": count, "GITHUB_OUTPUT": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, out.read_text()


def test_the_matrix_never_goes_past_githubs_256_jobs(tmp_path: Path) -> None:
    assert shards_step("3", tmp_path) == (0, "", "count=3\nindexes=[1,2,3]\n")
    assert shards_step("256", tmp_path)[2].endswith(",255,256]\n")
    for bad in ("257", "0", "four"):
        code, said, _ = shards_step(bad, tmp_path)
        assert code == 1
        assert said == (
            "::error title=pisync setup::PISYNC_SHARDS must be a number from 1 to 256 (GitHub"
            f" runs at most 256 jobs of one matrix); it is {bad}.\n"
        )


def test_the_pull_request_is_data_and_every_url_comes_from_the_variable() -> None:
    plan = fleet_jobs()["plan"]
    in_pr = [s for s in plan["steps"] if s.get("working-directory") == "pr"]
    checkouts = [s["with"] for s in plan["steps"] if "checkout" in s.get("uses", "")]

    assert checkouts == [
        {
            "ref": "refs/pull/${{ github.event.pull_request.number }}/merge",
            "path": "pr",
            "fetch-depth": 0,
            "persist-credentials": False,
        }
    ]
    assert [s["name"] for s in in_pr] == [
        "Confirm it is the pushed head merged into the default branch",
        "Plan this shard's servers that the pull request touches",
    ]
    assert plan["env"]["PISYNC_SERVER_URLS"] == "${{ vars.PISYNC_SERVER_URLS }}"
    assert plan["env"]["PISYNC_CACHE"] == "off"
    assert plan["env"]["PISYNC_VERIFY_TLS"] == "true"
    calls = [
        line
        for job in fleet_jobs().values()
        for s in job["steps"]
        for line in re.sub(r" ?\\\n\s*", " ", s.get("run", "")).splitlines()
        if re.match(r"\s*pisync (--\S+ \S+ )?(plan|apply)\b", line)
    ]
    assert calls == [
        'pisync --server-urls "$PISYNC_SERVER_URLS" plan --changed-since "$BASE_SHA" --shard'
        ' "$SHARD" --out "$GITHUB_WORKSPACE/shard-$INDEX.json" --detailed-exitcode --format'
        " github"
    ]


def test_credentials_only_in_the_environment_and_only_where_pisync_plans() -> None:
    with_secrets = {
        (job_name, step["name"]): step.get("env", {})
        for job_name, job in fleet_jobs().items()
        for step in job["steps"]
        if any("secrets." in v for v in strings(step))
    }
    assert with_secrets == {
        ("plan", "Plan this shard's servers that the pull request touches"): {
            "PISYNC_FLEET_CREDENTIALS": "${{ secrets.PISYNC_FLEET_CREDENTIALS }}"
        }
    }
    assert {n: j.get("environment") for n, j in fleet_jobs().items()} == {
        "shards": None,
        "plan": "pisync-plan",
        "merge": None,
    }
    for job in fleet_jobs().values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step["name"]
            if "GITHUB_TOKEN" in step.get("env", {}):
                assert not re.search(r"^\s*pisync\b", step["run"], re.M), step["name"]


def test_the_kits_scripts_read_a_bundle_as_they_read_a_plan(tmp_path: Path) -> None:
    """The comment and the escalation label come from ``pisync show BUNDLE --summary --format
    json``, through the real pisync: the same keys as a single server's summary."""
    plans = module("plans")
    bundle = FleetPlan(
        servers=(
            ServerPlan(name="acme", url="https://acme.test/pi/api/v2", plan=access_escalation()),
            ServerPlan(name="beta", url="https://beta.test/pi/api/v2", plan=empty()),
        )
    )
    doc = bundle.to_document()
    for entry, server in zip(doc["servers"], bundle.servers, strict=True):
        entry["plan"] = {**entry["plan"], "server": server.url}
        entry["plan"]["digest"] = document_digest(entry["plan"])
    doc["digest"] = bundle_digest(doc)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"

    summary = plans.show_summary(path)

    assert summary.counts == {"create": 1, "update": 4, "disable": 0, "delete": 0}
    assert summary.escalations == ("acme: GRANTED", "acme: HOLDER", "acme: PROMOTED")
    assert summary.line == "Plan: 1 to create, 4 to update, 0 to disable, 0 to delete."
