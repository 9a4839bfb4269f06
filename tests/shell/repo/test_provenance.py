"""Provenance from git blame: each entry's lines, the last commit among them, the pull request
its subject names; no guess when a file or an entry is not committed, or there is no
repository; one blame per file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.core.model.values import DesiredState, RoleSpec, SourcePos, UserSpec
from reconciler.core.review.model import Provenance
from reconciler.shell.repo import provenance as provenance_module
from reconciler.shell.repo.provenance import (
    Blame,
    Commit,
    entry_ranges,
    history_of,
    parse_blame,
    pull_request,
)
from tests.gitrepo import Person, git_as

ANIKA = ("Anika Shah", "anika@example.com", "2026-01-05T10:00:00+00:00")
DEV = ("Dev Patel", "dev@example.com", "2026-02-01T09:30:00+01:00")
LI = ("Li Chen", "li@example.com", "2026-02-03T08:00:00-05:00")


def git(repo: Path, *args: str, who: Person = ANIKA) -> str:
    return git_as(repo, who, *args)


TEAM_V1 = """\
# the team
users:
  - usercode: ann
    type: designer

  - usercode: bob     # a comment
    roles: [Viewers]
  - {usercode: cy, roles: []}
roles:
  - name: Viewers
"""
TEAM_V2 = TEAM_V1.replace("    roles: [Viewers]\n", "    roles: [Viewers, Editors]\n")


def spec(code: str, file: str, line: int) -> UserSpec:
    return UserSpec(usercode=code, fields={}, source=SourcePos(file=file, line=line, col=5))


DESIRED = DesiredState(
    users=(
        spec("ANN", "users/team.yaml", 3),
        spec("BOB", "users/team.yaml", 6),
        spec("CY", "users/team.yaml", 8),
        spec("NEW", "users/new.yaml", 2),
    ),
    roles=(
        RoleSpec(
            name="Viewers", fields={}, source=SourcePos(file="users/team.yaml", line=10, col=5)
        ),
    ),
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "users" / "team.yaml").write_text(TEAM_V1, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import the team (#3)")
    (root / "users" / "team.yaml").write_text(TEAM_V2, encoding="utf-8")
    git(root, "commit", "-q", "-am", "Give BOB Editors", who=DEV)
    text = TEAM_V2.replace("  - {usercode: cy, roles: []}", "  - {usercode: cy, roles: [Viewers]}")
    (root / "users" / "team.yaml").write_text(text, encoding="utf-8")
    git(root, "commit", "-q", "-am", "Merge pull request #9 from li/cy\n\nCY views", who=LI)
    monkeypatch.chdir(root)
    return root


def test_each_entry_gets_the_last_commit_among_its_lines(repo: Path) -> None:
    commits = git(repo, "log", "--format=%H").splitlines()  # newest first
    history = history_of(DESIRED)
    assert history.available
    assert history.note is None
    assert dict(history.changes) == {
        "ANN": Provenance(
            commit=commits[2],
            author="Anika Shah",
            email="anika@example.com",
            date="2026-01-05T10:00:00+00:00",
            subject="Import the team (#3)",
            pull_request=3,
        ),
        "BOB": Provenance(
            commit=commits[1],
            author="Dev Patel",
            email="dev@example.com",
            date="2026-02-01T09:30:00+01:00",
            subject="Give BOB Editors",
            pull_request=None,
        ),
        "CY": Provenance(
            commit=commits[0],
            author="Li Chen",
            email="li@example.com",
            date="2026-02-03T08:00:00-05:00",
            subject="Merge pull request #9 from li/cy",
            pull_request=9,
        ),
    }
    assert dict(history.missing) == {"NEW": "its file is not committed"}


def test_an_entry_with_uncommitted_changes_has_no_last_change(repo: Path) -> None:
    team = repo / "users" / "team.yaml"
    team.write_text(team.read_text().replace("type: designer", "type: user"), encoding="utf-8")
    history = history_of(DESIRED)
    assert "ANN" not in history.changes
    assert history.missing["ANN"] == "its entry has changes that are not committed yet"
    assert set(history.changes) == {"BOB", "CY"}  # the rest of the file is still exact


def test_one_blame_per_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = provenance_module._blame

    def counting(cwd: Path, file: Path, first: int) -> Blame | str:
        calls.append(f"{file.relative_to(repo).as_posix()}:{first}")
        return real(cwd, file, first)

    monkeypatch.setattr(provenance_module, "_blame", counting)
    history_of(DESIRED)
    assert sorted(calls) == ["users/new.yaml:2", "users/team.yaml:3"]


def test_outside_a_repository_there_is_no_provenance_and_it_says_why(tmp_path: Path) -> None:
    history = history_of(DESIRED, cwd=tmp_path)
    assert not history.available
    assert history.note == (
        f"{tmp_path.resolve().as_posix()} is not inside a git repository, so there is no"
        " provenance (last_change is null for every user)"
    )
    assert history.changes == {}


def test_a_shallow_clone_says_its_history_is_cut(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(clone)],
        check=True,
        capture_output=True,
    )
    history = history_of(DESIRED, cwd=clone)
    assert history.note is not None
    assert history.note.startswith("this is a shallow clone")
    assert set(history.changes) == {"ANN", "BOB", "CY"}  # all at the boundary commit


def test_entry_ranges_end_before_the_next_entry_or_key_without_trailing_filler() -> None:
    text = TEAM_V1.splitlines()
    assert entry_ranges([3, 6, 8], [3, 6, 8, 10], text) == {3: 4, 6: 7, 8: 8}
    assert entry_ranges([8], [8], text) == {8: 8}  # "roles:" at line 9 ends it
    assert entry_ranges([6], [6], text) == {6: 8}  # the flow entry at 8 is not a bound here
    assert entry_ranges([1, 1], [1], ["users: [{usercode: a}, {usercode: b}]"]) == {1: 1}
    assert entry_ranges([2], [2], ["users:", "  - usercode: a", "", "# end"]) == {2: 2}


def test_parse_blame_reads_incremental_groups() -> None:
    sha, other = "1234567890123456789012345678901234567890", "f" * 40
    text = (
        f"{sha} 1 7 2\n"
        "author Anika Shah\nauthor-mail <anika@example.com>\nauthor-time 1767607200\n"
        "author-tz +0000\ncommitter Anika Shah\ncommitter-mail <anika@example.com>\n"
        "committer-time 1767607300\ncommitter-tz +0000\nsummary Import (#3)\nboundary\n"
        "filename users/team.yaml\n"
        f"{other} 9 9 1\nauthor Dev Patel\nauthor-mail <dev@example.com>\n"
        "author-time 1767700000\nauthor-tz -0500\ncommitter-time 1767700001\n"
        "summary Later\nprevious 1234567890123456789012345678901234567890 users/team.yaml\n"
        "filename users/team.yaml\n"
        f"{sha} 3 10 1\nfilename users/team.yaml\n"
    )
    lines, commits = parse_blame(text)
    assert lines == {7: sha, 8: sha, 9: other, 10: sha}
    assert commits == {
        sha: Commit(
            commit=sha,
            author="Anika Shah",
            email="anika@example.com",
            author_time=1767607200,
            author_tz="+0000",
            committer_time=1767607300,
            subject="Import (#3)",
        ),
        other: Commit(
            commit=other,
            author="Dev Patel",
            email="dev@example.com",
            author_time=1767700000,
            author_tz="-0500",
            committer_time=1767700001,
            subject="Later",
        ),
    }


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Give BOB Editors (#42)", 42),
        ("Merge pull request #7 from team/branch", 7),
        ("Fixes #12 in the middle", None),
        ("Plain subject", None),
    ],
)
def test_pull_request_from_the_subject(subject: str, number: int | None) -> None:
    assert pull_request(subject) == number


def test_a_commit_merged_through_a_pull_request_gets_the_merges_number(repo: Path) -> None:
    """Blame names the branch's commit, never the merge; the pull request is the merge's.
    A commit made on the first-parent line later names none, even after merges."""
    team = repo / "users" / "team.yaml"
    git(repo, "switch", "-q", "-c", "li/ann")
    team.write_text(team.read_text().replace("type: designer", "type: user"), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "ANN is a user now", who=LI)
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request #12 from li/ann", "li/ann")
    git(repo, "switch", "-q", "-c", "dev/bob")
    team.write_text(team.read_text().replace("# a comment", "# two roles"), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "Say why BOB has two roles", who=DEV)
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'dev/bob'", "dev/bob")
    team.write_text(team.read_text().replace("roles: [Viewers]}", "roles: []}"), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "CY views nothing", who=ANIKA)
    ann, bob, cy = (
        git(repo, "log", "-1", "--format=%H", "-S", s)
        for s in ("type: user", "two roles", "cy, roles: []")
    )
    history = history_of(DESIRED)
    assert {c: (p.commit, p.subject, p.pull_request) for c, p in history.changes.items()} == {
        "ANN": (ann, "ANN is a user now", 12),
        "BOB": (bob, "Say why BOB has two roles", None),  # its merge names no pull request
        "CY": (cy, "CY views nothing", None),  # on the first-parent line: no merge
    }
