"""What a person sees on bad input: exact messages and exit codes, never a traceback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import free_port, pisync

pytestmark = pytest.mark.e2e


def test_unknown_option_is_a_usage_error_64(tmp_path: Path) -> None:
    r = pisync(["plan", "--no-such-option"], cwd=tmp_path)
    assert r.code == 64
    assert "No such option: --no-such-option" in r.err
    assert "Traceback" not in r.all


def test_no_url_is_a_usage_error(example_repo: Path) -> None:
    r = pisync(["plan"], cwd=example_repo)
    assert r.code == 64
    assert r.err == (
        "Error: no server URL: pass --url, set PISYNC_URL, or set server.url in pisync.yaml\n"
    )


def test_server_down_is_exit_1_fast_naming_host_and_port(example_repo: Path) -> None:
    port = free_port()
    started = time.monotonic()
    r = pisync(["plan"], cwd=example_repo, url=f"http://127.0.0.1:{port}/pi/api/v2")
    assert time.monotonic() - started < 5  # two quick retries, not 9 s of silence
    assert r.code == 1
    assert r.err == (
        f"Error: POST /tokens: cannot connect to 127.0.0.1:{port} (connection refused) after 3"
        " attempts; check that the server is up and that the URL is right\n"
    )
    assert r.out == ""


def test_bad_credentials(emulator_factory: Any, example_repo: Path) -> None:
    emu = emulator_factory(None)
    r = pisync(["plan"], cwd=example_repo, url=emu.url, env={"PISYNC_PASSWORD": "wrong"})
    assert r.code == 1
    assert r.err == (
        "Error: the server rejected the credentials of PISYNC_USERNAME (admin): check"
        " PISYNC_USERNAME and PISYNC_PASSWORD\n"
    )
    assert "wrong" not in r.all


def test_unknown_role_is_exit_3_with_file_and_line(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(None)
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(
        "users:\n  - usercode: x1\n    forenames: X\n    surname: One\n    roles: [Ghost]\n",
        encoding="utf-8",
    )
    r = pisync(["plan"], cwd=tmp_path, url=emu.url)
    assert r.code == 3, r.all
    assert r.out == (
        'users/a.yaml:5:13: error: role "Ghost" is neither declared in a desired-state file nor'
        " defined on the server; declare it under roles: (at users[0].roles[0])\n"
        "1 error; nothing was planned or applied.\n"
    )


def test_apply_without_a_terminal_needs_auto_approve(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(["apply"], cwd=example_repo, url=emu.url)
    assert r.code == 64
    assert r.err.endswith(
        "Error: apply needs confirmation but there is no terminal; pass --auto-approve, or"
        " apply a saved plan (pisync plan --out plan.json; pisync apply plan.json)\n"
    )


def test_missing_secret_env_is_exit_3(
    emulator_factory: Any, example_repo: Path, example_seed: dict[str, Any]
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(["plan"], cwd=example_repo, url=emu.url, unset=["FINANCE_DB_PASSWORD"])
    assert r.code == 3, r.all
    assert r.out.splitlines()[0] == (
        "users/finance.yaml:31:5: error: user LCHEN: variable warehousePassword reads"
        " environment variable FINANCE_DB_PASSWORD, which is not set; set it where pisync runs"
        " (at users[LCHEN].variables.warehousePassword)"
    )


EVERY_PROBLEM = """\
users:
  - usercode: newbie
    email: newbie@example.com
  - usercode: x1
    forenames: X
    surname: One
    roles: [Ghost]
    categories: [Nowhere]
    variables:
      token: {env: FINANCE_TEST_NOT_SET, secure: true}
"""


@pytest.mark.parametrize(
    "command", [["plan"], ["apply", "--auto-approve"], ["claims", "--live", "--include-secure"]]
)
def test_every_problem_a_plan_can_know_is_reported_at_once(
    emulator_factory: Any, tmp_path: Path, command: list[str]
) -> None:
    emu = emulator_factory(
        {"users": [{"user": {"usercode": "X1", "forenames": "X", "surname": "One"}}]}
    )
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(EVERY_PROBLEM, encoding="utf-8")

    r = pisync(command, cwd=tmp_path, url=emu.url)

    assert r.code == 3, r.all
    assert r.out == (
        "users/a.yaml:2:5: error: user NEWBIE does not exist on the server yet, so it will be"
        " created, and a new user needs forenames and surname; add forenames: and surname:"
        " (at users[NEWBIE])\n"
        'users/a.yaml:7:13: error: role "Ghost" is neither declared in a desired-state file nor'
        " defined on the server; declare it under roles: (at users[1].roles[0])\n"
        'users/a.yaml:8:5: error: user X1: category "Nowhere" does not exist on the server'
        " (pisync assigns categories but does not create them); known: none"
        " (at users[X1].categories)\n"
        "users/a.yaml:9:5: error: user X1: variable token reads environment variable"
        " FINANCE_TEST_NOT_SET, which is not set; set it where pisync runs"
        " (at users[X1].variables.token)\n"
        "4 errors; nothing was planned or applied.\n"
    )
    assert not [e for e in emu.requests() if e["method"] == "POST" and "sync" in e["path"]]


ROLES = "roles:\n  - name: Sales Viewer\n"


def test_validate_catches_a_misspelt_declared_role_offline(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "roles.yaml").write_text(ROLES, encoding="utf-8")
    (tmp_path / "users" / "a.yaml").write_text(
        "users:\n  - usercode: a1\n    roles: [Sales Viewr]\n", encoding="utf-8"
    )

    r = pisync(["validate"], cwd=tmp_path, unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"])

    assert r.code == 3, r.all
    assert r.out == (
        'users/a.yaml:3:13: error: role "Sales Viewr" is not declared in any desired-state'
        ' file; did you mean "Sales Viewer"? If the server has a role of exactly this name,'
        " declare it under roles: with its name alone (that leaves it as it is)"
        " (at users[0].roles[0])\n"
        "1 error in 1 of 2 files.\n"
    )


def test_validate_says_once_what_only_the_server_can_settle(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "roles.yaml").write_text(ROLES, encoding="utf-8")
    users = "".join(
        f"  - usercode: u{i}\n    roles: [Sales Viewer, Legacy Reports, Old Admins]\n"
        for i in range(3)
    )
    (tmp_path / "users" / "a.yaml").write_text("users:\n" + users, encoding="utf-8")

    text = pisync(["validate"], cwd=tmp_path)
    data = pisync(["validate", "--format", "json"], cwd=tmp_path)
    quiet = pisync(["validate", "-q"], cwd=tmp_path)

    note = (
        "6 role references name 2 roles that no file declares; they may exist only on the"
        " server, so validate cannot check them offline: pisync plan checks them"
    )
    assert (text.code, text.out) == (0, f"note: {note}\nAll 2 files valid: 3 users, 1 role.\n")
    assert data.code == 0
    assert json.loads(data.out)["notes"] == [note]
    assert (quiet.code, quiet.out) == (0, "All 2 files valid: 3 users, 1 role.\n")


def test_with_roles_prune_delete_validate_requires_every_role_declared(tmp_path: Path) -> None:
    (tmp_path / "pisync.yaml").write_text("roles: {prune: delete}\n", encoding="utf-8")
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "roles.yaml").write_text(ROLES, encoding="utf-8")
    (tmp_path / "users" / "a.yaml").write_text(
        "users:\n  - usercode: a1\n    roles: [Legacy Reports]\n", encoding="utf-8"
    )

    r = pisync(["validate"], cwd=tmp_path)

    assert r.code == 3, r.all
    assert r.out.splitlines()[0] == (
        'users/a.yaml:3:13: error: role "Legacy Reports" is not declared in any desired-state'
        " file, and roles.prune: delete means the files declare every role; declare it under"
        " roles: (at users[0].roles[0])"
    )


# --- issue 19, item 8: small things a person trips over ------------------------------------


def test_an_error_in_pisync_yaml_adds_no_false_sources_error(tmp_path: Path) -> None:
    (tmp_path / "pisync.yaml").write_text(
        'sources: ["users/*.yaml"]\nserver: {timeout: x}\n', encoding="utf-8"
    )
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(
        "users:\n  - {usercode: A, forenames: A, surname: A}\n", encoding="utf-8"
    )

    r = pisync(["validate"], cwd=tmp_path)

    assert r.code == 3, r.all
    assert r.out == (
        'pisync.yaml:2:10: error: timeout must be a number, found the text "x" (at'
        " server.timeout)\n1 error in 1 of 2 files.\n"
    )


def test_a_plan_file_and_paths_together_are_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "plan.json").write_text("{}", encoding="utf-8")

    r = pisync(["apply", "plan.json", "users/"], cwd=tmp_path)

    assert (r.code, r.out) == (64, "")
    assert r.err == (
        "Error: apply takes one saved plan or desired-state paths, not both: plan.json is a plan"
        " file (.json); apply it alone (pisync apply PLANFILE), or give only PATHs\n"
    )


@pytest.mark.parametrize("flags", [["-vq"], ["-qv"], ["-v", "-q"], ["-q", "--verbose"]])
def test_combined_global_flags_work_after_the_command(tmp_path: Path, flags: list[str]) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(
        "users:\n  - {usercode: A, forenames: A, surname: A}\n", encoding="utf-8"
    )

    after = pisync(["validate", *flags], cwd=tmp_path)
    before = pisync([*flags, "validate"], cwd=tmp_path)

    assert (after.code, after.err) == (0, ""), after.all
    assert after.out == before.out == "1 file valid: 1 user, 0 roles.\n"
