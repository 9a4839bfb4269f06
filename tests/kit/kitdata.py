"""Test data of the kit's tests (imported by name: pytest puts this directory on sys.path): the
sample plans, plan artifacts as GitHub serves them (a zip), plan runs, pull requests, reviews."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gh_fake import BOT, REPO, FakeGitHub

DATA = Path(__file__).resolve().parent / "data"
PLAN_WORKFLOW_PATH = ".github/workflows/pisync-plan.yml"
APPLY = "pisync/apply"


def plan_data(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{name}.json").read_text()))


def md(name: str) -> str:
    return (DATA / f"{name}.md").read_text()


def plan_zip(
    plan: dict[str, Any], markdown: str = "## plan\n", extra: dict[str, str] | None = None
) -> bytes:
    """A plan artifact's zip as the artifact service serves it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plan.json", json.dumps(plan))
        archive.writestr("plan.md", markdown)
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def plan_run(
    run_id: int,
    *,
    created: str = "2026-01-02T09:00:00Z",
    event: str = "pull_request_target",
    path: str = PLAN_WORKFLOW_PATH,
    conclusion: str = "success",
) -> dict[str, Any]:
    return {
        "id": run_id,
        "path": path,
        "event": event,
        "status": "completed",
        "conclusion": conclusion,
        "created_at": created,
        "html_url": f"https://github.com/{REPO}/actions/runs/{run_id}",
    }


def pull(
    number: int,
    head: str,
    *,
    merge_sha: str | None = None,
    merged_at: str | None = "2026-01-02T10:00:00Z",
    base: str = "main",
    head_owner: str = "acme",
    head_ref: str = "change-access",
    state: str = "closed",
) -> dict[str, Any]:
    return {
        "number": number,
        "state": state,
        "head": {"sha": head, "ref": head_ref, "user": {"login": head_owner}},
        "base": {"ref": base},
        "merged_at": merged_at,
        "merge_commit_sha": merge_sha,
    }


def review(login: str, state: str, commit: str, review_id: int = 1) -> dict[str, Any]:
    return {
        "id": review_id,
        "user": {"login": login, "type": "User"},
        "state": state,
        "commit_id": commit,
    }


GIT = [
    "git",
    "-c",
    "user.name=kit",
    "-c",
    "user.email=kit@example.com",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True)
    return proc.stdout.strip()


@dataclass
class History:
    """A default branch in a real git repository: a root commit marked applied (the commit
    status pisync/apply), then merges of pull requests, each with its plan artifact."""

    repo: Path
    github: FakeGitHub
    root: str = ""
    merges: dict[int, str] = field(default_factory=dict)  # pr -> merge commit
    heads: dict[int, str] = field(default_factory=dict)  # pr -> head commit

    def __post_init__(self) -> None:
        self.repo.mkdir()
        git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "users.yaml").write_text("users: []\n")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "root")
        self.root = git(self.repo, "rev-parse", "HEAD")
        self.github.statuses[self.root] = [
            {"id": 1, "context": APPLY, "state": "success", "creator": BOT}
        ]

    def merge(self, pr: int, plan: dict[str, Any] | None = None) -> str:
        """Merge pull request ``pr`` (a branch with one commit) with a merge commit, and give
        it a reviewed plan artifact (unless ``plan`` is None)."""
        git(self.repo, "checkout", "-q", "-b", f"pr{pr}", "main")
        (self.repo / f"pr{pr}.yaml").write_text(f"users: [{pr}]\n")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", f"change {pr}")
        head = git(self.repo, "rev-parse", "HEAD")
        git(self.repo, "checkout", "-q", "main")
        git(self.repo, "merge", "-q", "--no-ff", f"pr{pr}", "-m", f"Merge pull request #{pr}")
        merge = git(self.repo, "rev-parse", "HEAD")
        self.merges[pr], self.heads[pr] = merge, head
        self.github.commit_pulls[merge] = [pull(pr, head, merge_sha=merge)]
        if plan is not None:
            self.plan(pr, plan)
        return merge

    def plan(self, pr: int, plan: dict[str, Any], run_id: int | None = None, **run: Any) -> None:
        name = f"pisync-plan-pr{pr}-{self.heads[pr]}"
        plan = {**plan, "fake_markdown": f"## plan of #{pr}\n"}
        self.github.add_artifact(name, plan_run(run_id or 500 + pr, **run), plan_zip(plan))

    def direct_push(self) -> str:
        (self.repo / "direct.yaml").write_text("users: [direct]\n")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "pushed to main directly")
        return git(self.repo, "rev-parse", "HEAD")

    @property
    def head(self) -> str:
        return git(self.repo, "rev-parse", "main")
