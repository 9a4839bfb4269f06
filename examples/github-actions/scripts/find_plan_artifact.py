"""Find the reviewed plan of a pushed commit: its merged pull request, the latest successful
plan run for that pull request's head commit, and the plan artifact that run uploaded.

Prints (and writes to ``$GITHUB_OUTPUT``) ``pr``, ``head_sha``, ``run_id``, ``run_url``,
``artifact_id`` and ``artifact_name``, for ``actions/download-artifact`` with ``name``,
``run-id`` and ``github-token``. Exit 3 with a message when there is no such plan (a direct
push, a plan that never passed, an expired artifact); exit 1 on an API error.

    find_plan_artifact.py --commit SHA [--workflow pisync-plan.yml] [--prefix pisync-plan]

The plan workflow names its artifact ``{prefix}-pr{number}-{head sha}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import ghkit

RETRY_HINT = (
    "Nothing was applied. Changes reach Panintelligence only through a reviewed pull request "
    "plan: open a pull request for them, or run this workflow by hand with full_apply to plan "
    "and apply the whole desired state."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", required=True, help="the pushed commit (github.sha)")
    parser.add_argument(
        "--workflow", default="pisync-plan.yml", help="file name of the plan workflow"
    )
    parser.add_argument("--prefix", default="pisync-plan", help="artifact name prefix")
    return parser.parse_args(argv)


def artifact_name(prefix: str, pr: int, head_sha: str) -> str:
    return f"{prefix}-pr{pr}-{head_sha}"


def merged_pull_request(gh: ghkit.GitHub, commit: str) -> Mapping[str, Any]:
    """The merged pull request the commit came from: the one whose merge commit it is, else the
    most recently merged one that contains it."""
    merged = [
        pr for pr in gh.paginate(gh.repo_path("commits", commit, "pulls")) if pr.get("merged_at")
    ]
    exact = [pr for pr in merged if pr.get("merge_commit_sha") == commit]
    if exact:
        return dict(exact[0])
    if merged:
        return dict(max(merged, key=lambda pr: (str(pr["merged_at"]), int(pr["number"]))))
    raise ghkit.Stop(
        f"Commit {ghkit.short(commit)} did not come from a merged pull request (a direct "
        f"push?). {RETRY_HINT}"
    )


def successful_runs(gh: ghkit.GitHub, workflow: str, head_sha: str) -> list[Mapping[str, Any]]:
    """The workflow's successful pull_request runs for ``head_sha``, newest first."""
    runs = [
        run
        for run in gh.paginate(
            gh.repo_path("actions", "workflows", workflow, "runs"),
            {"head_sha": head_sha, "status": "success", "event": "pull_request"},
        )
        if run.get("head_sha") == head_sha and run.get("conclusion") == "success"
    ]
    return sorted(
        runs,
        key=lambda run: (str(run.get("run_started_at") or run.get("created_at")), int(run["id"])),
        reverse=True,
    )


def run_artifact(gh: ghkit.GitHub, run_id: int, name: str) -> Mapping[str, Any] | None:
    for artifact in gh.paginate(
        gh.repo_path("actions", "runs", run_id, "artifacts"), {"name": name}
    ):
        if artifact.get("name") == name and not artifact.get("expired"):
            return dict(artifact)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    gh = ghkit.GitHub.from_env()
    pr = merged_pull_request(gh, args.commit)
    number = int(pr["number"])
    head_sha = str(pr["head"]["sha"])
    print(f"commit {ghkit.short(args.commit)} merged pull request #{number} (head {head_sha})")
    runs = successful_runs(gh, args.workflow, head_sha)
    if not runs:
        raise ghkit.Stop(
            f"Pull request #{number} has no successful {args.workflow} run for its head commit "
            f"{ghkit.short(head_sha)}: its plan never passed review (the check failed, was "
            f"cancelled or was skipped). {RETRY_HINT}"
        )
    name = artifact_name(args.prefix, number, head_sha)
    for run in runs:
        artifact = run_artifact(gh, int(run["id"]), name)
        if artifact is not None:
            print(f"plan artifact {name} of run {run['id']}")
            ghkit.set_outputs(
                {
                    "pr": number,
                    "head_sha": head_sha,
                    "run_id": int(run["id"]),
                    "run_url": str(run.get("html_url") or ""),
                    "artifact_id": int(artifact["id"]),
                    "artifact_name": name,
                }
            )
            return 0
    ids = ", ".join(str(run["id"]) for run in runs)
    raise ghkit.Stop(
        f"No unexpired artifact {name} in the successful {args.workflow} runs of pull request "
        f"#{number} (runs {ids}); artifacts expire after the repository's retention period. "
        f"{RETRY_HINT}"
    )


if __name__ == "__main__":
    ghkit.run(main)
