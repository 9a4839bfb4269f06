"""``pisync plan --changed-since REF``: only the files changed since a git ref, read by
usercode (never the whole user list), and exactly the users removed since then pruned."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import pisync

pytestmark = pytest.mark.e2e

SYNC = "/pi/api/v2/users/sync"
LIVE = ["A1", "A2", "B1", "B2", "D1", "OTHER1", "OTHER2"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def users_yaml(*codes: str, **emails: str) -> str:
    lines = ["users:"]
    for c in codes:
        extra = f", email: {emails[c]}" if c in emails else ""
        lines.append(f"  - {{usercode: {c}, forenames: F, surname: {c}{extra}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(
        "users: {prune: disable}\nsafety: {max_prune_percent: 100}\n", encoding="utf-8"
    )
    files = {
        "a.yaml": users_yaml("A1", "A2"),
        "b.yaml": users_yaml("B1", "B2"),
        "d.yaml": users_yaml("D1"),
        "others.yaml": users_yaml("OTHER1", "OTHER2"),
    }
    for name, text in files.items():
        (root / "users" / name).write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


@pytest.fixture
def emu(emulator_factory: Any) -> Any:
    return emulator_factory(
        {"users": [{"user": {"usercode": c, "forenames": "F", "surname": c}} for c in LIVE]}
    )


def test_added_changed_removed_and_renamed_files(repo: Path, emu: Any) -> None:
    users = repo / "users"
    (users / "a.yaml").write_text(users_yaml("A1", "A2", A1="a1@example.com"), "utf-8")  # changed
    (users / "c.yaml").write_text(users_yaml("C1"), "utf-8")  # added (untracked)
    git(repo, "rm", "-q", "users/b.yaml")  # B1 removed; B2 moves to a new file
    (users / "moved.yaml").write_text(users_yaml("B2"), "utf-8")
    git(repo, "mv", "users/d.yaml", "users/renamed.yaml")  # same content: D1 stays
    emu.clear_requests()

    r = pisync(["plan", "--changed-since", "main"], cwd=repo, url=emu.url)

    assert r.code == 0, r.all
    assert r.out == (
        f"pisync will perform these actions against {emu.url}:\n\n"
        "Note: partial plan: 5 files changed since main; users and roles not declared in them"
        " are not considered, except users removed since then, which get the prune action.\n\n"
        "  ~ user A1\n"
        '      ~ email: null -> "a1@example.com"\n\n'
        "  + user C1\n"
        '      forenames: "F"\n'
        '      surname:   "C1"\n\n'
        "  - user B1  (disable)\n\n"
        "Effective access changes:\n"
        "    B1 is disabled, losing all access; loses privileges accessAccount, audit,"
        " clientExcludePasswordExpiry, editOwnPassword, logoutEnabled, pdf\n\n"
        "Note: 1 desired-state file was deleted since main: users/b.yaml; the user declared only"
        " there (B1) gets the prune action of users.prune (disable)\n\n"
        "Plan: 1 to create, 1 to update, 1 to disable, 0 to delete.\n"
    )
    log = emu.requests()
    paths = sorted({e["path"].removeprefix("/pi/api/v2") for e in log})
    assert paths == ["/categories", "/roles", "/tokens", "/users", "/users/syncPayload"]
    looked_up = sorted(
        e["query"].removeprefix("usercode=") for e in log if e["path"].endswith("/syncPayload")
    )
    # only the users the change changed (A1), added (C1) and removed (B1): not A2 (its entry is
    # as it was), not B2 or D1 (moved, unchanged), never OTHER1/OTHER2, never the list
    assert looked_up == ["A1", "B1", "C1"]
    assert [e["query"] for e in log if e["path"].endswith("/users")] == ["page=1&pageSize=1"]


def test_a_saved_changed_since_plan_applies_exactly_its_changes(repo: Path, emu: Any) -> None:
    (repo / "users" / "a.yaml").write_text(users_yaml("A1", A1="a1@example.com"), "utf-8")
    planfile = repo / "plan.json"
    planned = pisync(
        ["plan", "--changed-since", "main", "--out", str(planfile)], cwd=repo, url=emu.url
    )
    assert planned.code == 0, planned.all
    assert json.loads(planfile.read_text())["partial"] == {"files": 1, "changed_since": "main"}
    emu.clear_requests()

    applied = pisync(["apply", str(planfile)], cwd=repo, url=emu.url)

    assert applied.code == 0, applied.all
    assert applied.out.splitlines()[-1] == (
        "Apply complete: 0 created, 1 updated, 1 disabled, 0 deleted, 0 failed."
    )
    writes = sorted(c for e in emu.requests() if e["path"] == SYNC for c in e["usercodes"])
    assert writes == ["A1", "A2"]  # A1 updated, A2 (removed from a.yaml) disabled


def test_nothing_changed_is_an_empty_plan_without_reading_users(repo: Path, emu: Any) -> None:
    emu.clear_requests()
    r = pisync(["plan", "--changed-since", "main"], cwd=repo, url=emu.url)
    assert r.code == 0, r.all
    assert r.out == (
        "Note: partial plan: 0 files changed since main; users and roles not declared in them"
        " are not considered, except users removed since then, which get the prune action.\n\n"
        "No changes. Panintelligence matches the desired state.\n"
    )
    assert not [e for e in emu.requests() if e["path"].endswith("/syncPayload")]


def test_a_changed_configuration_plans_everything(repo: Path, emu: Any) -> None:
    (repo / "pisync.yaml").write_text("users: {prune: 'off'}\n", encoding="utf-8")
    r = pisync(["plan", "--changed-since", "main"], cwd=repo, url=emu.url)
    assert r.code == 0, r.all
    assert r.out == (
        "Note: pisync.yaml changed since main, so this plan covers the whole desired state,"
        " not only the changed files\n\n"
        "No changes. Panintelligence matches the desired state.\n"
    )
    brief = pisync(["plan", "--changed-since", "main", "--summary"], cwd=repo, url=emu.url)
    assert brief.code == 0, brief.all
    assert brief.out == (
        f"pisync plan summary: {emu.url}\n\n"
        "Note: pisync.yaml changed since main, so this plan covers the whole desired state,"
        " not only the changed files\n"
        "No changes. Panintelligence matches the desired state.\n"
    )


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=x"])
def test_a_ref_that_does_not_exist_is_a_usage_error(repo: Path, emu: Any, ref: str) -> None:
    r = pisync(["plan", f"--changed-since={ref}"], cwd=repo, url=emu.url)
    assert r.code == 64, r.all
    if ref.startswith("-"):
        assert r.err == f"Error: --changed-since {ref!r}: not a git ref\n"
    else:
        assert r.err == (
            f"Error: --changed-since {ref}: no such git commit or branch here (fetch it first,"
            " e.g. git fetch origin main, and check out with enough history: fetch-depth: 0)\n"
        )
    assert not (repo / "x").exists()


def test_outside_a_git_repository_is_a_usage_error(tmp_path: Path, emu: Any) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(users_yaml("A1"), "utf-8")
    r = pisync(["plan", "--changed-since", "main"], cwd=tmp_path, url=emu.url)
    assert r.code == 64, r.all
    assert r.err.startswith("Error: --changed-since main: ")
    assert "not a git repository" in r.err


def test_a_deleted_file_is_counted_named_and_its_users_pruned(repo: Path, emu: Any) -> None:
    git(repo, "rm", "-q", "users/b.yaml")  # the only change: B1 and B2 are declared nowhere now
    emu.clear_requests()

    r = pisync(["plan", "--changed-since", "main"], cwd=repo, url=emu.url)

    assert r.code == 0, r.all
    assert r.out.startswith(
        f"pisync will perform these actions against {emu.url}:\n\n"
        "Note: partial plan: 1 file changed since main; users and roles not declared in them are"
        " not considered, except users removed since then, which get the prune action.\n\n"
        "  - user B1  (disable)\n\n"
        "  - user B2  (disable)\n\n"
    )
    assert (
        "Note: 1 desired-state file was deleted since main: users/b.yaml; the 2 users declared"
        " only there (B1, B2) get the prune action of users.prune (disable)\n"
    ) in r.out
    assert r.out.endswith("Plan: 0 to create, 0 to update, 2 to disable, 0 to delete.\n")
    looked_up = sorted(
        e["query"].removeprefix("usercode=")
        for e in emu.requests()
        if e["path"].endswith("/syncPayload")
    )
    assert looked_up == ["B1", "B2"]


def test_a_deleted_file_with_prune_off_says_its_users_stay(repo: Path, emu: Any) -> None:
    (repo / "pisync.yaml").write_text("users: {prune: 'off'}\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "prune off")
    git(repo, "rm", "-q", "users/b.yaml", "users/d.yaml")
    (repo / "users" / "a.yaml").write_text(users_yaml("A1", "A2", "B2"), "utf-8")  # B2 moved

    r = pisync(["plan", "--changed-since", "main", "--summary"], cwd=repo, url=emu.url)

    assert r.code == 0, r.all
    assert r.out == (
        f"pisync plan summary: {emu.url}\n\n"
        "Note: partial plan: 3 files changed since main; users and roles not declared in them"
        " are not considered, except users removed since then, which get the prune action.\n"
        "Note: 2 desired-state files were deleted since main: users/b.yaml, users/d.yaml; the 2"
        " users declared only there (B1, D1) stay on the server as they are, because"
        " users.prune is off\n"
        "No changes. Panintelligence matches the desired state.\n"
    )
