"""The three workflows run end to end on a local stand-in for the Actions runner (gha_local.py),
with a stand-in pisync (pisync_fake.py) and the fake GitHub REST API (gh_fake.py).

This is what stands in for GitHub itself: the real ``run:`` shell of every step runs under bash
as the runner runs it, with the step and job ``if`` conditions and ``${{ … }}`` expressions
evaluated, ``GITHUB_ENV``/``GITHUB_OUTPUT``/``GITHUB_STEP_SUMMARY`` passed between steps, and
the real scripts talking to the fake API. The install step really fetches a (local) pisync git
repository; only ``pip install`` is recorded instead of run. The ``uses:`` actions are stubs
that check their inputs (the artifact stubs keep uploaded files, and serve downloads by run id
and name as download-artifact does).
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
from conftest import DATA, KIT, SCRIPTS
from gh_fake import REPO, TOKEN, FakeGitHub
from gha_local import JobRun, LocalRunner, StepFailed, clean_environment, load_workflow

R = f"/repos/{REPO}"
PR = 7
HEAD = "0123456789abcdef0123456789abcdef01234567"
MERGE = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
CHECKOUT = "actions/checkout"
SETUP_PYTHON = "actions/setup-python"
UPLOAD = "actions/upload-artifact"
DOWNLOAD = "actions/download-artifact"
SECRETS = {"PISYNC_USERNAME": "ci-bot", "PISYNC_PASSWORD": "s3cret-pw"}
VARS = {"PISYNC_URL": "https://pi.example.com:8224/pi/api/v2", "PISYNC_REPO": "acme/pisync"}


def plan_data(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def md(name: str) -> str:
    return (DATA / f"{name}.md").read_text()


@dataclass
class Bench:
    """Everything one workflow run needs, in a temporary folder."""

    tmp: Path
    github: FakeGitHub
    uploaded: dict[str, dict[str, str]] = field(default_factory=dict)
    #: artifacts of other runs, by (run id, name), for download-artifact
    remote: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    checkouts: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bin = self.tmp / "bin"
        self.workspace = self.tmp / "workspace"
        self.runner_temp = self.tmp / "runner-temp"
        self.server = self.tmp / "server"
        for folder in (self.bin, self.workspace, self.runner_temp):
            folder.mkdir()
        self.log = self.tmp / "pisync-calls.jsonl"
        self.pip_log = self.tmp / "pip-calls.txt"
        self.scenario_file = self.tmp / "scenario.json"
        python = sys.executable
        fake = Path(__file__).with_name("pisync_fake.py")
        (self.bin / "pisync").write_text(f'#!/bin/sh\nexec "{python}" "{fake}" "$@"\n')
        (self.bin / "python").write_text(
            "#!/bin/sh\n"
            'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
            f'  echo "$*" >> "{self.pip_log}"; exit 0\n'
            "fi\n"
            f'exec "{python}" "$@"\n'
        )
        for tool in ("pisync", "python"):
            (self.bin / tool).chmod(0o755)
        self._pisync_repository()

    def _pisync_repository(self) -> None:
        """``$GITHUB_SERVER_URL/acme/pisync`` as a git repository with this kit's scripts."""
        repo = self.server / "acme" / "pisync"
        shutil.copytree(SCRIPTS, repo / "examples" / "github-actions" / "scripts")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "kit"], check=True)

    # the actions the workflows use, as stubs
    def _checkout(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        self.checkouts.append(inputs)

    def _setup_python(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        assert inputs == {"python-version": "3.11"}

    def _upload(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        files = {}
        for line in inputs["path"].splitlines():
            path = self.workspace / line.strip()
            if line.strip() and path.exists():
                files[path.name] = path.read_text()
        if not files and inputs.get("if-no-files-found", "warn") == "error":
            raise StepFailed(f"No files were found with the provided path: {inputs['path']}")
        if inputs["name"] in self.uploaded and inputs.get("overwrite") != "true":
            raise StepFailed("an artifact with this name already exists")
        self.uploaded[inputs["name"]] = files

    def _download(self, inputs: dict[str, str], _runner: LocalRunner) -> None:
        assert inputs["github-token"] == TOKEN
        files = self.remote.get((inputs["run-id"], inputs["name"]))
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
        inputs: dict[str, Any] | None = None,
    ) -> JobRun:
        self.scenario_file.write_text(json.dumps(scenario))
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
            "FAKE_PISYNC_SCENARIO": str(self.scenario_file),
            "FAKE_PISYNC_LOG": str(self.log),
        }
        wf = load_workflow(KIT / workflow)
        runner = LocalRunner(
            workflow=wf,
            job=next(iter(wf["jobs"])),
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
            vars=VARS,
            secrets=SECRETS,
            inputs=inputs or {},
        )
        return runner.run()

    def calls(self) -> list[list[str]]:
        return [json.loads(line)["args"] for line in self.log.read_text().splitlines()]

    def call_env(self, command: str) -> dict[str, str]:
        for line in self.log.read_text().splitlines():
            entry = json.loads(line)
            if entry["args"][:1] == [command]:
                return dict(entry["env"])
        raise AssertionError(f"pisync {command} was not called")


@pytest.fixture
def bench(tmp_path: Path, github: FakeGitHub) -> Bench:
    return Bench(tmp_path, github)


def pr_event(number: int = PR, head_repo: str = REPO) -> dict[str, Any]:
    return {
        "event_name": "pull_request",
        "sha": MERGE,
        "ref": f"refs/pull/{number}/merge",
        "ref_name": f"{number}/merge",
        "base_ref": "main",
        "head_ref": "change-access",
        "event": {
            "pull_request": {
                "number": number,
                "head": {"sha": HEAD, "repo": {"full_name": head_repo}},
            },
            "repository": {"default_branch": "main"},
        },
    }


def run_url(bench: Bench) -> str:
    return f"file://{bench.server}/{REPO}/actions/runs/42"


PLAN_STEPS = [
    "Check out the pull request (all history, for --changed-since)",
    "Set up Python",
    "Install pisync from git",
    "Validate (annotations on the changed lines)",
    "Plan the changes of this pull request",
    "Flag privilege escalations",
    "Upload the plan",
    "Update the plan comment and the escalation label",
    "Check result",
]
PLAN_CALL = [
    "plan",
    "--changed-since",
    "origin/main",
    "--format",
    "markdown",
    "--out",
    "plan.json",
    "--detailed-exitcode",
]


def steps(outcomes: str) -> list[tuple[str, str]]:
    names = {"s": "success", "f": "failure", "-": "skipped"}
    return [(n, names[o]) for n, o in zip(PLAN_STEPS, outcomes, strict=True)]


# --- pisync-plan.yml ------------------------------------------------------------------------


def test_plan_with_an_escalation_comments_labels_uploads_and_passes(bench: Bench) -> None:
    scenario = {
        "plan": {
            "exit": 2,
            "plan": plan_data("access_escalation"),
            "markdown": md("access_escalation"),
        }
    }
    job = bench.run("pisync-plan.yml", scenario, pr_event())
    assert job.result == "success", job.steps
    assert job.outcomes == steps("sssssssss")
    assert bench.checkouts == [{"fetch-depth": "0", "persist-credentials": "false"}]
    src = bench.runner_temp / "pisync-src"
    assert (
        bench.pip_log.read_text() == f"-m pip install --quiet --disable-pip-version-check {src}\n"
    )
    assert job.env["PISYNC_KIT"] == f"{src}/examples/github-actions/scripts"
    assert bench.calls() == [["--version"], ["validate", "--format", "github"], PLAN_CALL]
    # credentials reach the plan step only, from secrets and vars
    assert bench.call_env("validate") == {}
    assert bench.call_env("plan") == {
        "PISYNC_PASSWORD": "s3cret-pw",
        "PISYNC_TOKEN": "",
        "PISYNC_URL": "https://pi.example.com:8224/pi/api/v2",
        "PISYNC_USERNAME": "ci-bot",
    }
    assert bench.uploaded == {
        f"pisync-plan-pr7-{HEAD}": {
            "plan.json": json.dumps(plan_data("access_escalation"), indent=2) + "\n",
            "plan.md": md("access_escalation"),
        }
    }
    assert job.summary == md("access_escalation")
    assert job.annotations == [
        "::warning title=pisync::Privilege escalation for 3 users: GRANTED, HOLDER, PROMOTED",
        "::notice title=pisync plan::The plan has changes: review them in the pull request "
        "comment or the job summary; they are applied when the pull request is merged.",
    ]
    assert bench.github.writes() == [
        ("POST", f"{R}/issues/7/comments", {"body": bench.github.comments[PR][0]["body"]}),
        ("POST", f"{R}/issues/7/labels", {"labels": ["access-escalation"]}),
    ]
    body = bench.github.comments[PR][0]["body"]
    assert body.startswith(
        "<!-- pisync-plan -->\n### ⚠️ Privilege escalation: 3 users gain access\n"
    )
    assert body.endswith(
        f"<sub>pisync plan of `0123456` · [workflow run]({run_url(bench)}) · this comment is "
        "updated on every push</sub>\n"
    )

    # the next push has no changes: the same comment is updated, the label goes
    bench.github.requests.clear()
    scenario = {"plan": {"exit": 0, "plan": plan_data("empty"), "markdown": md("empty")}}
    job = bench.run("pisync-plan.yml", scenario, pr_event())
    assert job.result == "success", job.steps
    assert bench.github.writes() == [
        (
            "PATCH",
            f"{R}/issues/comments/9001",
            {
                "body": f"<!-- pisync-plan -->\n{md('empty').strip()}\n\n<sub>pisync plan of "
                f"`0123456` · [workflow run]({run_url(bench)}) · this comment is updated on "
                "every push</sub>\n"
            },
        ),
        ("DELETE", f"{R}/issues/7/labels/access-escalation", None),
    ]
    assert len(bench.github.comments[PR]) == 1
    assert job.annotations == [
        "::notice title=pisync plan::No changes: Panintelligence already matches the desired "
        "state of this pull request."
    ]


def test_a_guarded_plan_fails_the_check_without_an_artifact(bench: Bench) -> None:
    scenario = {
        "plan": {
            "exit": 4,
            "plan": plan_data("spec_example"),
            "markdown": md("spec_example"),
            "stderr": "error: apply would disable 30 users (limit 25); --force overrides\n",
        }
    }
    job = bench.run("pisync-plan.yml", scenario, pr_event())
    assert job.result == "failure"
    assert job.outcomes == steps("ssssss-sf")
    assert bench.uploaded == {}
    assert job.annotations[-1] == (
        "::error title=pisync plan (exit 4)::A safety guard would block apply (too many users "
        "pruned, an empty desired state, a protected user changed, the last administrator "
        "removed, or pisync's own account locked out); see the plan. Change the pull request, "
        "or, if the change is intended, an administrator merges it and runs the pisync apply "
        "workflow by hand with full_apply and force (pisync apply --force)."
    )
    body = bench.github.comments[PR][0]["body"]
    assert body.startswith("<!-- pisync-plan -->\n> [!CAUTION]\n> **pisync plan failed (exit 4).**")
    assert "error: apply would disable 30 users (limit 25); --force overrides\n```" in body
    assert [w[:2] for w in bench.github.writes()] == [("POST", f"{R}/issues/7/comments")]


def test_a_runtime_error_fails_the_check_and_keeps_the_label(bench: Bench) -> None:
    bench.github.labels[PR] = ["access-escalation"]
    scenario = {"plan": {"exit": 1, "stderr": "error: cannot reach https://pi.example.com\n"}}
    job = bench.run("pisync-plan.yml", scenario, pr_event())
    assert job.result == "failure"
    assert job.outcomes == steps("sssss--sf")
    assert job.annotations[-1] == (
        "::error title=pisync plan (exit 1)::pisync plan failed with a runtime error (network, "
        "server or unexpected); see the log of the plan step, then re-run this job."
    )
    assert bench.github.labels[PR] == ["access-escalation"]
    assert "error: cannot reach https://pi.example.com" in bench.github.comments[PR][0]["body"]


def test_invalid_desired_state_is_not_planned(bench: Bench) -> None:
    error = 'users/a.yaml:5:5: error: type must be one of administrator, designer; found "wizard"'
    scenario = {
        "validate": {
            "exit": 3,
            "github": f"::error file=users/a.yaml,line=5,col=5,title=pisync::{error[20:]}",
            "text": error,
        }
    }
    job = bench.run("pisync-plan.yml", scenario, pr_event())
    assert job.result == "failure"
    assert job.outcomes == steps("ssss---sf")
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


def test_pull_requests_from_forks_are_not_planned(bench: Bench) -> None:
    job = bench.run("pisync-plan.yml", {}, pr_event(head_repo="stranger/pi-users"))
    assert job.result == "skipped"
    assert not bench.log.exists()
    assert bench.github.requests == []


# --- pisync-apply.yml -----------------------------------------------------------------------

APPLY_STEPS = [
    "Check out the desired state",
    "Set up Python",
    "Install pisync from git",
    "Find the reviewed plan of the merged pull request",
    "Download the plan",
    "Show what will be applied",
    "Apply the reviewed plan",
    "Apply the whole desired state (run by hand with full_apply)",
    "Upload the apply report",
    "Check result",
]
ARTIFACT = f"pisync-plan-pr12-{HEAD}"


def apply_steps(outcomes: str) -> list[tuple[str, str]]:
    names = {"s": "success", "f": "failure", "-": "skipped"}
    return [(n, names[o]) for n, o in zip(APPLY_STEPS, outcomes, strict=True)]


def push_event(ref_name: str = "main", event: str = "push") -> dict[str, Any]:
    return {
        "event_name": event,
        "sha": MERGE,
        "ref": f"refs/heads/{ref_name}",
        "ref_name": ref_name,
        "base_ref": "",
        "event": {"repository": {"default_branch": "main"}},
    }


def seed_merged_pr(bench: Bench) -> None:
    gh = bench.github
    gh.commit_pulls[MERGE] = [
        {
            "number": 12,
            "head": {"sha": HEAD},
            "merged_at": "2026-01-02T10:00:00Z",
            "merge_commit_sha": MERGE,
        }
    ]
    gh.runs["pisync-plan.yml"] = [
        {
            "id": 77,
            "head_sha": HEAD,
            "status": "completed",
            "conclusion": "success",
            "event": "pull_request",
            "created_at": "2026-01-02T09:00:00Z",
            "html_url": f"https://github.com/{REPO}/actions/runs/77",
        }
    ]
    gh.artifacts[77] = [{"id": 5, "name": ARTIFACT, "expired": False}]
    bench.remote[("77", ARTIFACT)] = {
        "plan.json": json.dumps(plan_data("access_escalation")),
        "plan.md": md("access_escalation"),
    }


REPORT = {"changes": [{"key": "GRANTED", "outcome": "applied"}]}


def test_merge_applies_the_reviewed_plan_of_its_pull_request(bench: Bench) -> None:
    seed_merged_pr(bench)
    job = bench.run("pisync-apply.yml", {"apply": {"exit": 0, "report": REPORT}}, push_event())
    assert job.result == "success", job.steps
    assert job.outcomes == apply_steps("sssssss-ss")
    plan = f"{bench.runner_temp}/pisync-plan/plan.json"
    assert bench.calls() == [
        ["--version"],
        ["show", plan],
        ["show", plan, "--format", "markdown"],
        ["apply", plan, "--report", "apply-report.json"],
    ]
    assert bench.call_env("apply") == {
        "PISYNC_PASSWORD": "s3cret-pw",
        "PISYNC_TOKEN": "",
        "PISYNC_URL": "https://pi.example.com:8224/pi/api/v2",
        "PISYNC_USERNAME": "ci-bot",
    }
    assert bench.call_env("show") == {}
    assert bench.uploaded == {
        f"pisync-apply-report-{MERGE}-1": {"apply-report.json": json.dumps(REPORT) + "\n"}
    }
    assert job.summary == (
        "## Applying the plan of pull request #12\n\n"
        "Plan: 1 to create, 4 to update, 0 to disable, 0 to delete.\n\n"
        "- ⚠️ `GRANTED` gains privileges `editUsers`, `exportToCsv`\n"
        "- ⚠️ `HOLDER` gains category `Finance`; gains privilege `editRoles`\n"
        "- ⚠️ `PROMOTED` becomes `administrator` (was `designer`)\n\n"
        '[markdown] {"create": 1, "delete": 0, "disable": 0, "update": 4}\n'
    )
    assert job.annotations == [
        "::notice title=pisync apply::Pull request #12: Applied: Panintelligence now has the "
        "changes of the reviewed plan."
    ]
    assert bench.github.writes() == []  # apply only reads GitHub


def test_a_stale_plan_fails_and_says_how_to_replan(bench: Bench) -> None:
    seed_merged_pr(bench)
    scenario = {
        "apply": {"exit": 5, "report": REPORT, "stderr": "error: plan is stale: GRANTED changed\n"}
    }
    job = bench.run("pisync-apply.yml", scenario, push_event())
    assert job.result == "failure"
    assert job.outcomes == apply_steps("sssssss-sf")
    assert bench.uploaded == {
        f"pisync-apply-report-{MERGE}-1": {"apply-report.json": json.dumps(REPORT) + "\n"}
    }
    assert job.annotations == [
        "::error title=pisync apply (exit 5)::Pull request #12: The reviewed plan is stale: an "
        "object it touches changed on the server after it was planned, or an object it creates "
        "appeared meanwhile. Nothing was applied. To re-plan: run the pisync drift workflow to "
        "see how the server differs from the default branch now, then open a follow-up pull "
        "request that touches the affected files (its plan is reviewed and applied on merge), "
        "or run this workflow by hand with full_apply to plan and apply the whole desired state."
    ]


@pytest.mark.parametrize("code", [1, 3, 4, 6])
def test_other_apply_failures_fail_the_job(bench: Bench, code: int) -> None:
    seed_merged_pr(bench)
    job = bench.run("pisync-apply.yml", {"apply": {"exit": code, "report": REPORT}}, push_event())
    assert job.result == "failure"
    assert job.outcomes == apply_steps("sssssss-sf")
    assert job.annotations[-1].startswith(
        f"::error title=pisync apply (exit {code})::Pull request #12: "
    )
    assert list(bench.uploaded) == [f"pisync-apply-report-{MERGE}-1"]


def test_a_direct_push_is_not_applied(bench: Bench) -> None:
    job = bench.run("pisync-apply.yml", {"apply": {"exit": 0}}, push_event())
    assert job.result == "failure"
    assert job.outcomes == apply_steps("sssf------")
    assert bench.calls() == [["--version"]]
    assert bench.uploaded == {}
    assert job.annotations == [
        "::error::Commit aaaaaaa did not come from a merged pull request (a direct push?). "
        "Nothing was applied. Changes reach Panintelligence only through a reviewed pull "
        "request plan: open a pull request for them, or run this workflow by hand with "
        "full_apply to plan and apply the whole desired state."
    ]


def test_a_full_apply_by_hand_with_force(bench: Bench) -> None:
    job = bench.run(
        "pisync-apply.yml",
        {"apply": {"exit": 0, "report": REPORT}},
        push_event(event="workflow_dispatch"),
        inputs={"full_apply": True, "force": True},
    )
    assert job.result == "success", job.steps
    assert job.outcomes == apply_steps("sss----sss")
    assert bench.calls() == [
        ["--version"],
        ["apply", "--auto-approve", "--report", "apply-report.json", "--force"],
    ]
    assert job.annotations == [
        "::notice title=pisync apply::Applied: Panintelligence now has the changes of the "
        "reviewed plan."
    ]


def test_a_run_by_hand_on_another_branch_applies_nothing(bench: Bench) -> None:
    job = bench.run(
        "pisync-apply.yml",
        {},
        push_event(ref_name="feature", event="workflow_dispatch"),
        inputs={"full_apply": True, "force": False},
    )
    assert job.result == "skipped"
    assert not bench.log.exists()


# --- pisync-drift.yml -----------------------------------------------------------------------

DRIFT_STEPS = [
    "Check out the desired state",
    "Set up Python",
    "Install pisync from git",
    "Plan the whole desired state against the server",
    "Open, update or close the drift issue",
    "Check result",
]


def drift_steps(outcomes: str) -> list[tuple[str, str]]:
    names = {"s": "success", "f": "failure", "-": "skipped"}
    return [(n, names[o]) for n, o in zip(DRIFT_STEPS, outcomes, strict=True)]


def schedule_event() -> dict[str, Any]:
    return {
        "event_name": "schedule",
        "sha": MERGE,
        "ref": "refs/heads/main",
        "ref_name": "main",
        "event": {},
    }


def test_drift_opens_the_issue_then_closes_it(bench: Bench) -> None:
    job = bench.run(
        "pisync-drift.yml", {"plan": {"exit": 2, "markdown": md("spec_example")}}, schedule_event()
    )
    assert job.result == "success", job.steps
    assert job.outcomes == drift_steps("ssssss")
    assert bench.calls() == [["--version"], ["plan", "--detailed-exitcode", "--format", "markdown"]]
    assert bench.call_env("plan")["PISYNC_USERNAME"] == "ci-bot"
    assert job.summary == md("spec_example")
    assert [w[:2] for w in bench.github.writes()] == [("POST", f"{R}/issues")]
    issue = bench.github.issues[1]
    assert issue["labels"] == [{"name": "pisync-drift"}]
    assert issue["body"].startswith("<!-- pisync-drift -->\nThe live Panintelligence server")
    assert issue["body"].endswith(md("spec_example").strip() + "\n")
    assert job.annotations == [
        "::notice title=pisync drift::Panintelligence has drifted from the desired state in "
        "git: see the open issue labelled pisync-drift."
    ]

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


@pytest.mark.parametrize("code", [1, 3, 4])
def test_a_failed_drift_check_fails_the_job_and_leaves_the_issue(bench: Bench, code: int) -> None:
    job = bench.run("pisync-drift.yml", {"plan": {"exit": code}}, schedule_event())
    assert job.result == "failure"
    assert job.outcomes == drift_steps("ssss-f")
    assert job.annotations[-1].startswith(f"::error title=pisync drift (exit {code})::")
    assert bench.github.requests == []


def test_a_drift_check_by_hand_on_another_branch_leaves_the_issue(bench: Bench) -> None:
    event = {**push_event(ref_name="feature", event="workflow_dispatch")}
    job = bench.run(
        "pisync-drift.yml", {"plan": {"exit": 2, "markdown": md("spec_example")}}, event
    )
    assert job.result == "success"
    assert job.outcomes == drift_steps("ssss-s")
    assert bench.github.requests == []
