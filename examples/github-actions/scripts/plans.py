"""The reviewed plan of a pull request: its artifact, found and downloaded through the API, and
what a saved plan holds, read through ``pisync show`` — the one renderer of a saved plan, which
checks the file as apply does. The kit never reads a plan file's JSON itself.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import ghkit

#: The plan workflow's artifacts are named ``{prefix}-pr{number}-{head sha}``.
DEFAULT_PREFIX: Final = "pisync-plan"
DEFAULT_WORKFLOW: Final = "pisync-plan.yml"
#: The only event whose runs use the default branch's plan workflow on a pull request.
PLAN_EVENT: Final = "pull_request_target"
PLAN_FILES: Final = ("plan.json", "plan.md")


def artifact_name(prefix: str, pr: int, head_sha: str) -> str:
    return f"{prefix}-pr{pr}-{head_sha}"


@dataclass(frozen=True)
class PlanArtifact:
    """A plan artifact uploaded by a successful plan run of a pull request's head commit."""

    pr: int
    head_sha: str
    name: str
    artifact_id: int
    run_id: int
    run_url: str


class PlanMissing(Exception):
    """No usable plan artifact: the message says which and why."""


def find_plan_artifact(
    gh: ghkit.GitHub,
    pr: int,
    head_sha: str,
    *,
    workflow: str = DEFAULT_WORKFLOW,
    prefix: str = DEFAULT_PREFIX,
) -> PlanArtifact:
    """The newest unexpired artifact ``{prefix}-pr{pr}-{head_sha}`` of a successful
    ``pull_request_target`` run of ``.github/workflows/{workflow}``; artifacts of other runs
    with that name (a branch's own workflow, another event, a failed run) are passed over."""
    name = artifact_name(prefix, pr, head_sha)
    found = [
        a
        for a in gh.paginate(gh.repo_path("actions", "artifacts"), {"name": name})
        if a.get("name") == name and not a.get("expired")
    ]
    found.sort(key=lambda a: (str(a.get("created_at") or ""), int(a["id"])), reverse=True)
    passed_over = []
    for artifact in found:
        run_id = int((artifact.get("workflow_run") or {}).get("id") or 0)
        if not run_id:
            continue
        run = gh.call("GET", gh.repo_path("actions", "runs", run_id))
        why = _not_a_plan_run(run, workflow)
        if why is None:
            return PlanArtifact(
                pr, head_sha, name, int(artifact["id"]), run_id, str(run.get("html_url") or "")
            )
        passed_over.append(f"run {run_id} {why}")
    detail = f" ({'; '.join(passed_over)})" if passed_over else ""
    raise PlanMissing(
        f"pull request #{pr} has no reviewed plan for its head commit {ghkit.short(head_sha)}: "
        f"no successful {workflow} run on {PLAN_EVENT} uploaded an unexpired artifact {name}"
        f"{detail}. The plan check failed, was cancelled or never ran, or the artifact expired."
    )


def _not_a_plan_run(run: Mapping[str, Any], workflow: str) -> str | None:
    path = str(run.get("path") or "").split("@", 1)[0]
    if path != f".github/workflows/{workflow}":
        return f"is of {path or 'another workflow'}"
    if run.get("event") != PLAN_EVENT:
        return f"ran on {run.get('event')}, not {PLAN_EVENT}"
    if run.get("conclusion") != "success":
        return f"did not succeed ({run.get('conclusion') or run.get('status')})"
    return None


def download_plan(gh: ghkit.GitHub, artifact: PlanArtifact, folder: Path) -> Path:
    """Download the artifact's zip and write its ``plan.json`` (and ``plan.md``) into
    ``folder``; nothing else of the archive is written. The path of ``plan.json``."""
    data = gh.download(gh.repo_path("actions", "artifacts", artifact.artifact_id, "zip"))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise PlanMissing(f"artifact {artifact.name} is not a zip archive") from None
    folder.mkdir(parents=True, exist_ok=True)
    with archive:
        names = set(archive.namelist())
        if "plan.json" not in names:
            raise PlanMissing(f"artifact {artifact.name} holds no plan.json")
        for name in PLAN_FILES:
            if name not in names:
                continue
            info = archive.getinfo(name)
            if info.file_size > ghkit.MAX_DOWNLOAD:
                raise PlanMissing(f"{name} of artifact {artifact.name} is too large")
            with archive.open(info) as member:
                (folder / name).write_bytes(member.read(ghkit.MAX_DOWNLOAD + 1))
    return folder / "plan.json"


# --- pisync show: what a saved plan holds ---------------------------------------------------


class PlanRefused(Exception):
    """``pisync show`` refused the plan file: its exit code and pisync's own words."""

    def __init__(self, planfile: str, code: int, said: str) -> None:
        self.code = code
        self.said = said
        super().__init__(f"pisync show {planfile} refused the plan (exit {code})")


def pisync_show(planfile: str | Path, *options: str) -> str:
    """``pisync show PLANFILE OPTIONS…``: its output, or PlanRefused."""
    proc = subprocess.run(  # noqa: S603 - arguments as a list
        ["pisync", "show", str(planfile), *options],  # noqa: S607 - the pisync installed
        capture_output=True,
        text=True,
        check=False,
        env=ghkit.pisync_environment(),
    )
    if proc.returncode != 0:
        raise PlanRefused(str(planfile), proc.returncode, proc.stderr + proc.stdout)
    return proc.stdout


def show_markdown(planfile: str | Path) -> str:
    """The plan as ``pisync show PLANFILE --format markdown`` renders it."""
    return pisync_show(planfile, "--format", "markdown")


@dataclass(frozen=True)
class PlanSummary:
    """What ``pisync show PLANFILE --summary --format json`` says of a plan."""

    counts: Mapping[str, int]
    changes: int
    escalations: Sequence[str]

    @property
    def line(self) -> str:
        """``Plan: 1 to create, 4 to update, 0 to disable, 0 to delete.`` as pisync says it."""
        parts = [
            f"{int(self.counts.get(k, 0))} to {k}"
            for k in ("create", "update", "disable", "delete")
        ]
        return f"Plan: {', '.join(parts)}."


def show_summary(planfile: str | Path) -> PlanSummary:
    text = pisync_show(planfile, "--summary", "--format", "json")
    try:
        doc = json.loads(text)
        counts = {str(k): int(v) for k, v in dict(doc["summary"]).items()}
        changes = len(doc.get("changes") or [])
        escalations = [str(u) for u in doc.get("escalations") or []]
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanRefused(str(planfile), 0, f"unexpected summary from pisync show: {exc}") from None
    return PlanSummary(counts, changes, tuple(escalations))
