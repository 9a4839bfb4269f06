"""load: finding, reading and parsing files, the config, parallelism, and the full report.

The report of the fixture repository ``tests/fixtures/validate/repo`` is pinned in
``tests/fixtures/validate/expected.{txt,json,github}``; refresh them only on purpose with
``PISYNC_UPDATE_GOLDEN=1 pytest tests/shell/repo/test_desired_files.py`` and review the diff.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, Stats
from reconciler.core.model.values import SourcePos
from reconciler.core.render.issues import render_github, render_json, render_text
from reconciler.errors import InvalidStateError, UsageError
from reconciler.shell.repo import desired_files as load_module
from reconciler.shell.repo.desired_files import LoadResult, find_config, load, load_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "validate"
REPO = FIXTURES / "repo"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def user_file(n: int, users: int = 3) -> str:
    return "users:\n" + "".join(
        f"  - usercode: u{n}x{i}\n    forenames: F\n    roles: [R{i}]\n" for i in range(users)
    )


# --- the fixture repository's full report ------------------------------------------------


@pytest.fixture
def fixture_report(monkeypatch: pytest.MonkeyPatch) -> LoadResult:
    monkeypatch.chdir(REPO)
    return load([], find_config(None))


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("expected.txt", render_text),
        ("expected.json", render_json),
        ("expected.github", render_github),
    ],
)
def test_fixture_repository_report(fixture_report: LoadResult, name: str, render: object) -> None:
    assert callable(render)
    actual = render(fixture_report.issues, fixture_report.stats)
    golden = FIXTURES / name
    if os.environ.get("PISYNC_UPDATE_GOLDEN") == "1":
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")


def test_fixture_repository_result(fixture_report: LoadResult) -> None:
    assert fixture_report.config_path == Path("pisync.yaml")
    assert fixture_report.config.defaults == {"type": "user"}
    assert fixture_report.files == (
        "people/roles.yaml",
        "people/team/a.yaml",
        "people/team/b.yml",
        "people/team/broken.yaml",
    )  # sorted; hidden folders and other suffixes skipped
    assert fixture_report.desired is None
    assert not fixture_report.ok
    assert fixture_report.stats == Stats(files=5, users=3, roles=2)


# --- finding files -----------------------------------------------------------------------


def test_paths_may_be_files_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a" / "x.yaml", user_file(1))
    write(tmp_path / "a" / "deep" / "y.yml", user_file(2))
    write(tmp_path / "a" / "z.txt", "ignored")
    write(tmp_path / "single.conf", user_file(3))  # named explicitly: read whatever its suffix
    result = load(["a", "single.conf"], None)
    assert result.files == ("a/deep/y.yml", "a/x.yaml", "single.conf")
    assert result.issues == ()
    assert result.desired is not None
    assert len(result.desired.users) == 9
    assert result.stats == Stats(files=3, users=9, roles=0)


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^nope/users: no such file or folder$"):
        load(["nope/users"], None)


def test_no_files_in_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    result = load(["empty"], None)
    assert result.issues == (
        Issue(
            severity="error",
            pos=None,
            message="no desired-state files found: no *.yaml or *.yml file in empty",
        ),
    )
    assert result.desired is None
    assert render_text(result.issues, result.stats).splitlines()[-1] == "1 error."


def test_no_files_for_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = load([], None)
    assert [i.message for i in result.issues] == [
        f"no desired-state files found: no file in {tmp_path.resolve().as_posix()} matches "
        "users/**/*.yaml, users/**/*.yml (the default sources)"
    ]


def test_sources_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    write(repo / "pisync.yaml", 'sources: ["people/*.yaml"]\n')
    write(repo / "people" / "a.yaml", user_file(1))
    write(repo / "users" / "ignored.yaml", "not: [read\n")
    monkeypatch.chdir(tmp_path)
    result = load([], Path("repo/pisync.yaml"))
    assert result.files == ("repo/people/a.yaml",)
    assert result.issues == ()
    assert result.stats == Stats(files=2, users=3, roles=0)


def test_a_source_glob_that_leaves_the_repository_is_an_error_and_nothing_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    write(repo / "pisync.yaml", 'sources: ["people/*.yaml", "../shared/*.yaml", "/etc/*"]\n')
    write(tmp_path / "shared" / "b.yaml", "not: [read\n")
    monkeypatch.chdir(tmp_path)
    result = load([], Path("repo/pisync.yaml"))
    message = (
        "the source glob {} leaves the folder of pisync.yaml; pisync reads nothing outside the"
        " repository: write globs relative to this folder, without .."
    )
    assert [(str(i.pos), i.message) for i in result.issues if i.pos is not None] == [
        ("repo/pisync.yaml:1:28", message.format('"../shared/*.yaml"')),
        ("repo/pisync.yaml:1:48", message.format('"/etc/*"')),
    ]
    assert "shared/b.yaml" not in result.files


def test_a_glob_that_matches_the_config_does_not_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pisync.yaml", 'sources: ["*.yaml"]\n')
    write(tmp_path / "team.yaml", user_file(1))
    result = load([], find_config(None))
    assert result.files == ("team.yaml",)
    assert result.ok


def test_display_paths_outside_the_current_folder_are_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "users" / "a.yaml", "users:\n  - usercode: a\n    type: boss\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = load([str(tmp_path / "users")], None)
    assert result.issues[0].pos == SourcePos(
        file=(tmp_path / "users" / "a.yaml").resolve().as_posix(), line=3, col=5
    )


# --- the config --------------------------------------------------------------------------


def test_find_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None) is None
    write(tmp_path / "pisync.yaml", "")
    assert find_config(None) == Path("pisync.yaml")
    write(tmp_path / "other.yaml", "")
    assert find_config("other.yaml") == Path("other.yaml")
    with pytest.raises(UsageError, match=r"^config file missing.yaml does not exist$"):
        find_config("missing.yaml")


def test_an_empty_config_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pisync.yaml", "# all defaults\n")
    write(tmp_path / "users" / "a.yaml", user_file(1))
    result = load([], find_config(None))
    assert result.config == Config()
    assert result.ok
    assert load_config(Path("pisync.yaml")) == Config()
    assert load_config(None) == Config()


def test_config_problems_are_reported_with_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pisync.yaml", "server: {concurency: 4}\n")
    write(tmp_path / "users" / "a.yaml", "users:\n  - usercode: a\n    type: boss\n")
    result = load([], find_config(None))
    assert [(i.file, i.message) for i in result.issues] == [
        ("pisync.yaml", 'unknown key "concurency" in server; did you mean "concurrency"?'),
        (
            "users/a.yaml",
            "type must be one of administrator, designer, chart-explorer, user, chart-viewer; "
            'found "boss"',
        ),
    ]
    assert result.config == Config()
    assert result.desired is None
    with pytest.raises(InvalidStateError) as raised:
        load_config(Path("pisync.yaml"))
    assert [i.message for i in raised.value.issues] == [
        'unknown key "concurency" in server; did you mean "concurrency"?'
    ]


# --- reading -----------------------------------------------------------------------------


def test_an_oversize_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "big.yaml", user_file(1, users=20))
    result = load([], None, max_bytes=100)
    assert [(i.pos, i.message) for i in result.issues] == [
        (
            SourcePos(file="users/big.yaml", line=1, col=1),
            f"the file is {(tmp_path / 'users' / 'big.yaml').stat().st_size:,} bytes, over the "
            "limit of 100 bytes; split it into smaller files",
        )
    ]


def test_an_unreadable_file_is_an_issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "a.yaml", user_file(1))

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result = load([], None)
    assert [i.message for i in result.issues] == ["cannot read the file: Permission denied"]


def test_undeclared_roles_are_listed_for_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "a.yaml", "roles:\n  - name: R0\n" + user_file(1, users=2))
    result = load([], None)
    assert result.ok
    assert [(r.role, r.usercode, r.key_path) for r in result.undeclared_roles] == [
        ("R1", "U1X1", "users[1].roles[0]")
    ]


def test_gc_is_left_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "a.yaml", user_file(1))
    assert gc.isenabled()
    load([], None)
    assert gc.isenabled()


# --- parallelism never changes the result ------------------------------------------------


def test_parallel_and_serial_loads_are_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for n in range(40):
        write(tmp_path / "users" / f"f{n:02d}.yaml", user_file(n))
    write(tmp_path / "users" / "f07.yaml", "users:\n  - usercode: u1x1\n    type: x\n")
    write(tmp_path / "users" / "f13.yaml", "users: [\n")
    serial = load([], None, workers=1, cache=False)
    parallel = load([], None, workers=2, cache=False)
    assert parallel == serial
    assert len(serial.issues) == 3


def test_large_inputs_use_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for n in range(6):
        write(tmp_path / "users" / f"f{n}.yaml", user_file(n, users=2))
    monkeypatch.setattr(load_module, "PARALLEL_MIN_BYTES", 100)
    used: list[int] = []
    real = load_module._analyse_shared

    def spy(jobs: list[load_module.Job], helpers: int) -> list[object]:
        used.append(helpers)
        return real(jobs, helpers)  # type: ignore[return-value]

    monkeypatch.setattr(load_module, "_analyse_shared", spy)
    result = load([], None)
    assert used == [1]
    assert result.ok
    assert result.stats.users == 12


def test_small_inputs_stay_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "a.yaml", user_file(1))
    write(tmp_path / "users" / "b.yaml", user_file(2))

    def fail(jobs: object, helpers: int) -> None:
        raise AssertionError("no processes for a small input")

    monkeypatch.setattr(load_module, "_analyse_shared", fail)
    assert load([], None).ok


def test_without_processes_it_parses_serially(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "a.yaml", user_file(1))
    write(tmp_path / "users" / "b.yaml", user_file(2))

    def broken(jobs: object, helpers: int) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(load_module, "_analyse_shared", broken)
    assert load([], None, workers=2).stats.users == 6


# --- the examples ------------------------------------------------------------------------


def test_the_example_repository_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    if not list((EXAMPLES / "users").glob("**/*.y*ml")):
        pytest.skip("examples/users/ has no YAML yet")
    monkeypatch.chdir(EXAMPLES)
    result = load([], find_config(None))
    assert [i for i in result.issues if i.severity == "error"] == []
    assert result.desired is not None
    assert result.desired.users


def test_build_false_only_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "users" / "a.yaml", user_file(1))
    result = load([], None, build=False)
    assert result.ok
    assert result.desired is None
    assert result.stats == Stats(files=1, users=3, roles=0)
