"""Provenance from git blame: each entry's lines, the last commit among them, the pull request
its subject names; no guess when a file or an entry is not committed, or there is no
repository; one blame per file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.core.model.values import DesiredState, RoleSpec, SourcePos, UserSpec
from reconciler.core.review.grants import GrantKey, declared_grants
from reconciler.core.review.model import History, Provenance
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


def spec(code: str, file: str, line: int, **fields: object) -> UserSpec:
    return UserSpec(usercode=code, fields=fields, source=SourcePos(file=file, line=line, col=5))


DESIRED = DesiredState(
    users=(
        spec("ANN", "users/team.yaml", 3, type="designer"),
        spec("BOB", "users/team.yaml", 6, roles=("Editors", "Viewers")),
        spec("CY", "users/team.yaml", 8, roles=("Viewers",)),
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


def last_changes(history: History) -> dict[str, Provenance | str]:
    """Each user's last change, or why it has none."""
    return {
        code: history.commits[e.last] if e.last is not None else (e.note or "")
        for code, e in history.entries.items()
    }


def grant_commits(history: History, spec: UserSpec) -> dict[GrantKey, str]:
    """The subject of the commit behind each grant ``spec`` declares (or why none)."""
    entry = history.entries[spec.usercode]
    out = {}
    for key in sorted(declared_grants(spec)):
        sha = entry.commit_of(key)
        out[key] = entry.notes.get(key, "") if sha is None else history.commits[sha].subject
    return out


def user(code: str) -> UserSpec:
    return next(u for u in DESIRED.users if u.usercode == code)


def test_each_entry_gets_the_last_commit_among_its_lines(repo: Path) -> None:
    commits = git(repo, "log", "--format=%H").splitlines()  # newest first
    history = history_of(DESIRED)
    assert history.available
    assert history.note is None
    assert last_changes(history) == {
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
        "NEW": "its file is not committed",
    }


def test_each_grant_gets_the_commit_that_introduced_its_current_value(repo: Path) -> None:
    """Dev's commit rewrote BOB's roles line, but Viewers was there before it: Viewers keeps
    the import, Editors is Dev's."""
    history = history_of(DESIRED)
    assert history.entries["BOB"].default is not None
    assert grant_commits(history, user("BOB")) == {
        ("role", "editors"): "Give BOB Editors",
        ("role", "viewers"): "Import the team (#3)",
    }
    assert grant_commits(history, user("ANN")) == {("type", ""): "Import the team (#3)"}
    assert grant_commits(history, user("CY")) == {
        ("role", "viewers"): "Merge pull request #9 from li/cy"
    }


CJONES = """\
users:
  - usercode: cjones
    forenames: Carol
    surname: Jnes
    type: designer
    roles: [Viewers]   # everyone views
"""
BOB = ("Bob Stone", "bob@example.com", "2026-03-01T09:00:00+00:00")
EVE = ("Eve Adams", "eve@example.com", "2026-04-01T09:00:00+00:00")
DAN = ("Dan Moss", "dan@example.com", "2026-05-01T09:00:00+00:00")
FAY = ("Fay Oh", "fay@example.com", "2026-06-01T09:00:00+00:00")
Step = tuple[Person, str, str, str]  # who, subject, text replaced, by what


def history_after(root: Path, text: str, steps: list[Step], spec: UserSpec) -> History:
    """``users/team.yaml`` holding ``text`` imported (#1), then each step a commit."""
    (root / "users").mkdir(parents=True)
    team = root / "users" / "team.yaml"
    team.write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import (#1)")
    for who, subject, old, new in steps:
        team.write_text(team.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        git(root, "commit", "-q", "-am", subject, who=who)
    return history_of(DesiredState(users=(spec,)), cwd=root)


def cjones(**fields: object) -> UserSpec:
    return UserSpec(
        usercode="CJONES", fields=fields, source=SourcePos(file="users/team.yaml", line=2, col=5)
    )


def test_a_later_change_of_the_entry_or_the_line_keeps_who_granted(tmp_path: Path) -> None:
    """Bob's (#12) adds Executive to CJONES; Eve's (#14) fixes the surname; Dan's (#15) adds
    Sales on the same line and re-words its comment; a reformat (#16) re-indents nothing
    but re-quotes the type: each grant still names the change that gave its value."""
    steps = [
        (BOB, "Executive for CJONES (#12)", "[Viewers]", "[Viewers, Executive]"),
        (EVE, "Fix the surname (#14)", "surname: Jnes", "surname: Jones"),
        (DAN, "Sales too (#15)", "Executive]   # everyone views", "Executive, Sales]  # all"),
        (FAY, "Quote the types (#16)", "type: designer", 'type: "designer"'),
    ]
    spec = cjones(type="designer", roles=("Executive", "Sales", "Viewers"))
    history = history_after(tmp_path / "r", CJONES, steps, spec)
    assert grant_commits(history, spec) == {
        ("role", "executive"): "Executive for CJONES (#12)",
        ("role", "sales"): "Sales too (#15)",
        ("role", "viewers"): "Import (#1)",
        ("type", ""): "Import (#1)",
    }
    assert history.commits[history.entries["CJONES"].last or ""].subject == "Quote the types (#16)"


def test_a_value_changed_and_changed_back_is_the_later_change(tmp_path: Path) -> None:
    steps = [
        (BOB, "Make her a user (#2)", "type: designer", "type: user"),
        (EVE, "Designer again (#3)", "type: user", "type: designer"),
    ]
    spec = cjones(type="designer", roles=("Viewers",))
    history = history_after(tmp_path / "r", CJONES, steps, spec)
    assert grant_commits(history, spec) == {
        ("role", "viewers"): "Import (#1)",
        ("type", ""): "Designer again (#3)",
    }


def test_tracing_back_costs_git_calls_per_commit_not_per_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that re-formats 40 entries: one blame of the file at HEAD, then one look at
    the parent's version (git show) and one blame of it, whatever the number of users."""
    root = tmp_path / "r"
    (root / "users").mkdir(parents=True)
    team = root / "users" / "team.yaml"
    body = "".join(f"  - usercode: u{i:02d}\n    roles: [A, B]\n" for i in range(40))
    team.write_text("users:\n" + body, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import (#1)")
    team.write_text(team.read_text(encoding="utf-8").replace("[A, B]", "[A,  B]"), "utf-8")
    git(root, "commit", "-q", "-am", "Spacing (#2)", who=DEV)
    specs = tuple(
        UserSpec(
            usercode=f"U{i:02d}",
            fields={"roles": ("A", "B")},
            source=SourcePos(file="users/team.yaml", line=2 + 2 * i, col=5),
        )
        for i in range(40)
    )
    calls: list[str] = []
    real = provenance_module.git_bytes

    def counting(cwd: Path, *args: str) -> bytes:
        calls.append(args[0])
        return real(cwd, *args)

    monkeypatch.setattr(provenance_module, "git_bytes", counting)
    history = history_of(DesiredState(users=specs), cwd=root)
    assert sorted(calls) == ["blame", "blame", "show"]
    first = git(root, "rev-list", "--max-parents=0", "HEAD")
    assert {
        e.commit_of(k) for e in history.entries.values() for k in (("role", "a"), ("role", "b"))
    } == {first}


def test_an_entry_with_uncommitted_changes_has_no_last_change(repo: Path) -> None:
    team = repo / "users" / "team.yaml"
    team.write_text(team.read_text().replace("type: designer", "type: user"), encoding="utf-8")
    history = history_of(DESIRED)
    assert last_changes(history)["ANN"] == "its entry has changes that are not committed yet"
    assert history.entries["ANN"].notes == {
        ("type", ""): "its line has changes that are not committed yet"
    }
    assert isinstance(last_changes(history)["BOB"], Provenance)  # the rest is still exact


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
    assert history.entries == {}


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
    assert {c for c, e in history.entries.items() if e.last} == {"ANN", "BOB", "CY"}


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
            filename="users/team.yaml",
        ),
        other: Commit(
            commit=other,
            author="Dev Patel",
            email="dev@example.com",
            author_time=1767700000,
            author_tz="-0500",
            committer_time=1767700001,
            subject="Later",
            previous=("1234567890123456789012345678901234567890", "users/team.yaml"),
            filename="users/team.yaml",
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
    found = {c: p for c, p in last_changes(history).items() if isinstance(p, Provenance)}
    assert {c: (p.commit, p.subject, p.pull_request) for c, p in found.items()} == {
        "ANN": (ann, "ANN is a user now", 12),
        "BOB": (bob, "Say why BOB has two roles", None),  # its merge names no pull request
        "CY": (cy, "CY views nothing", None),  # on the first-parent line: no merge
    }
