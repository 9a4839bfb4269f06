"""pisync import over real HTTP: files that validate and a plan right after that is empty."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, pisync

pytestmark = pytest.mark.e2e

RICH_SEED: dict[str, Any] = {
    "categories": [
        {"name": "Finance", "parent": None},
        {"name": "Budgets", "parent": "Finance"},
        {"name": "Q1", "parent": "Budgets"},
        {"name": "HR", "parent": None},
    ],
    "roles": [
        {
            "name": "Finance Viewer",
            "description": "Finance",
            "categories": ["Budgets"],
            "privileges": ["pdf", "exportToExcel"],
        },
        {"name": "Admins", "categories": [], "privileges": ["editUsers"]},
    ],
    "users": [
        {
            "user": {
                "usercode": "j.Smith",
                "forenames": "John",
                "surname": "Smith",
                "email": "john@example.com",
                "userTypeId": 1,
                "lite": True,
                "themeName": "dark",
                "userExpirationDate": "2027-01-31",
                "allowPasswordLogin": True,
                "allowExternalLogin": False,
                "requireMfa": True,
                "pdf": True,
                "schedule": True,
                "editCharts": True,
            },
            "variables": [
                {"name": "region", "value": "North", "isSecure": False},
                {"name": "dbPassword", "value": "hunter2-secret", "isSecure": True},
            ],
            "restrictions": [
                {
                    "dataConnectionIdentifier": "Sales DB",
                    "columnIdentifier": "Region",
                    "value": "North",
                },
                {
                    "dataConnectionIdentifier": "Sales DB",
                    "columnIdentifier": "Region",
                    "value": "East",
                },
            ],
            "userRoles": [{"roleIdentifier": "Finance Viewer"}],
            "userCategories": [{"categoryIdentifier": c} for c in ("Finance", "Budgets", "Q1")],
        },
        {
            "user": {
                "usercode": "Old.Timer",
                "forenames": "Old",
                "surname": "Timer",
                "clientEnabled": False,
                "parentIdentifier": "J.SMITH",
                "userTypeId": 4,
            },
        },
        {
            "user": {
                "usercode": "boss",
                "forenames": "Big",
                "surname": "Boss",
                "userTypeId": 0,
                "editUsers": True,
            },
            "userRoles": ["Admins"],
            "userCategories": ["HR"],
        },
    ],
}


def test_import_then_plan_is_empty(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(RICH_SEED)
    out = tmp_path / "repo"
    r = pisync(["import", "--out", str(out)], cwd=tmp_path, url=emu.url)
    assert r.code == 0, r.all
    assert r.out == (
        f"Imported 3 users and 2 roles into {out} (4 files).\n"
        "Not imported: the super admin ADMIN.\n"
        "Secure variables are not written; set these environment variables:\n"
        "  PISYNC_VAR_J_SMITH_DBPASSWORD  (user J.SMITH, variable dbPassword)\n"
        f"Next: cd {out} && pisync plan   # should show no changes\n"
    )
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        ".gitignore",
        "pisync.yaml",
        "schemas/claims.schema.json",
        "schemas/decisions.schema.json",
        "schemas/pisync-config.schema.json",
        "schemas/pisync-file.schema.json",
        "schemas/plan.schema.json",
        "schemas/review.schema.json",
        "users/boss.yaml",
        "users/j.smith.yaml",
        "users/old.timer.yaml",
        "users/roles.yaml",
    ]
    for schema in (out / "schemas").iterdir():  # the repository's own files, byte for byte
        assert schema.read_bytes() == (ROOT / "schemas" / schema.name).read_bytes(), schema.name
    text = (out / "users" / "j.smith.yaml").read_text()
    assert "hunter2-secret" not in text + r.all
    assert text.splitlines()[4:] == [
        "  - usercode: J.SMITH",
        "    forenames: John",
        "    surname: Smith",
        "    email: john@example.com",
        "    type: designer",
        "    lite: true",
        "    theme: dark",
        "    expires: 2027-01-31",
        "    login: {password: true, external: false, mfa: true}",
        "    privileges:",
        "      - accessAccount",
        "      - audit",
        "      - clientExcludePasswordExpiry",
        "      - editCharts",
        "      - editOwnPassword",
        "      - logoutEnabled",
        "      - pdf",
        "      - schedule",
        "    roles: [Finance Viewer]",
        "    categories: [Q1]",
        "    variables:",
        "      dbPassword: {env: PISYNC_VAR_J_SMITH_DBPASSWORD, secure: true}",
        "      region: North",
        "    restrictions:",
        "      - {connection: Sales DB, column: Region, values: [East, North]}",
    ]
    assert pisync(["validate"], cwd=out).out == "All 5 files valid: 3 users, 2 roles.\n"
    plan = pisync(
        ["plan", "--detailed-exitcode"],
        cwd=out,
        url=emu.url,
        env={"PISYNC_VAR_J_SMITH_DBPASSWORD": "hunter2-secret"},
    )
    assert plan.code == 0, plan.all
    assert plan.out == "No changes. Panintelligence matches the desired state.\n"
    # a wrong secret is a change, shown without its value
    changed = pisync(
        ["plan"], cwd=out, url=emu.url, env={"PISYNC_VAR_J_SMITH_DBPASSWORD": "rotated"}
    )
    assert (
        "variables.dbPassword: (sensitive value changed: env PISYNC_VAR_J_SMITH_DBPASSWORD, secure)"
        in changed.out
    )
    assert "rotated" not in changed.all
    assert "hunter2" not in changed.all


def test_import_writes_a_gitignore_for_what_is_not_desired_state(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(RICH_SEED)
    out = tmp_path / "repo"
    assert pisync(["import", "--out", str(out)], cwd=tmp_path, url=emu.url).code == 0
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(out)], check=True)
    env = {"PISYNC_VAR_J_SMITH_DBPASSWORD": "hunter2-secret"}
    planned = pisync(["plan", "--out", "plan.json"], cwd=out, url=emu.url, env=env)
    applied = pisync(
        ["apply", "plan.json", "--report", "apply-report.json"], cwd=out, url=emu.url, env=env
    )
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=out,
        capture_output=True,
        text=True,
        check=True,
    )

    assert planned.code == applied.code == 0, planned.all + applied.all
    assert (out / "plan.json").is_file()
    assert json.loads((out / "apply-report.json").read_text(encoding="utf-8")) == {
        "format_version": 2,
        "server": emu.url,
        "interrupted": False,
        "summary": {
            "created": 0,
            "updated": 0,
            "disabled": 0,
            "deleted": 0,
            "failed": 0,
            "not_attempted": 0,
            "abandoned": 0,
        },
        "changes": [],
    }
    assert (out / ".pisync-cache").is_dir()
    assert sorted(status.stdout.splitlines()) == [
        "?? .gitignore",
        "?? pisync.yaml",
        "?? schemas/claims.schema.json",
        "?? schemas/decisions.schema.json",
        "?? schemas/pisync-config.schema.json",
        "?? schemas/pisync-file.schema.json",
        "?? schemas/plan.schema.json",
        "?? schemas/review.schema.json",
        "?? users/boss.yaml",
        "?? users/j.smith.yaml",
        "?? users/old.timer.yaml",
        "?? users/roles.yaml",
    ]


def test_import_refuses_to_overwrite_without_force(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(RICH_SEED)
    out = tmp_path / "repo"
    assert pisync(["import", "--out", str(out)], cwd=tmp_path, url=emu.url).code == 0
    again = pisync(["import", "--out", str(out)], cwd=tmp_path, url=emu.url)
    assert again.code == 64
    assert again.err.startswith("Error: 4 file(s) already exist (")
    assert again.err.endswith("; pass --force to overwrite them\n")
    forced = pisync(["import", "--out", str(out), "--force"], cwd=tmp_path, url=emu.url)
    assert forced.code == 0, forced.all


def test_import_layouts_and_filters(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(RICH_SEED)
    out = tmp_path / "repo"
    r = pisync(
        [
            "import",
            "--out",
            str(out),
            "--layout",
            "per-role-file",
            "--exclude",
            "OLD.*",
            "--no-roles",
        ],
        cwd=tmp_path,
        url=emu.url,
    )
    assert r.code == 0, r.all
    assert sorted(p.name for p in (out / "users").iterdir()) == [
        "admins.yaml",
        "finance_viewer.yaml",
    ]
    bad = pisync(["import", "--out", str(out), "--layout", "flat"], cwd=tmp_path, url=emu.url)
    assert bad.code == 64
    assert "'flat' is not one of per-user, per-role-file, single" in bad.err
