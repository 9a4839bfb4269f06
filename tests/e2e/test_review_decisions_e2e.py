"""The worksheet in JSON, ``pisync revoke`` from it, and every refusal of review and revoke
before anything is written: through the real CLI, a real emulator, a temporary git
repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.schemas import load_schema
from tests.e2e.conftest import pisync
from tests.gitrepo import Person, git_as

pytestmark = pytest.mark.e2e

ANIKA: Person = ("Anika Shah", "anika@example.com", "2026-01-05T10:00:00+00:00")
TEAM = """\
users:
  - usercode: ann
    forenames: Ann
    surname: A
    roles:
      - Viewers    # everyone
      - Payroll    # runs payroll
roles:
  - name: Viewers
  - name: Payroll
"""
AUTHOR = {
    "GIT_AUTHOR_NAME": "Alice Reviewer",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Reviewer",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text("users: {prune: 'off'}\n", encoding="utf-8")
    (root / "users" / "team.yaml").write_text(TEAM, encoding="utf-8")
    git_as(root, ANIKA, "init", "-q", "-b", "main")
    git_as(root, ANIKA, "add", "-A")
    git_as(root, ANIKA, "commit", "-q", "-m", "Import (#1)")
    return root


def test_a_json_worksheet_is_valid_and_revoke_reads_it(
    emulator_factory: Any, repo: Path, tmp_path: Path
) -> None:
    emu = emulator_factory({"categories": [], "roles": [], "users": []})
    assert pisync(["apply", "--auto-approve"], cwd=repo, url=emu.url).code == 0
    sheet = tmp_path / "q4.json"
    r = pisync(["review", "--decisions-template", str(sheet)], cwd=repo, url=emu.url)
    assert r.code == 0, r.all
    assert r.out.startswith("# pisync access review\n")  # the report still goes to stdout
    data = json.loads(sheet.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema("decisions")).validate(data)
    index, payroll = next(
        (i, d)
        for i, d in enumerate(data["decisions"], 1)
        if (d["principal"], d["resource"]) == ("ANN", "role:Payroll")
    )
    assert payroll["grantedIn"].startswith("#1 ")
    payroll.update(
        decision="Deny",
        justification="Payroll moved to the bureau",
        reviewedBy="alice@example.com",
        reviewedDateTime="2026-12-01",
    )
    sheet.write_text(json.dumps(data), encoding="utf-8")
    revoked = pisync(["revoke", "--decisions", str(sheet)], cwd=repo, env=AUTHOR)
    assert revoked.code == 0, revoked.all
    assert (repo / "users" / "team.yaml").read_text(encoding="utf-8") == TEAM.replace(
        "      - Payroll    # runs payroll\n", ""
    )
    branch = git_as(repo, ANIKA, "branch", "--show-current")
    assert branch.startswith("pisync/revoke-2026-11-26-")
    assert revoked.out == (
        f"Revoked 1 grants on the new branch {branch} (commit"
        f" {git_as(repo, ANIKA, 'rev-parse', 'HEAD')[:10]}):\n"
        f'  - ANN: remove role "Payroll" (users/team.yaml; row {index}, "role:Payroll")\n'
        "Nothing else in the files changed. Push the branch and open a pull request:\n"
        f"  git push -u origin {branch}\n"
    )
    again = pisync(["revoke", "--decisions", str(sheet)], cwd=repo, env=AUTHOR)
    assert again.code == 3
    assert "ANN's entry does not list role 'Payroll'" in again.out


def test_revoke_refuses_before_writing_anything(repo: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "d.csv"
    header = "principal,resource,decision,justification,reviewedBy,reviewedDateTime\n"
    sheet.write_text(header + "ann,role:Payroll,Deny,x,alice,2026-12-01\n", encoding="utf-8")
    team = repo / "users" / "team.yaml"
    team.write_text(TEAM + "# a note not committed\n", encoding="utf-8")
    dirty = pisync(["revoke", "--decisions", str(sheet)], cwd=repo, env=AUTHOR)
    assert (dirty.code, dirty.err) == (
        64,
        f"Error: {team.resolve()} has changes that are not committed: commit or stash them"
        " first, so that the revocation's commit holds only the revocation\n",
    )
    team.write_text(TEAM, encoding="utf-8")
    git_as(repo, ANIKA, "branch", "taken")
    taken = pisync(["revoke", "--decisions", str(sheet), "--branch", "taken"], cwd=repo, env=AUTHOR)
    assert (taken.code, taken.err) == (
        64,
        "Error: the branch taken already exists: name another with --branch\n",
    )
    bad_name = pisync(
        ["revoke", "--decisions", str(sheet), "--branch", "bad..name"], cwd=repo, env=AUTHOR
    )
    assert (bad_name.code, bad_name.err) == (
        64,
        "Error: 'bad..name' is not a valid branch name: name another with --branch\n",
    )
    nobody = pisync(
        ["revoke", "--decisions", str(sheet)],
        cwd=repo,
        env={
            "HOME": str(tmp_path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "user.useConfigOnly",
            "GIT_CONFIG_VALUE_0": "true",
        },
        unset=[*AUTHOR, "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "EMAIL"],
    )
    assert (nobody.code, nobody.err) == (
        64,
        "Error: git does not know who is committing: set user.name and user.email (git"
        " config), or GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and"
        " GIT_COMMITTER_EMAIL\n",
    )
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'commits are frozen' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    frozen = pisync(["revoke", "--decisions", str(sheet), "--branch", "r1"], cwd=repo, env=AUTHOR)
    assert (frozen.code, frozen.err) == (
        1,
        "Error: git could not make the branch r1: commits are frozen\n",
    )
    assert team.read_text(encoding="utf-8") == TEAM  # put back, and the branch is gone
    assert git_as(repo, ANIKA, "branch", "--list", "r1") == ""
    hook.unlink()
    sheet.write_text(header + "ann,role:Payroll,Approve,,,\n", encoding="utf-8")
    nothing = pisync(["revoke", "--decisions", str(sheet)], cwd=repo, env=AUTHOR)
    assert (nothing.code, nothing.out) == (
        0,
        f"Nothing to revoke: {sheet} has no Deny decision; no branch was made.\n",
    )
    sheet.write_text("who,what\nann,x\n", encoding="utf-8")
    bad = pisync(["revoke", "--decisions", str(sheet)], cwd=repo, env=AUTHOR)
    assert bad.code == 3
    assert bad.out.splitlines()[0] == (
        f"{sheet}:1:1: error: the worksheet has no column principal, resource, decision; its"
        " first line names the columns (pisync review --decisions-template writes them)"
    )
    assert git_as(repo, ANIKA, "branch", "--show-current") == "main"
    assert git_as(repo, ANIKA, "status", "--porcelain") == ""


def test_review_refuses_a_bundle_over_files_and_mixed_options(repo: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.txt").write_text("x", encoding="utf-8")
    r = pisync(["review", "--out", str(full)], cwd=repo, url="http://127.0.0.1:9")
    assert (r.code, r.err) == (
        64,
        f"Error: --out {full}: a bundle is written into a new or empty folder, and this one is"
        " not (an evidence bundle is never written over)\n",
    )
    mixed = pisync(["review", "--out", str(tmp_path / "b"), "--format", "json"], cwd=repo)
    assert (mixed.code, mixed.err) == (
        64,
        "Error: --out names a folder: a bundle holds every format; give no --format\n",
    )
    alone = pisync(["review", "--verify", str(full), "--format", "json"], cwd=repo)
    assert (alone.code, alone.err) == (64, "Error: --verify checks a bundle: give it alone\n")
    missing = pisync(["review", "--verify", str(full)], cwd=repo)
    assert missing.code == 64
    assert missing.err.startswith(f"Error: --verify {full}: no manifest.json there")
