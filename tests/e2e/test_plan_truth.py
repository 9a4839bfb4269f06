"""The plan is the whole truth, and apply never loses data: each way a reviewed plan and the
merge that follows it could disagree, through the real CLI and a real emulator process."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.plans.plan import document_digest
from tests.e2e.conftest import PISYNC, Emulator, pisync

pytestmark = pytest.mark.e2e

SYNC = "/pi/api/v2/users/sync"


def writes(emu: Emulator) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"])
        for e in emu.requests()
        if e["method"] in ("POST", "PUT", "DELETE") and not e["path"].endswith("/tokens")
    ]


def seed_users(*codes: str, **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "users": [
            {"user": {"usercode": c, "forenames": "F", "surname": c, **extra.get(c, {})}}
            for c in codes
        ]
    }


def write_repo(root: Path, config: str, files: dict[str, str]) -> Path:
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    for name, text in files.items():
        (root / "users" / name).write_text(text, encoding="utf-8")
    return root


def users_yaml(*codes: str) -> str:
    return "users:\n" + "".join(
        f"  - {{usercode: {c}, forenames: F, surname: {c}}}\n" for c in codes
    )


# --- 1. a partial view never prunes what it cannot see ---------------------------------------


def test_a_plan_over_some_files_prunes_nothing_else(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(seed_users("A1", "A2", "B1", "B2"))
    root = write_repo(
        tmp_path / "repo",
        "users: {prune: disable}\nroles: {prune: delete}\n"
        "safety: {max_prune_percent: 100, max_prune_count: 100}\n",
        {"a.yaml": users_yaml("A1", "A2"), "b.yaml": users_yaml("B1", "B2")},
    )
    (root / "users" / "a.yaml").write_text(
        users_yaml("A1", "A2").replace("surname: A1}", "surname: A1, email: a1@example.com}"),
        encoding="utf-8",
    )

    partial = pisync(["plan", "users/a.yaml"], cwd=root, url=emu.url)
    whole_folder = pisync(["plan", "users"], cwd=root, url=emu.url)
    as_json = json.loads(
        pisync(["plan", "users/a.yaml", "--format", "json"], cwd=root, url=emu.url).out
    )
    emu.clear_requests()
    applied = pisync(["apply", "users/a.yaml", "--auto-approve"], cwd=root, url=emu.url)
    applied_path = pisync(
        ["apply", "--path", "users/a.yaml", "--auto-approve"], cwd=root, url=emu.url
    )

    assert partial.code == 0, partial.all
    assert partial.out == (
        f"pisync will perform these actions against {emu.url}:\n\n"
        "Note: partial plan: 1 file; users and roles not declared in them are not considered.\n\n"
        "  ~ user A1\n"
        '      ~ email: null -> "a1@example.com"\n\n'
        "Plan: 0 to create, 1 to update, 0 to disable, 0 to delete.\n"
    )
    # the folder that holds every source is the whole desired state: not partial
    assert "partial plan" not in whole_folder.out
    assert as_json["partial"] == {"files": 1, "changed_since": None}
    assert applied.code == 0, applied.all
    assert applied.out.splitlines()[-1] == (
        "Apply complete: 0 created, 1 updated, 0 disabled, 0 deleted, 0 failed."
    )
    assert (
        applied_path.out.splitlines()[-1]
        == "No changes. Panintelligence matches the desired state."
    )
    assert writes(emu) == [("POST", SYNC)]
    assert [e["usercodes"] for e in emu.requests() if e["path"] == SYNC] == [["A1"]]


# --- 4. a conflict that appears only after merging with live values --------------------------


def test_a_merged_payload_the_server_would_refuse_fails_the_plan_at_the_yaml_line(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(seed_users("EXT", EXT={"allowPasswordLogin": False}))
    root = write_repo(
        tmp_path / "repo",
        "users: {prune: 'off'}\n",
        {"a.yaml": "users:\n  - usercode: ext\n    login: {external: false}\n    parent: nobody\n"},
    )

    planned = pisync(["plan"], cwd=root, url=emu.url)
    emu.clear_requests()
    applied = pisync(["apply", "--auto-approve"], cwd=root, url=emu.url)

    expected = (
        "users/a.yaml:3:13: error: user EXT: login.external: false leaves no way to sign in,"
        " because login.password is false on the server; the server refuses a user nobody can"
        " sign in as: set login.password: true as well (at users[EXT].login.external)\n"
        'users/a.yaml:4:5: error: user EXT: parent "NOBODY" is neither a user on the server nor'
        " declared in the desired state; declare it, or fix the name (at users[EXT].parent)\n"
        "2 errors; nothing was planned or applied.\n"
    )
    assert (planned.code, planned.out) == (3, expected), planned.all
    assert (applied.code, applied.out) == (3, expected), applied.all
    assert writes(emu) == []


# --- 5. a tampered saved plan ----------------------------------------------------------------


def saved_plan(emu: Emulator, root: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    planfile = tmp_path / "plan.json"
    planned = pisync(["plan", "--out", str(planfile)], cwd=root, url=emu.url)
    assert planned.code == 0, planned.all
    return planfile, json.loads(planfile.read_text(encoding="utf-8"))


def changed_repo(tmp_path: Path) -> Path:
    return write_repo(
        tmp_path / "repo",
        "users: {prune: 'off'}\n",
        {"a.yaml": users_yaml("N1", "N2", "N3")},
    )


def test_a_plan_file_that_breaks_its_schema_is_refused_before_any_write(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(None)
    root = changed_repo(tmp_path)
    planfile, data = saved_plan(emu, root, tmp_path)
    data["changes"][1]["surprise"] = True
    data["digest"] = document_digest(data)  # even with a matching digest
    planfile.write_text(json.dumps(data), encoding="utf-8")
    emu.clear_requests()

    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)

    assert applied.code == 3, applied.all
    assert applied.out == (
        f"error: {planfile}: changes[1]: Additional properties are not allowed ('surprise' was"
        " unexpected)\n1 error; nothing was planned or applied.\n"
    )
    assert "Traceback" not in applied.all
    assert writes(emu) == []


def test_a_plan_file_changed_after_it_was_written_is_refused(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(None)
    root = changed_repo(tmp_path)
    planfile, data = saved_plan(emu, root, tmp_path)
    data["changes"][0]["desired"]["surname"] = "Tampered"
    planfile.write_text(json.dumps(data), encoding="utf-8")
    emu.clear_requests()

    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)

    assert applied.code == 5, applied.all
    assert applied.err == (
        f"Error: {planfile} was changed after pisync wrote it (its content does not match its"
        " digest); nothing was applied. Make the plan again and review it: pisync plan --out"
        f" {planfile}\n"
    )
    assert writes(emu) == []


# --- 6. a delete that succeeded although its answer was lost ---------------------------------


def test_a_delete_whose_answer_is_lost_is_done(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(seed_users("KEEP", "GONE"))
    root = write_repo(
        tmp_path / "repo",
        "users: {prune: delete}\nsafety: {max_prune_percent: 100}\n",
        {"a.yaml": users_yaml("KEEP")},
    )
    emu.control(
        "PUT",
        "faults",
        {"fault_methods": ["DELETE"], "fault_phase": "after", "script": ["drop"]},
    )
    report = tmp_path / "report.json"

    applied = pisync(["apply", "--auto-approve", "--report", str(report)], cwd=root, url=emu.url)

    assert applied.code == 0, applied.all
    assert applied.out.splitlines()[-1] == (
        "Apply complete: 0 created, 0 updated, 0 disabled, 1 deleted, 0 failed."
    )
    deletes = [(e["status"], e["appStatus"]) for e in emu.requests() if e["method"] == "DELETE"]
    assert deletes == [(None, 204), (404, 404)]  # processed, answer lost; then already gone
    assert json.loads(report.read_text())["changes"][0]["outcome"] == "applied"


# --- 7. interrupts -----------------------------------------------------------------------------


def run_in_pty(args: list[str], cwd: Path, url: str, keys: bytes, prompt: bytes) -> tuple[int, str]:
    """Run pisync on a terminal, wait for ``prompt``, type ``keys``; (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PISYNC_")}
    env.update(PISYNC_USERNAME="admin", PISYNC_PASSWORD="dashboard", PISYNC_URL=url, NO_COLOR="1")
    main, child = pty.openpty()

    def controlling_terminal() -> None:  # so that ^C on the terminal is a SIGINT, as for a person
        # a person's shell starts pisync with SIGINT's default; a test worker may ignore SIGINT,
        # and an ignored SIGINT is inherited (then Python never installs its handler)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [PISYNC, *args],
        cwd=cwd,
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
        preexec_fn=controlling_terminal,
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 90  # a loaded machine: the prompt may take a while
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        # the keys go the instant the prompt shows: a Ctrl-C then, before the read starts, or
        # one that reaches another thread of the process, must still end the prompt at once
        if not sent and prompt in seen:
            os.write(main, keys)
            sent = True
        if proc.poll() is not None and not ready:
            break
    try:
        code = proc.wait(timeout=20)  # under pytest-timeout's 120 s, so what it showed is told
    except subprocess.TimeoutExpired:  # say what it showed, rather than a bare timeout
        proc.kill()
        proc.wait()
        os.close(main)
        pytest.fail(
            f"pisync {' '.join(args)} did not end; it showed:\n{seen.decode(errors='replace')}"
        )
    os.close(main)
    return code, seen.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("keys", "code"), [(b"\x03", 130), (b"n\r", 1)], ids=["ctrl-c", "answer-no"]
)
def test_the_prompt_cancels_at_once_and_says_so(
    emulator_factory: Any, tmp_path: Path, keys: bytes, code: int
) -> None:
    emu = emulator_factory(None)
    root = changed_repo(tmp_path)
    emu.clear_requests()

    got, output = run_in_pty(["apply"], root, emu.url, keys, b"Apply these changes?")

    assert got == code, output
    assert output.rstrip().endswith("Apply cancelled; nothing was changed."), output
    assert writes(emu) == []


def start_apply(root: Path, url: str, report: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PISYNC_")}
    env.update(PISYNC_USERNAME="admin", PISYNC_PASSWORD="dashboard", PISYNC_URL=url)
    return subprocess.Popen(
        [PISYNC, "apply", "--auto-approve", "--parallelism", "2", "--report", str(report)],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_sync(emu: Emulator) -> None:
    deadline = time.monotonic() + 30
    while not [e for e in emu.requests() if e["path"] == SYNC] and time.monotonic() < deadline:
        time.sleep(0.02)


def many_new_users(tmp_path: Path) -> Path:
    codes = [f"N{i:02d}" for i in range(12)]
    return write_repo(tmp_path / "repo", "users: {prune: 'off'}\n", {"a.yaml": users_yaml(*codes)})


def test_ctrl_c_stops_new_changes_and_ends_retry_waits_at_once(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(None)
    root = many_new_users(tmp_path)
    report = tmp_path / "report.json"
    # every sync is answered 500: apply would retry with backoff for a long time
    emu.control(
        "PUT", "faults", {"fail_rate": 1.0, "fault_methods": ["POST"], "fault_paths": [SYNC[10:]]}
    )
    proc = start_apply(root, emu.url, report)
    wait_for_sync(emu)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, (out, err)
    assert time.monotonic() - started < 3  # no more backoff once asked to stop
    # the first create is the canary: it runs alone, so it is the only one in flight
    assert out.decode().splitlines()[-2] == (
        "Apply interrupted: 0 created, 0 updated, 0 disabled, 0 deleted, 1 failed,"
        " 11 not attempted."
    )
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["interrupted"] is True
    assert [c["outcome"] for c in body["changes"]].count("not_attempted") == 11
    assert body["summary"]["not_attempted"] == 11


def test_a_second_ctrl_c_abandons_the_changes_in_flight(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(None)
    root = many_new_users(tmp_path)
    report = tmp_path / "report.json"
    emu.control("PUT", "faults", {"latency_ms": 1500})
    proc = start_apply(root, emu.url, report)
    wait_for_sync(emu)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, (out, err)
    assert time.monotonic() - started < 1.2  # not waiting for the 1.5 s answers
    assert err.decode().endswith("\nAbandoning the changes in flight.\n")
    # the first create is the canary: it runs alone, so it is the only one in flight
    assert out.decode().splitlines()[-2] == (
        "Apply interrupted: 0 created, 0 updated, 0 disabled, 0 deleted, 0 failed,"
        " 11 not attempted, 1 abandoned (result unknown)."
    )
    outcomes = [c["outcome"] for c in json.loads(report.read_text())["changes"]]
    assert outcomes == ["abandoned"] + ["not_attempted"] * 11


# --- 8. errors that name the server and the fix, fast ----------------------------------------


def test_an_invalid_token_says_the_server_refused_it(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(None)
    root = changed_repo(tmp_path)
    r = pisync(
        ["plan"],
        cwd=root,
        url=emu.url,
        env={"PISYNC_TOKEN": "not-a-token"},
        unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"],
    )
    assert r.code == 1
    assert r.err == (
        "Error: the server refused PISYNC_TOKEN (401: invalid token: sign in again with POST"
        " /tokens); set a fresh token, or PISYNC_USERNAME and PISYNC_PASSWORD so pisync can"
        " sign in itself\n"
    )
    assert "not-a-token" not in r.all


def test_a_url_with_the_wrong_base_path_says_what_it_usually_ends_with(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(None)
    root = changed_repo(tmp_path)
    url = f"{emu.base}/x"
    r = pisync(["plan"], cwd=root, url=url)
    assert r.code == 1
    assert r.err == (
        f"Error: {url} does not answer like the Panintelligence API (POST /tokens returned HTTP"
        " 404); the URL usually ends in /pi/api/v2\n"
    )
    assert "Traceback" not in r.all


def test_a_url_without_a_scheme_is_a_usage_error_at_once(tmp_path: Path) -> None:
    root = changed_repo(tmp_path)
    started = time.monotonic()
    r = pisync(["plan"], cwd=root, url="127.0.0.1:8224/pi/api/v2")
    assert time.monotonic() - started < 5
    assert r.code == 64
    assert r.err == (
        "Error: the server URL '127.0.0.1:8224/pi/api/v2' must start with https:// or http://"
        " and name a host, e.g. https://pi.example.com:8224/pi/api/v2\n"
    )


# --- 9. import never overwrites its own files --------------------------------------------------


def test_import_keeps_a_user_called_roles_and_never_reads_a_config_as_state(
    emulator_factory: Any, tmp_path: Path
) -> None:
    seed = seed_users("ROLES", "alice")
    seed["roles"] = [{"name": "Viewers", "description": "v", "categories": [], "privileges": []}]
    emu = emulator_factory(seed)
    out = tmp_path / "imported"
    imported = pisync(["import", "--out", str(out)], cwd=tmp_path, url=emu.url)
    assert imported.code == 0, imported.all
    assert sorted(p.name for p in (out / "users").iterdir()) == [
        "alice.yaml",
        "roles-2.yaml",
        "roles.yaml",
    ]
    in_folder = pisync(["plan", "--detailed-exitcode"], cwd=out, url=emu.url)
    assert in_folder.code == 0, in_folder.all
    # a repository whose sources take in the imported folder, pisync.yaml and all
    (tmp_path / "pisync.yaml").write_text('sources: ["imported/**/*.y*ml"]\n', encoding="utf-8")
    above = pisync(["validate"], cwd=tmp_path)
    planned = pisync(["plan", "--detailed-exitcode"], cwd=tmp_path, url=emu.url)
    assert above.code == 0, above.all
    assert above.out.splitlines()[-1] == "All 4 files valid: 2 users, 1 role."
    assert planned.code == 0, planned.all


# --- 10. no silent no-ops ------------------------------------------------------------------------


def test_undeclared_users_left_alone_are_named(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(seed_users("KEPT", "STRAY"))
    root = write_repo(tmp_path / "repo", "users: {prune: 'off'}\n", {"a.yaml": users_yaml("KEPT")})
    r = pisync(["plan"], cwd=root, url=emu.url)
    assert r.code == 0, r.all
    assert r.out == (
        "Note: 1 live user is not declared and left alone because users.prune is off (STRAY)\n\n"
        "No changes. Panintelligence matches the desired state.\n"
    )


def test_an_unknown_target_is_an_error_with_a_suggestion(
    emulator_factory: Any, tmp_path: Path
) -> None:
    seed = seed_users("ZOE")
    seed["roles"] = [
        {"name": "Finance Viewer", "description": "", "categories": [], "privileges": []}
    ]
    emu = emulator_factory(seed)
    root = write_repo(tmp_path / "repo", "users: {prune: 'off'}\n", {"a.yaml": users_yaml("ZOE")})
    typo = pisync(["plan", "--target", "ZEO"], cwd=root, url=emu.url)
    role = pisync(["plan", "--target", "Finance Viewer"], cwd=root, url=emu.url)
    assert (typo.code, typo.out) == (
        3,
        'error: --target ZEO: no declared or live user has this usercode; did you mean "ZOE"?\n'
        "1 error; nothing was planned or applied.\n",
    )
    assert (role.code, role.out) == (
        3,
        'error: --target Finance Viewer: "Finance Viewer" is a role, and --target takes'
        " usercodes; name the users whose access you want to plan\n"
        "1 error; nothing was planned or applied.\n",
    )


def test_apply_takes_targets(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(None)
    root = changed_repo(tmp_path)
    emu.clear_requests()
    r = pisync(["apply", "--target", "n2", "--auto-approve"], cwd=root, url=emu.url)
    assert r.code == 0, r.all
    assert [e["usercodes"] for e in emu.requests() if e["path"] == SYNC] == [["N2"]]
    assert "Note: partial plan for --target N2; changes to other objects are not shown." in r.out


# --- 3. a user the list leaves out is never "created" over the live one ----------------------


def test_a_user_the_list_leaves_out_is_updated_from_its_own_record(
    emulator_factory: Any, tmp_path: Path
) -> None:
    seed = seed_users("SEEN", "HIDDEN")
    seed["categories"] = [{"name": "Sales", "parent": None}]
    seed["roles"] = [{"name": "Viewers", "description": "", "categories": [], "privileges": []}]
    seed["users"][1]["userRoles"] = ["Viewers"]
    seed["users"][1]["userCategories"] = ["Sales"]
    seed["users"][1]["variables"] = [{"name": "region", "value": "North"}]
    emu = emulator_factory(seed, "--list-hide", "HIDDEN")
    root = write_repo(
        tmp_path / "repo",
        "users: {prune: disable}\n",
        {
            "a.yaml": users_yaml("SEEN")
            + "  - {usercode: hidden, forenames: F, surname: HIDDEN, email: h@example.com}\n"
        },
    )
    planfile = tmp_path / "plan.json"

    planned = pisync(["plan", "--out", str(planfile)], cwd=root, url=emu.url)
    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)
    again = pisync(["plan", "--detailed-exitcode"], cwd=root, url=emu.url)

    assert planned.code == 0, planned.all
    assert planned.out == (
        f"pisync will perform these actions against {emu.url}:\n\n"
        "  ~ user HIDDEN\n"
        '      ~ email: null -> "h@example.com"\n\n'
        "Warning: the server's user list left out 1 declared user that does exist (HIDDEN); it"
        " is planned from the server's own record of each, never created over it (is the list"
        " filtered, e.g. by organisation?)\n\n"
        "Plan: 0 to create, 1 to update, 0 to disable, 0 to delete.\n"
    )
    assert applied.code == 0, applied.all
    payload = emu.api("GET", "/users/syncPayload?usercode=HIDDEN")[0]
    # what the YAML does not write is kept: roles, categories, variables
    assert payload["userRoles"] == [{"roleIdentifier": "Viewers"}]
    assert payload["userCategories"] == [{"categoryIdentifier": "Sales"}]
    assert payload["variables"] == [{"name": "region", "value": "North", "isSecure": False}]
    assert payload["user"]["email"] == "h@example.com"
    assert again.code == 0, again.all


def test_a_bare_list_that_may_be_cut_short_is_refused(
    emulator_factory: Any, tmp_path: Path
) -> None:
    # 499 users and the super admin: exactly one page of 500, and the server ignores page=
    emu = emulator_factory(
        seed_users(*(f"U{i:03d}" for i in range(499))),
        "--list-shape",
        "bare",
        "--list-paging",
        "off",
    )
    root = write_repo(
        tmp_path / "repo", "users: {prune: disable}\n", {"a.yaml": users_yaml("U000")}
    )
    r = pisync(["plan"], cwd=root, url=emu.url)
    assert r.code == 1
    assert r.err == (
        "Error: GET /users: the server returns only the first 500 users and ignores the page"
        " parameter; not planning from a list that may be cut short\n"
    )


def test_a_paged_bare_list_is_read_whole(emulator_factory: Any, tmp_path: Path) -> None:
    codes = [f"U{i:03d}" for i in range(620)]
    emu = emulator_factory(seed_users(*codes), "--list-shape", "bare")
    root = write_repo(
        tmp_path / "repo",
        "users: {prune: disable}\nsafety: {max_prune_count: 1000, max_prune_percent: 100}\n",
        {"a.yaml": users_yaml(*codes[:-1])},
    )
    r = pisync(["plan"], cwd=root, url=emu.url)
    assert r.code == 0, r.all
    assert r.out.splitlines()[-1] == "Plan: 0 to create, 0 to update, 1 to disable, 0 to delete."
    assert "  - user U619  (disable)" in r.out.splitlines()


def test_a_list_shorter_than_its_total_is_refused(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(seed_users("A", "B", "C", "D"), "--list-cap", "3")
    root = write_repo(tmp_path / "repo", "users: {prune: disable}\n", {"a.yaml": users_yaml("A")})
    r = pisync(["plan"], cwd=root, url=emu.url)
    assert r.code == 1
    assert r.err == (
        "Error: GET /users: the server reported 5 users but returned 3; not planning from an"
        " incomplete list\n"
    )
