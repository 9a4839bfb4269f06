"""pisync on files anyone could have written (issue 19, items 4 and 5): nothing outside the
repository is read, no secret appears in any output, file or cache, a hostile repository
cannot make a run cost without bound, and under GitHub Actions no user data becomes a
workflow command, a mention or markup. Through the real CLI (and a real emulator process
where a server is read)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Emulator, log_text, pisync

pytestmark = pytest.mark.e2e

#: a credential the job holds; it must never be printed, whatever a file says
PASSWORD = "acc-pw-038538b4e1f2"
LOGIN = {"PISYNC_USERNAME": "boss", "PISYNC_PASSWORD": PASSWORD}
USER = "users:\n  - {usercode: A, forenames: A, surname: A}\n"
#: BOSS signs in (with PASSWORD) and is not the super administrator: the plans that create
#: users trip the create-needs-super-admin guard, shown as overridden (--force)
SEED: dict[str, Any] = {
    "users": [
        {
            "user": {
                "usercode": "BOSS",
                "forenames": "Bo",
                "surname": "Ss",
                "password": PASSWORD,
                "allowPasswordLogin": True,
                "editUsers": True,
            }
        }
    ]
}


def repo(root: Path, files: dict[str, str], config: str = "") -> Path:
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    for name, text in files.items():
        (root / "users" / name).write_text(text, encoding="utf-8")
    return root


def everything_written(root: Path) -> str:
    """Every file pisync left in the repository: its validation cache."""
    cache = root / ".pisync-cache"
    assert cache.is_dir()
    return "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in cache.rglob("*") if p.is_file()
    )


# --- nothing outside the repository is read --------------------------------------------------


def test_a_linked_file_or_folder_that_leaves_the_repository_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "deep").mkdir(parents=True)
    (outside / "env").write_text(f"PISYNC_PASSWORD={PASSWORD}\n", encoding="utf-8")
    (outside / "deep" / "x.yaml").write_text("not: [yaml\n", encoding="utf-8")
    root = repo(tmp_path / "repo", {"a.yaml": USER})
    (root / "users" / "leak.yaml").symlink_to(outside / "env")
    (root / "users" / "etc").symlink_to(outside / "deep", target_is_directory=True)
    (root / "users" / "inside.yaml").symlink_to(root / "users" / "a.yaml")  # stays: fine
    link = (
        "error: this is a symbolic link to something outside the repository (the folder of"
        " pisync.yaml); pisync reads nothing outside it and does not follow the link: put the"
        " file itself in the repository"
    )

    text = pisync(["validate"], cwd=root, env=LOGIN)
    github = pisync(["validate"], cwd=root, env={**LOGIN, "GITHUB_ACTIONS": "true"})
    plan = pisync(["plan"], cwd=root, env=LOGIN, url="http://127.0.0.1:9/pi/api/v2")

    assert text.code == 3, text.all
    assert text.out.splitlines()[:2] == [f"users/etc:1:1: {link}", f"users/leak.yaml:1:1: {link}"]
    assert text.out.splitlines()[-1] == "2 errors in 2 of 2 files."  # the links are not read
    assert log_text(github.out).splitlines()[:2] == [
        "::error file=users/etc,line=1,col=1,title=pisync::" + link.removeprefix("error: "),
        "::error file=users/leak.yaml,line=1,col=1,title=pisync::" + link.removeprefix("error: "),
    ]
    assert plan.code == 3, plan.all
    for result in (text, github, plan):
        assert "PISYNC_PASSWORD=" not in result.all
        assert "elsewhere" not in result.all  # the link's target is not named
        assert PASSWORD not in result.all
    assert "PISYNC_PASSWORD" not in everything_written(root)


def test_a_source_glob_that_leaves_the_repository_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "x.yaml").write_text(f"secret: {PASSWORD}\n", encoding="utf-8")
    root = repo(tmp_path / "repo", {"a.yaml": USER}, 'sources: ["users/*.yaml", "../shared/*"]\n')

    r = pisync(["validate"], cwd=root, env=LOGIN)

    assert r.code == 3, r.all
    assert r.out == (
        'pisync.yaml:1:27: error: the source glob "../shared/*" leaves the folder of'
        " pisync.yaml; pisync reads nothing outside the repository: write globs relative to"
        " this folder, without .. (at sources[1])\n1 error in 1 of 2 files.\n"
    )


# --- no secret in any output ------------------------------------------------------------------


def test_a_secret_pasted_into_the_files_never_appears_in_any_output(
    tmp_path: Path, emulator_factory: Any
) -> None:
    emu: Emulator = emulator_factory(SEED)
    db = "db-s3cret-value-42"
    bad = (
        "users:\n"
        f"  - {{usercode: A, forenames: A, surname: A, email: {PASSWORD},\n"
        f"      type: {PASSWORD}, {PASSWORD}: x, enabled: {db}}}\n"
    )
    good = (
        "users:\n"
        f"  - {{usercode: B, forenames: B, surname: {db},\n"
        "      variables: {db: {env: DB_PW, secure: true}}}\n"
    )
    env = {**LOGIN, "DB_PW": db}
    root = repo(tmp_path / "repo", {"a.yaml": bad, "b.yaml": good}, "sources: [users/b.yaml]\n")
    planfile = tmp_path / "plan.json"
    summary = tmp_path / "summary.md"

    runs = [pisync(["validate", "users"], cwd=root, env=env)]
    runs += [
        pisync(["validate", "users", "--format", f], cwd=root, env=env) for f in ("json", "github")
    ]
    runs += [
        pisync(["plan", "--force", "--format", f], cwd=root, url=emu.url, env=env)
        for f in ("text", "json", "markdown")
    ]
    runs.append(
        pisync(
            ["plan", "--force", "--format", "github", "--out", str(planfile)],
            cwd=root,
            url=emu.url,
            env={**env, "GITHUB_STEP_SUMMARY": str(summary)},
        )
    )

    assert [r.code for r in runs] == [3, 3, 3, 0, 0, 0, 0], [r.all for r in runs]
    messages = runs[0].out
    assert 'email "***" is not valid: it must be an email address like name@example.com' in messages
    assert 'unknown key "***" in this user' in messages
    assert re.search(r'\n +surname: +"\*\*\*"\n', runs[3].out), runs[3].out
    written = planfile.read_text() + summary.read_text() + everything_written(root)
    for secret in (PASSWORD, db):
        for r in runs:
            assert secret not in r.all
        assert secret not in written
    # claims carries a non-secure value, its job; never a credential
    claims = pisync(["claims", "--allow-incomplete"], cwd=root, url=emu.url, env=env)
    assert claims.code == 0, claims.all
    assert PASSWORD not in claims.all


def test_a_variable_cannot_carry_pisyncs_credentials_to_the_server(
    tmp_path: Path, emulator_factory: Any
) -> None:
    """A pull request that reads PISYNC_PASSWORD into a user's variable would have apply send
    the password to the server, where the variable's readers see it: refused offline, so
    neither plan nor apply ever reads it."""
    emu: Emulator = emulator_factory(SEED)
    hostile = (
        "users:\n"
        "  - usercode: A\n"
        "    forenames: A\n"
        "    surname: A\n"
        "    variables: {x: {env: PISYNC_PASSWORD, secure: false}}\n"
    )
    root = repo(tmp_path / "repo", {"a.yaml": hostile})

    runs = [pisync([c], cwd=root, url=emu.url, env=LOGIN) for c in ("validate", "plan")]
    runs.append(pisync(["apply", "--auto-approve", "--force"], cwd=root, url=emu.url, env=LOGIN))

    message = (
        'users/a.yaml:5:26: error: variable "x" reads PISYNC_PASSWORD, an environment variable'
        " of pisync's own or of the CI runner (PISYNC_*, GITHUB_*, ACTIONS_*, RUNNER_*): its"
        " value, a credential perhaps, would be sent to the server; read the secret from a"
        " variable of its own, e.g. {env: FINANCE_DB_PASSWORD, secure: true} (at"
        " users[0].variables.x.env)"
    )
    assert [r.code for r in runs] == [3, 3, 3], [r.all for r in runs]
    for r in runs:
        assert message in r.all, r.all
        assert PASSWORD not in r.all
    assert [e["path"] for e in emu.requests() if e["method"] != "GET"] == []  # nothing written


# --- a hostile repository's cost is bounded ---------------------------------------------------


def test_file_count_users_size_and_depth_are_bounded(tmp_path: Path) -> None:
    root = repo(tmp_path / "repo", {f"u{i}.yaml": USER.replace("A", f"A{i}") for i in range(5)})
    (root / "users" / "deep.yaml").write_text(
        "users:\n  - {usercode: D, forenames: D, surname: D, pisync: "
        + "[" * 120
        + "]" * 120
        + "}\n",
        encoding="utf-8",
    )
    (root / "users" / "big.yaml").write_text("users: []\n#" + "x" * 10_000_001 + "\n")

    files = pisync(["validate"], cwd=root, env={"PISYNC_MAX_FILES": "3"})
    users = pisync(
        ["validate", "users/u0.yaml", "users/u1.yaml"], cwd=root, env={"PISYNC_MAX_USERS": "1"}
    )
    whole = pisync(["validate"], cwd=root)

    assert files.code == 3, files.all
    assert (
        "users/u1.yaml:1:1: error: more than 3 desired-state files, the most pisync reads in one"
        " run (PISYNC_MAX_FILES); this one is past it: merge files, or narrow the sources in"
        " pisync.yaml"
    ) in files.out.splitlines()
    assert users.code == 3, users.all
    assert users.out.splitlines()[0] == (
        "users/u1.yaml:1:1: error: more than 1 users in the desired state, the most pisync reads"
        " in one run (PISYNC_MAX_USERS); this file takes the count past it"
    )
    lines = whole.out.splitlines()
    assert any(
        re.fullmatch(
            r"users/big\.yaml:1:1: error: the file is 10,000,0\d\d bytes, over the limit"
            r" of 10,000,000 bytes; split it into smaller files",
            line,
        )
        for line in lines
    ), lines
    assert any(
        line.startswith("users/deep.yaml:2:") and "nested deeper than 100 levels" in line
        for line in lines
    ), lines


# --- no workflow command, mention or markup from user data -------------------------------------


def hostile_repo(root: Path) -> Path:
    """Thirteen bad keys (more than GitHub annotates), each a workflow command, and names that
    carry commands and mentions into the plan."""
    keys = ["::stop-commands::x", "::set-output name=x::y", "##[add-mask]k", "\n::error::z"]
    keys += [f"k{i}" for i in range(9)]
    bad = "users:\n  - usercode: A\n    forenames: A\n    surname: A\n" + "".join(
        f"    {json.dumps(k)}: 1\n" for k in keys
    )
    plan = (
        "roles:\n  - {name: '##[error]role', description: '::warning::d'}\n"
        "users:\n"
        "  - usercode: B\n    forenames: B\n    surname: '::add-mask::s ##[group]g'\n"
        "    roles: ['##[error]role']\n"
        "    pisync: {reason: '@org/team and @someone <!-- c --> <b>x</b>'}\n"
    )
    return repo(root, {"a.yaml": bad, "b.yaml": plan}, "sources: [users/b.yaml]\n")


def assert_no_command(out: str) -> None:
    """Outside pisync's own blocks and annotations, no line the runner would act on."""
    for line in log_text(out).splitlines():
        if line.startswith(("::error ", "::warning ")):
            assert "##[" not in line
            continue
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line


def test_user_data_never_becomes_a_workflow_command(tmp_path: Path, emulator_factory: Any) -> None:
    emu: Emulator = emulator_factory(SEED)
    root = hostile_repo(tmp_path / "repo")
    actions = {**LOGIN, "GITHUB_ACTIONS": "true"}

    validate = pisync(["validate", "users"], cwd=root, env=actions)
    text = pisync(["validate", "users", "--format", "text"], cwd=root, env=actions)
    plan = pisync(["plan", "--force"], cwd=root, url=emu.url, env=actions)
    markdown = pisync(
        ["plan", "--force", "--format", "markdown"], cwd=root, url=emu.url, env=actions
    )
    failing = pisync(["plan", "users"], cwd=root, url=emu.url, env=actions)

    assert validate.code == 3, validate.all
    lines = log_text(validate.out).splitlines()
    annotations = [line for line in lines if line.startswith("::error ")]
    assert len(annotations) == 10  # the eleventh and later are plain text lines
    assert "3 more issues were printed without annotations" in validate.out
    assert [plan.code, markdown.code, failing.code] == [0, 0, 3], plan.all
    for result in (validate, text, plan, markdown, failing):
        assert_no_command(result.out)
        assert_no_command(result.err)
    assert re.search(r"::stop-commands::[0-9a-f]{32}\n", plan.out)


def test_markdown_carries_no_mention_html_or_comment_from_user_data(
    tmp_path: Path, emulator_factory: Any
) -> None:
    emu: Emulator = emulator_factory(SEED)
    root = hostile_repo(tmp_path / "repo")
    summary = tmp_path / "summary.md"

    markdown = pisync(["plan", "--force", "--format", "markdown"], cwd=root, url=emu.url, env=LOGIN)
    pisync(
        ["plan", "--force", "--format", "github"],
        cwd=root,
        url=emu.url,
        env={**LOGIN, "GITHUB_STEP_SUMMARY": str(summary)},
    )

    for out in (markdown.out, summary.read_text(encoding="utf-8")):
        assert (
            "  - Why: @\u200dorg/team and @\u200dsomeone \\<\\!-- c --\\> \\<b\\>x\\</b\\>\n" in out
        )
        assert re.search(r"(?<![`\w])@(org|someone)", out) is None
        assert "<!--" not in out
        assert "<b>" not in out
