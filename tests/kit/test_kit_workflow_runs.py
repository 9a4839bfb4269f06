"""The workflows run end to end on a local stand-in for the Actions runner (gha_local.py), with
a stand-in pisync (pisync_fake.py) and the fake GitHub REST API (gh_fake.py).

This is what stands in for GitHub itself: the real ``run:`` shell of every step runs under bash
as the runner runs it, with the step and job ``if`` conditions and ``${{ … }}`` expressions
evaluated, ``GITHUB_ENV``/``GITHUB_OUTPUT``/``GITHUB_STEP_SUMMARY`` passed between steps, the
secrets of the job's environment only, and the real scripts talking to the fake API. The install
step really fetches a (local) pisync git repository at the pinned commit; only ``pip install`` is
recorded instead of run. The ``uses:`` actions are stubs that check their inputs (checkout makes
the pull request's test merge or the default branch a real git repository; the artifact stubs
keep uploaded files and serve them back).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import KIT, SCRIPTS, FakePisync
from gh_fake import REPO, TOKEN, FakeGitHub
from gha_local import JobRun, LocalRunner, StepFailed, clean_environment, load_workflow
from kitdata import APPLY, History, git, md, plan_data, plan_run, plan_zip, pull, review

R = f"/repos/{REPO}"
PR = 7
CHECKOUT = "actions/checkout"
SETUP_PYTHON = "actions/setup-python"
UPLOAD = "actions/upload-artifact"
DOWNLOAD = "actions/download-artifact"
URL = "https://pi.example.com:8224/pi/api/v2"
#: Credentials live in environments; the repository-level secret is a trap no job may read.
REPOSITORY_SECRETS = {"PISYNC_PASSWORD": "repository-level-password"}
ENVIRONMENTS = {
    "pisync-plan": {"PISYNC_USERNAME": "reader", "PISYNC_PASSWORD": "read-only-pw"},
    "pisync-apply": {"PISYNC_USERNAME": "writer", "PISYNC_PASSWORD": "write-pw"},
}
READER = {"PISYNC_PASSWORD": "read-only-pw", "PISYNC_TOKEN": "", "PISYNC_USERNAME": "reader"}
WRITER = {"PISYNC_PASSWORD": "write-pw", "PISYNC_TOKEN": "", "PISYNC_USERNAME": "writer"}


@dataclass
class Bench:
    """Everything one workflow run needs, in a temporary folder."""

    tmp: Path
    github: FakeGitHub
    uploaded: dict[str, dict[str, str]] = field(default_factory=dict)
    checkouts: list[dict[str, str]] = field(default_factory=list)
    #: what checkout puts in the workspace: a folder to copy (with its .git)
    source: Path | None = None
    vars: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bin = self.tmp / "bin"
        self.workspace = self.tmp / "workspace"
        self.runner_temp = self.tmp / "runner-temp"
        self.server = self.tmp / "server"
        for folder in (self.workspace, self.runner_temp):
            folder.mkdir()
        self.pisync = FakePisync(self.tmp)  # bin/pisync, its scenario and its call log
        self.log = self.pisync.log
        self.pip_log = self.tmp / "pip-calls.txt"
        python = sys.executable
        (self.bin / "python").write_text(
            "#!/bin/sh\n"
            'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
            f'  echo "$*" >> "{self.pip_log}"; exit 0\n'
            "fi\n"
            f'exec "{python}" "$@"\n'
        )
        (self.bin / "python").chmod(0o755)
        self.pisync_ref = self._pisync_repository()
        self.vars = {"PISYNC_URL": URL, "PISYNC_REPO": "acme/pisync", "PISYNC_REF": self.pisync_ref}

    def _pisync_repository(self) -> str:
        """``$GITHUB_SERVER_URL/acme/pisync`` as a git repository with this kit's scripts: two
        commits, so that the pinned one is not the branch's tip."""
        repo = self.server / "acme" / "pisync"
        shutil.copytree(SCRIPTS, repo / "examples" / "github-actions" / "scripts")
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "kit")
        pinned = git(repo, "rev-parse", "HEAD")
        (repo / "examples" / "github-actions" / "scripts" / "ghkit.py").write_text(
            "raise SystemExit(99)\n"
        )
        git(repo, "commit", "-q", "-am", "a later, unreviewed commit")
        return pinned

    # the actions the workflows use, as stubs
    def _checkout(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        self.checkouts.append(inputs)
        assert inputs["persist-credentials"] == "false"
        target = self.workspace / inputs.get("path", ".")
        if self.source is not None:
            shutil.copytree(self.source, target, dirs_exist_ok=True)

    def _setup_python(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        assert inputs == {"python-version": "3.11"}

    def _upload(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        files = {}
        for line in inputs["path"].splitlines():
            path = self.workspace / line.strip()
            if path.is_dir():
                files.update(
                    {
                        str(p.relative_to(path)): p.read_text()
                        for p in path.rglob("*")
                        if p.is_file()
                    }
                )
            elif line.strip() and path.exists():
                files[path.name] = path.read_text()
        if not files and inputs.get("if-no-files-found", "warn") == "error":
            raise StepFailed(f"No files were found with the provided path: {inputs['path']}")
        if not files:
            return
        if inputs["name"] in self.uploaded and inputs.get("overwrite") != "true":
            raise StepFailed("an artifact with this name already exists")
        self.uploaded[inputs["name"]] = files

    def _download(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        assert "run-id" not in inputs  # an artifact of this same run
        files = self.uploaded.get(inputs["name"])
        if files is None:
            raise StepFailed(f"Artifact '{inputs['name']}' not found")
        target = Path(inputs["path"])
        target.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (target / name).write_text(text)

    def run(
        self,
        workflow: str,
        scenario: dict[str, Any],
        github_ctx: dict[str, Any],
        *,
        job: str | None = None,
        inputs: dict[str, Any] | None = None,
        needs: dict[str, Any] | None = None,
    ) -> JobRun:
        self.pisync.scenario(scenario)
        self.log.unlink(missing_ok=True)
        server_url = f"file://{self.server}"
        github_ctx = {
            "repository": REPO,
            "run_id": "42",
            "run_attempt": "1",
            "server_url": server_url,
            "api_url": self.github.url,
            "token": TOKEN,
            **github_ctx,
        }
        base_env = {
            **clean_environment([self.bin]),
            "HOME": str(self.tmp),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.github.url,
            "GITHUB_SERVER_URL": server_url,
            "GITHUB_SHA": github_ctx["sha"],
            "GITHUB_REF": github_ctx["ref"],
            "GITHUB_EVENT_NAME": github_ctx["event_name"],
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.runner_temp),
            "FAKE_PISYNC_SCENARIO": str(self.pisync.scenario_file),
            "FAKE_PISYNC_LOG": str(self.log),
        }
        wf = load_workflow(KIT / workflow)
        runner = LocalRunner(
            workflow=wf,
            job=job or next(iter(wf["jobs"])),
            workspace=self.workspace,
            temp=self.runner_temp,
            github=github_ctx,
            base_env=base_env,
            actions={
                CHECKOUT: self._checkout,
                SETUP_PYTHON: self._setup_python,
                UPLOAD: self._upload,
                DOWNLOAD: self._download,
            },
            vars=self.vars,
            secrets=REPOSITORY_SECRETS,
            environments=ENVIRONMENTS,
            inputs=inputs or {},
            needs=needs or {},
        )
        return runner.run()

    def entries(self) -> list[dict[str, Any]]:
        return self.pisync.entries()

    def calls(self) -> list[list[str]]:
        return self.pisync.calls()

    def call_env(self, command: str) -> dict[str, str]:
        for entry in self.entries():
            if command in entry["args"][:3]:
                return dict(entry["env"])
        raise AssertionError(f"pisync {command} was not called")

    def every_env(self) -> str:
        return json.dumps([e["env"] for e in self.entries()])


@pytest.fixture
def bench(tmp_path: Path, github: FakeGitHub) -> Bench:
    return Bench(tmp_path, github)


def statuses(github: FakeGitHub, sha: str, context: str = "pisync/plan") -> list[tuple[str, str]]:
    return [
        (s["state"], s["description"])
        for s in reversed(github.statuses.get(sha, []))
        if s["context"] == context
    ]


# --- pisync-plan.yml ------------------------------------------------------------------------


@dataclass
class PullRequest:
    """A pull request as checkout gives it: the test merge refs/pull/N/merge, whose first parent
    is the default branch and whose second is the pull request's head."""

    folder: Path
    head: str
    base: str
    merge: str


def make_pull_request(tmp: Path, files: dict[str, str] | None = None) -> PullRequest:
    repo = tmp / "pr-source"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pisync.yaml").write_text("sources: [users/**/*.yaml]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "change-access")
    for name, text in (files or {"users/a.yaml": "users: []\n"}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change access")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "change-access", "-m", "test merge")
    return PullRequest(repo, head, base, git(repo, "rev-parse", "HEAD"))


@pytest.fixture
def pr(bench: Bench, tmp_path: Path) -> PullRequest:
    made = make_pull_request(tmp_path)
    bench.source = made.folder
    return made


BASE_BRANCH_SHA = "b" * 40


def pr_event(pr: PullRequest, number: int = PR, head_repo: str = REPO) -> dict[str, Any]:
    """pull_request_target: GITHUB_SHA and GITHUB_REF are the default branch's."""
    return {
        "event_name": "pull_request_target",
        "sha": BASE_BRANCH_SHA,
        "ref": "refs/heads/main",
        "ref_name": "main",
        "base_ref": "main",
        "head_ref": "change-access",
        "event": {
            "pull_request": {
                "number": number,
                "head": {"sha": pr.head, "repo": {"full_name": head_repo}},
            },
            "repository": {"default_branch": "main"},
        },
    }


def run_url(bench: Bench) -> str:
    return f"file://{bench.server}/{REPO}/actions/runs/42"


PLAN_STEPS = [
    "Set up Python",
    "Install pisync from its pinned commit",
    "Mark the check pending",
    "Check out the pull request as data (pr/)",
    "Confirm it is the pushed head merged into the default branch",
    "Validate (annotations on the changed lines)",
    "Plan the changes of this pull request",
    "Show the saved plan, flag privilege escalations",
    "Upload the plan",
    "Update the plan comment and the escalation label",
    "Check the escalation approval",
    "Check result",
    "Report a job that failed before it could plan",
]


def steps(outcomes: str, names: list[str] = PLAN_STEPS) -> list[tuple[str, str]]:
    kinds = {"s": "success", "f": "failure", "-": "skipped"}
    return [(n, kinds[o]) for n, o in zip(names, outcomes, strict=True)]


def plan_call(bench: Bench, pr: PullRequest) -> list[str]:
    return [
        "--url",
        URL,
        "plan",
        "--changed-since",
        pr.base,
        "--out",
        f"{bench.workspace}/plan.json",
        "--detailed-exitcode",
    ]


def escalation_scenario(exit_code: int = 2) -> dict[str, Any]:
    plan = {**plan_data("access_escalation"), "fake_markdown": md("access_escalation")}
    return {"plan": {"exit": exit_code, "plan": plan}}


def test_plan_with_an_escalation_comments_labels_uploads_and_passes(
    bench: Bench, pr: PullRequest
) -> None:
    job = bench.run("pisync-plan.yml", escalation_scenario(), pr_event(pr))
    assert job.result == "success", job.steps
    assert job.outcomes == steps("ssssssssssss-")
    assert bench.checkouts == [
        {
            "ref": "refs/pull/7/merge",
            "path": "pr",
            "fetch-depth": "0",
            "persist-credentials": "false",
        }
    ]
    src = bench.runner_temp / "pisync-src"
    assert (
        bench.pip_log.read_text() == f"-m pip install --quiet --disable-pip-version-check {src}\n"
    )
    assert git(src, "rev-parse", "HEAD") == bench.pisync_ref  # the pin, not the branch's tip
    assert job.env["PISYNC_KIT"] == f"{src}/examples/github-actions/scripts"
    assert bench.calls() == [
        ["--version"],
        ["validate", "--format", "github"],
        plan_call(bench, pr),
        ["show", "plan.json", "--summary", "--format", "json"],
        ["show", "plan.json", "--format", "markdown"],
        ["show", "plan.json", "--summary", "--format", "json"],
    ]
    # pisync reads the pull request's files in pr/; nothing else runs there
    assert [e["cwd"] for e in bench.entries()][1:3] == [str(bench.workspace / "pr")] * 2
    # the read-only account of the pisync-plan environment, and only where pisync plans
    assert bench.call_env("validate") == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
    }
    assert bench.call_env("plan") == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
        **READER,
    }
    assert "repository-level-password" not in bench.every_env()
    assert bench.uploaded == {
        f"pisync-plan-pr7-{pr.head}": {
            "plan.json": json.dumps(escalation_scenario()["plan"]["plan"], indent=2) + "\n",
            "plan.md": md("access_escalation"),
        }
    }
    assert job.summary == md("access_escalation").rstrip() + "\n\n"
    assert job.annotations == [
        "::warning title=pisync::Privilege escalation for 3 users: GRANTED, HOLDER, PROMOTED",
        "::notice title=pisync plan::The plan has changes: review them in the pull request "
        "comment or the job summary; they are applied when the pull request is merged.",
    ]
    assert [w[:2] for w in bench.github.writes()] == [
        ("POST", f"{R}/statuses/{pr.head}"),
        ("POST", f"{R}/issues/7/comments"),
        ("POST", f"{R}/issues/7/labels"),
        ("POST", f"{R}/statuses/{pr.head}"),
    ]
    assert statuses(bench.github, pr.head) == [
        ("pending", "Planning this commit against the server"),
        (
            "success",
            "The plan has changes: review them in the pull request comment or the job summary; "
            "they are applied when the pull request is merged.",
        ),
    ]
    assert bench.github.statuses[pr.head][0]["target_url"] == run_url(bench)
    body = bench.github.comments[PR][0]["body"]
    assert body.startswith(
        "<!-- pisync-plan -->\n### ⚠️ Privilege escalation: 3 users gain access\n"
    )
    assert md("access_escalation").strip() in body
    assert body.endswith(
        f"<sub>pisync plan of `{pr.head[:7]}` · [workflow run]({run_url(bench)}) · this comment "
        "is updated on every push</sub>\n"
    )
    assert bench.github.labels[PR] == ["access-escalation"]

    # the next push has no changes: the same comment is updated, the label goes
    bench.github.requests.clear()
    shutil.rmtree(bench.workspace)
    bench.workspace.mkdir()
    scenario = {"plan": {"exit": 0, "plan": {**plan_data("empty"), "fake_markdown": md("empty")}}}
    job = bench.run("pisync-plan.yml", scenario, pr_event(pr))
    assert job.result == "success", job.steps
    assert [w[:2] for w in bench.github.writes()] == [
        ("POST", f"{R}/statuses/{pr.head}"),
        ("PATCH", f"{R}/issues/comments/9002"),
        ("DELETE", f"{R}/issues/7/labels/access-escalation"),
        ("POST", f"{R}/statuses/{pr.head}"),
    ]
    assert len(bench.github.comments[PR]) == 1
    assert job.annotations == [
        "::notice title=pisync plan::No changes: Panintelligence already matches the desired "
        "state of this pull request."
    ]


def test_a_fork_pull_request_is_planned_like_any_other(bench: Bench, pr: PullRequest) -> None:
    """No job or step is skipped for a fork: pull_request_target runs the default branch's
    workflow with its environment, and the fork's files are only data."""
    job = bench.run(
        "pisync-plan.yml", escalation_scenario(), pr_event(pr, head_repo="stranger/pi-users")
    )
    assert job.result == "success", job.steps
    assert job.outcomes == steps("ssssssssssss-")
    assert bench.call_env("plan") == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
        **READER,
    }
    assert statuses(bench.github, pr.head)[-1][0] == "success"
    assert list(bench.uploaded) == [f"pisync-plan-pr7-{pr.head}"]


def test_nothing_of_the_pull_request_runs(bench: Bench, tmp_path: Path) -> None:
    """A hostile pull request: executables named like the tools the job runs, a plan.json and a
    pisync.log of its own, a .pisync-cache/, and a pisync.yaml that points the server at an
    address of its choosing. None of it runs, is uploaded or chooses where the password goes."""
    trap = tmp_path / "trap-sprung"
    script = f"#!/bin/sh\necho ran >> {trap}\n"
    hostile = make_pull_request(
        tmp_path,
        {
            "pisync": script,
            "python": script,
            "git": script,
            "bin/pisync": script,
            "examples/github-actions/scripts/ghkit.py": f"open('{trap}', 'w')\n",
            "plan.json": json.dumps({"forged": True}),
            "pisync.log": "::error::forged\n",
            ".pisync-cache/x/entry.json": "{}",
            "pisync.yaml": "server:\n  url: https://evil.example/pi/api/v2\n",
            "users/a.yaml": "users: []\n",
        },
    )
    for name in ("pisync", "python", "git", "bin/pisync"):
        (hostile.folder / name).chmod(0o755)
    git(hostile.folder, "add", "-A")
    bench.source = hostile.folder
    job = bench.run(
        "pisync-plan.yml",
        {"plan": {"exit": 2, "plan": plan_data("spec_example")}},
        pr_event(hostile),
    )
    assert job.result == "success", job.steps
    assert not trap.exists()
    assert all(c[:2] == ["--url", URL] for c in bench.calls() if "plan" in c)
    assert json.loads(bench.uploaded[f"pisync-plan-pr7-{hostile.head}"]["plan.json"]) == (
        plan_data("spec_example")
    )
    assert "forged" not in bench.github.comments[PR][0]["body"]
    assert {e["env"]["PISYNC_CACHE"] for e in bench.entries() if e["args"] != ["--version"]} == {
        "off"
    }


def test_a_guarded_plan_fails_the_check_without_an_artifact(bench: Bench, pr: PullRequest) -> None:
    scenario = {
        "plan": {
            "exit": 4,
            "plan": plan_data("spec_example"),
            "stderr": "error: apply would disable 30 users (limit 25); --force overrides\n",
        }
    }
    job = bench.run("pisync-plan.yml", scenario, pr_event(pr))
    assert job.result == "failure"
    assert job.outcomes == steps("ssssssss-ssf-")
    assert bench.uploaded == {}
    assert job.annotations[-1] == (
        "::error title=pisync plan (exit 4)::A safety guard would block apply (too many users "
        "pruned, an empty desired state, a protected user changed, the last administrator "
        "removed, or pisync's own account locked out); see the plan. Change the pull request, "
        "or, if the change is intended, an administrator merges it and runs the pisync apply "
        "workflow by hand with full_apply and force (pisync apply --force)."
    )
    assert statuses(bench.github, pr.head)[-1][0] == "failure"
    body = bench.github.comments[PR][0]["body"]
    assert body.startswith("<!-- pisync-plan -->\n> [!CAUTION]\n> **pisync plan failed (exit 4).**")
    assert "error: apply would disable 30 users (limit 25); --force overrides\n```" in body


def test_a_runtime_error_fails_the_check_and_keeps_the_label(bench: Bench, pr: PullRequest) -> None:
    bench.github.labels[PR] = ["access-escalation"]
    scenario = {"plan": {"exit": 1, "stderr": "error: cannot reach https://pi.example.com\n"}}
    job = bench.run("pisync-plan.yml", scenario, pr_event(pr))
    assert job.result == "failure"
    assert job.outcomes == steps("sssssss--ssf-")
    assert job.annotations[-1] == (
        "::error title=pisync plan (exit 1)::pisync plan failed with a runtime error (network, "
        "server or unexpected); see the log of the plan step, then re-run this job."
    )
    assert bench.github.labels[PR] == ["access-escalation"]
    assert "error: cannot reach https://pi.example.com" in bench.github.comments[PR][0]["body"]
    assert statuses(bench.github, pr.head)[-1][0] == "failure"


def test_invalid_desired_state_is_not_planned(bench: Bench, pr: PullRequest) -> None:
    error = 'users/a.yaml:5:5: error: type must be one of administrator, designer; found "wizard"'
    scenario = {
        "validate": {
            "exit": 3,
            "github": f"::error file=users/a.yaml,line=5,col=5,title=pisync::{error[20:]}",
            "text": error,
        }
    }
    job = bench.run("pisync-plan.yml", scenario, pr_event(pr))
    assert job.result == "failure"
    assert job.outcomes == steps("ssssss---ssf-")
    assert bench.calls() == [
        ["--version"],
        ["validate", "--format", "github"],
        ["validate", "--format", "text"],
    ]
    assert job.annotations == [
        f"::error file=users/a.yaml,line=5,col=5,title=pisync::{error[20:]}",
        "::error title=pisync plan (exit 3)::The desired state or pisync.yaml is invalid; see "
        "the annotations on the changed lines and the log of the validate step, fix them and "
        "push again.",
    ]
    assert f"```text\n{error}\n```" in bench.github.comments[PR][0]["body"]


def test_an_outdated_test_merge_is_not_planned(bench: Bench, pr: PullRequest) -> None:
    """GitHub recomputes refs/pull/N/merge after a push; until it has, the checkout is of an
    older head, whose plan must not pass for the new one."""
    event = pr_event(pr)
    event["event"]["pull_request"]["head"]["sha"] = "c" * 40
    job = bench.run("pisync-plan.yml", {}, event)
    assert job.result == "failure"
    assert job.outcomes == steps("ssssf-------s")
    assert bench.calls() == [["--version"]]
    assert job.annotations == [
        f"::error title=pisync plan::GitHub's test merge of pull request #7 is of {pr.head}, not "
        f"of its head {'c' * 40} (GitHub has not updated it yet): re-run this job in a minute."
    ]
    assert statuses(bench.github, "c" * 40) == [
        ("pending", "Planning this commit against the server"),
        ("failure", "The plan job failed before it could plan; see the run"),
    ]


def test_an_escalation_needs_an_approvers_review_for_the_status(
    bench: Bench, pr: PullRequest
) -> None:
    bench.vars["PISYNC_ESCALATION_APPROVERS"] = "@acme/pi-owners alice"
    bench.github.teams[("acme", "pi-owners")] = ["carol"]
    ENVIRONMENTS["pisync-plan"]["PISYNC_TEAMS_TOKEN"] = "github_pat_fake_teams_reader_0123456789"
    try:
        job = bench.run("pisync-plan.yml", escalation_scenario(), pr_event(pr))
    finally:
        del ENVIRONMENTS["pisync-plan"]["PISYNC_TEAMS_TOKEN"]
    assert job.result == "success", job.steps
    assert statuses(bench.github, pr.head, "pisync/escalation-approval") == [
        (
            "failure",
            "3 users gain access. Needs an approving review of "
            f"{pr.head[:7]} from acme/pi-owners or alice",
        )
    ]
    assert (
        "It needs an approving review of this commit from `@acme/pi-owners` or `@alice`"
    ) in bench.github.comments[PR][0]["body"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (
            "PISYNC_URL",
            "::error title=pisync setup::The variable PISYNC_URL is not set. Set it (Settings > "
            "Secrets and variables > Actions > Variables) to the Panintelligence API address, "
            "e.g. https://pi.example.com:8224/pi/api/v2: pisync sends its credentials there and "
            "nowhere else.",
        ),
        (
            "PISYNC_REPO",
            "::error title=pisync setup::The variable PISYNC_REPO is not set. Set it to "
            "OWNER/NAME of the pisync repository to install pisync and the kit's scripts from.",
        ),
        (
            "PISYNC_REF",
            "::error title=pisync setup::The variable PISYNC_REF must be the full 40-character "
            "SHA of a reviewed pisync commit (a branch or a tag can move, a commit cannot); pick "
            "one with git ls-remote on PISYNC_REPO.",
        ),
    ],
)
@pytest.mark.parametrize(
    "workflow", ["pisync-plan.yml", "pisync-apply.yml", "pisync-drift.yml", "pisync-escalation.yml"]
)
def test_a_missing_variable_fails_the_job_saying_what_to_set(
    bench: Bench, pr: PullRequest, workflow: str, missing: str, message: str
) -> None:
    del bench.vars[missing]
    event = pr_event(pr) if workflow == "pisync-plan.yml" else push_event()
    job = bench.run(
        workflow,
        {},
        event,
        job="apply" if workflow == "pisync-apply.yml" else None,
        needs={"full-plan": {"result": "skipped"}},
    )
    assert job.result == "failure"
    assert job.annotations == [message]
    assert bench.calls() == []
    assert bench.pip_log.exists() is False
    assert bench.github.requests == []


@pytest.mark.parametrize("ref", ["main", "v0.1.0", "0123abc", "A" * 40])
def test_a_moving_or_short_pisync_ref_is_refused(bench: Bench, pr: PullRequest, ref: str) -> None:
    bench.vars["PISYNC_REF"] = ref
    job = bench.run("pisync-plan.yml", {}, pr_event(pr))
    assert job.result == "failure"
    assert job.annotations == [
        "::error title=pisync setup::The variable PISYNC_REF must be the full 40-character SHA of "
        "a reviewed pisync commit (a branch or a tag can move, a commit cannot); pick one with "
        "git ls-remote on PISYNC_REPO."
    ]
    assert bench.calls() == []


# --- pisync-apply.yml -----------------------------------------------------------------------

APPLY_STEPS = [
    "Check out the default branch with its history",
    "Set up Python",
    "Install pisync from its pinned commit",
    "Apply the merged pull requests' reviewed plans, in merge order",
    "Download the full plan",
    "Apply the full plan (full_apply)",
    "Upload the plans and apply reports",
]
FULL_PLAN_STEPS = [
    "Check out the desired state",
    "Set up Python",
    "Install pisync from its pinned commit",
    "Plan the whole desired state of the default branch",
    "Show the plan to the approvers",
    "Upload the plan",
    "Check result",
]


def push_event(ref_name: str = "main", event: str = "push", sha: str = "a" * 40) -> dict[str, Any]:
    return {
        "event_name": event,
        "sha": sha,
        "ref": f"refs/heads/{ref_name}",
        "ref_name": ref_name,
        "base_ref": "",
        "event": {"repository": {"default_branch": "main"}},
    }


@pytest.fixture
def history(bench: Bench, tmp_path: Path) -> History:
    made = History(tmp_path / "desired-state", bench.github)
    bench.source = made.repo
    return made


CHANGES = plan_data("spec_example")
REPORT = {"changes": [{"key": "GRANTED", "outcome": "applied"}]}


def test_a_push_applies_every_pending_merge_in_order(bench: Bench, history: History) -> None:
    history.merge(11, CHANGES)
    history.merge(12, CHANGES)
    job = bench.run(
        "pisync-apply.yml",
        {"apply": {"report": REPORT}},
        push_event(sha=history.head),
        job="apply",
        needs={"full-plan": {"result": "skipped"}},
    )
    assert job.result == "success", job.steps
    assert sorted(bench.uploaded[f"pisync-apply-{history.head}-1"]) == [
        *sorted(f"apply-report-{history.merges[n]}.json" for n in (11, 12)),
        "pr11/plan.json",
        "pr11/plan.md",
        "pr12/plan.json",
        "pr12/plan.md",
    ]
    assert job.outcomes == steps("ssss--s", APPLY_STEPS)
    assert bench.checkouts == [{"fetch-depth": "0", "persist-credentials": "false"}]
    applies = [e for e in bench.entries() if "apply" in e["args"]]
    assert [e["head"] for e in applies] == [history.merges[11], history.merges[12]]
    reports = f"{bench.runner_temp}/pisync-reports"
    assert [e["args"] for e in applies] == [
        [
            "--url",
            URL,
            "apply",
            f"{reports}/pr{n}/plan.json",
            "--report",
            f"{reports}/apply-report-{history.merges[n]}.json",
        ]
        for n in (11, 12)
    ]
    # the write account of the pisync-apply environment
    assert applies[0]["env"] == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
        **WRITER,
    }
    assert "repository-level-password" not in bench.every_env()
    for n in (11, 12):
        assert bench.github.status_states(history.merges[n], APPLY) == ["pending", "success"]
    assert job.summary.count("## Pull request #") == 2


def test_a_stale_plan_fails_the_apply_job_and_tells_the_pull_request(
    bench: Bench, history: History
) -> None:
    history.merge(11, {**CHANGES, "fake_apply_exit": 5})
    history.merge(12, CHANGES)
    job = bench.run(
        "pisync-apply.yml",
        {},
        push_event(sha=history.head),
        job="apply",
        needs={"full-plan": {"result": "skipped"}},
    )
    assert job.result == "failure"
    assert job.outcomes == steps("sssf--s", APPLY_STEPS)
    assert [e["head"] for e in bench.entries() if "apply" in e["args"]] == [history.merges[11]]
    assert job.annotations[-1].startswith(
        f"::error::The apply queue stopped at pull request #11 (merge {history.merges[11][:7]}): "
        "pisync apply exited 5: The reviewed plan is stale"
    )
    assert bench.github.comments[11][0]["body"].startswith("<!-- pisync-apply -->\n> [!CAUTION]\n")
    assert bench.github.status_states(history.merges[12], APPLY) == []


def test_a_full_apply_is_planned_read_only_shown_then_applied_with_write_credentials(
    bench: Bench, history: History
) -> None:
    history.merge(11, None)  # a merge without a reviewed plan stopped the queue
    head = history.head
    inputs = {"full_apply": True, "force": False}
    event = push_event(event="workflow_dispatch", sha=head)
    plan = {**CHANGES, "fake_markdown": "## the whole default branch\n"}
    planned = bench.run(
        "pisync-apply.yml",
        {"plan": {"exit": 2, "plan": plan}},
        event,
        job="full-plan",
        inputs=inputs,
    )
    assert planned.result == "success", planned.steps
    assert planned.outcomes == steps("sssssss", FULL_PLAN_STEPS)
    assert bench.calls()[1] == ["--url", URL, "plan", "--out", "plan.json", "--detailed-exitcode"]
    assert bench.call_env("plan") == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
        **READER,
    }
    assert (
        planned.summary
        == "## Full apply: the plan of the whole default branch\n\n## the whole default branch\n\n"
    )
    assert set(bench.uploaded["pisync-full-plan"]) == {"plan.json", "plan.md"}

    applied = bench.run(
        "pisync-apply.yml",
        {"apply": {"report": REPORT}},
        event,
        job="apply",
        inputs=inputs,
        needs={"full-plan": {"result": "success"}},
    )
    assert applied.result == "success", applied.steps
    assert applied.outcomes == steps("sss-sss", APPLY_STEPS)
    full = f"{bench.runner_temp}/pisync-full-plan/plan.json"
    assert [e["args"] for e in bench.entries() if "apply" in e["args"]] == [
        [
            "--url",
            URL,
            "apply",
            full,
            "--report",
            f"{bench.runner_temp}/pisync-reports/apply-report-{head}.json",
        ]
    ]
    assert bench.call_env("apply") == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
        **WRITER,
    }
    assert bench.github.status_states(head, APPLY) == ["success"]
    assert bench.uploaded[f"pisync-apply-{head}-1"] == {
        f"apply-report-{head}.json": json.dumps(REPORT) + "\n"
    }


def test_the_apply_job_waits_for_a_passing_full_plan(bench: Bench, history: History) -> None:
    inputs = {"full_apply": True, "force": True}
    event = push_event(event="workflow_dispatch", sha=history.head)
    guarded = bench.run(
        "pisync-apply.yml",
        {"plan": {"exit": 4, "plan": CHANGES}},
        event,
        job="full-plan",
        inputs=inputs,
    )
    assert guarded.result == "failure"
    assert bench.calls()[1][-1] == "--force"
    assert "pisync-full-plan" not in bench.uploaded
    skipped = bench.run(
        "pisync-apply.yml",
        {},
        event,
        job="apply",
        inputs=inputs,
        needs={"full-plan": {"result": "failure"}},
    )
    assert skipped.result == "skipped"


@pytest.mark.parametrize("job", ["full-plan", "apply"])
def test_nothing_runs_by_hand_on_another_branch(bench: Bench, job: str) -> None:
    event = push_event(ref_name="feature", event="workflow_dispatch")
    run = bench.run(
        "pisync-apply.yml",
        {},
        event,
        job=job,
        inputs={"full_apply": True, "force": False},
        needs={"full-plan": {"result": "skipped"}},
    )
    assert run.result == "skipped"
    assert not bench.log.exists()


def test_a_push_does_not_plan_the_whole_branch(bench: Bench) -> None:
    run = bench.run("pisync-apply.yml", {}, push_event(), job="full-plan")
    assert run.result == "skipped"


# --- pisync-drift.yml -----------------------------------------------------------------------

DRIFT_STEPS = [
    "Check out the desired state",
    "Set up Python",
    "Install pisync from its pinned commit",
    "Plan the whole desired state against the server",
    "Open, update or close the drift issue",
    "Check result",
]


def schedule_event() -> dict[str, Any]:
    return {
        "event_name": "schedule",
        "sha": "a" * 40,
        "ref": "refs/heads/main",
        "ref_name": "main",
        "event": {"repository": {"default_branch": "main"}},
    }


def test_drift_opens_the_issue_then_closes_it(bench: Bench) -> None:
    job = bench.run(
        "pisync-drift.yml", {"plan": {"exit": 2, "markdown": md("spec_example")}}, schedule_event()
    )
    assert job.result == "success", job.steps
    assert job.outcomes == steps("ssssss", DRIFT_STEPS)
    assert bench.calls() == [
        ["--version"],
        ["--url", URL, "plan", "--detailed-exitcode", "--format", "markdown"],
    ]
    assert bench.call_env("plan") == {
        "PISYNC_CACHE": "off",
        "PISYNC_VERIFY_TLS": "true",
        "PISYNC_URL": URL,
        **READER,
    }
    assert job.summary == md("spec_example")
    assert [w[:2] for w in bench.github.writes()] == [("POST", f"{R}/issues")]
    issue = bench.github.issues[1]
    assert issue["labels"] == [{"name": "pisync-drift"}]
    assert issue["body"].startswith("<!-- pisync-drift -->\nThe live Panintelligence server")

    bench.github.requests.clear()
    job = bench.run(
        "pisync-drift.yml", {"plan": {"exit": 0, "markdown": md("empty")}}, schedule_event()
    )
    assert job.result == "success", job.steps
    assert [w[:2] for w in bench.github.writes()] == [
        ("POST", f"{R}/issues/1/comments"),
        ("PATCH", f"{R}/issues/1"),
    ]
    assert issue["state"] == "closed"


def test_a_blocked_drift_opens_the_issue_and_fails_the_job(bench: Bench) -> None:
    scenario = {
        "plan": {
            "exit": 4,
            "markdown": md("spec_example"),
            "stderr": "error: apply would disable 6 users (limit 5)\n",
        }
    }
    job = bench.run("pisync-drift.yml", scenario, schedule_event())
    assert job.result == "failure"
    assert job.outcomes == steps("sssssf", DRIFT_STEPS)
    issue = bench.github.issues[1]
    assert (
        issue["title"]
        == "BLOCKED: pisync: Panintelligence has drifted from the desired state in git"
    )
    assert "```text\nerror: apply would disable 6 users (limit 5)\n```" in issue["body"]
    assert job.annotations[-1].startswith(
        "::error title=pisync drift (exit 4)::BLOCKED: a safety guard"
    )


@pytest.mark.parametrize("code", [1, 3])
def test_a_failed_drift_check_fails_the_job_and_leaves_the_issue(bench: Bench, code: int) -> None:
    job = bench.run("pisync-drift.yml", {"plan": {"exit": code}}, schedule_event())
    assert job.result == "failure"
    assert job.outcomes == steps("ssss-f", DRIFT_STEPS)
    assert job.annotations[-1].startswith(f"::error title=pisync drift (exit {code})::")
    assert bench.github.requests == []


def test_a_drift_check_by_hand_on_another_branch_does_not_run(bench: Bench) -> None:
    job = bench.run(
        "pisync-drift.yml", {}, push_event(ref_name="feature", event="workflow_dispatch")
    )
    assert job.result == "skipped"
    assert not bench.log.exists()


# --- pisync-escalation.yml (after pisync-review.yml relays a review) -------------------------


def test_a_review_re_checks_the_escalation_approval_from_the_plan_artifact(bench: Bench) -> None:
    head = "d" * 40
    bench.vars["PISYNC_ESCALATION_APPROVERS"] = "alice"
    bench.github.pulls = [
        pull(PR, head, merged_at=None, head_owner="stranger", head_ref="main", state="open")
    ]
    bench.github.add_artifact(
        f"pisync-plan-pr7-{head}", plan_run(501), plan_zip(plan_data("access_escalation"))
    )
    bench.github.reviews[PR] = [review("alice", "APPROVED", head)]
    event = {
        "event_name": "workflow_run",
        "sha": "a" * 40,
        "ref": "refs/heads/main",
        "ref_name": "main",
        "event": {
            "workflow_run": {
                "head_repository": {"full_name": "stranger/pi-users"},
                "head_branch": "main",
                "head_sha": head,
            },
            "repository": {"default_branch": "main"},
        },
    }
    job = bench.run("pisync-escalation.yml", {}, event)
    assert job.result == "success", job.steps
    assert bench.checkouts == []  # nothing of the pull request is checked out
    assert statuses(bench.github, head, "pisync/escalation-approval") == [
        ("success", "3 users gain access. Escalation approved by alice")
    ]
    assert [e["args"][0] for e in bench.entries()] == ["--version", "show"]
