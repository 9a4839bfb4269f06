"""The validation cache: a cached run reports exactly what an uncached one does, an unchanged
file is never parsed again, and nothing read from the cache is trusted blindly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reconciler.core.desired.analysis import analyse
from reconciler.core.desired.filecodec import decode, encode
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.yamlfile.read import parse_yaml
from reconciler.schemas import load_schema
from reconciler.shell import output
from reconciler.shell.repo import desired_files as load_module
from reconciler.shell.repo.cache import CACHE_DIR, FileCache, code_digest
from reconciler.shell.repo.desired_files import load

GOOD = """\
roles:
  - {name: Viewers, categories: [Sales], privileges: [pdf]}
users:
  - usercode: alice
    forenames: Alice
    surname: A
    email: a@example.com
    type: designer
    roles: [Viewers, Ghosts]
    categories: [Sales]
    privileges: [pdf, exportToCsv]
    login: {password: false, external: true, mfa: true}
    expires: 2027-01-31
    variables: {region: North, pw: {env: PW, secure: true}, plain: {value: x, secure: false}}
    restrictions: [{connection: DB, column: Region, values: [N, E]}]
    pisync: {prune: false, reason: Month-end, ticket: SEC-1, owner: ashah, review_by: 2027-03-31}
"""
BAD = """\
users:
  - usercode: bob
    forenames: Bob
    email: a@example.com
    type: superuser
    login: {password: false, external: false}
  - usercode: ALICE
    surname: again
"""
BROKEN = "users: [\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "users").mkdir()
    for name, text in {"a.yaml": GOOD, "b.yaml": BAD, "c.yaml": BROKEN}.items():
        (tmp_path / "users" / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_cached_run_reports_exactly_what_an_uncached_one_does(repo: Path) -> None:
    uncached = load([], None, cache=False)
    filling = load([], None)
    cached = load([], None)
    assert (filling.cache_hits, cached.cache_hits) == (0, 3)
    assert cached == filling == uncached
    assert [str(i.pos) for i in cached.issues] == [str(i.pos) for i in uncached.issues]
    assert len(uncached.issues) >= 5  # broken YAML, schema, login, duplicates


def test_a_valid_repository_builds_the_same_desired_state_from_the_cache(repo: Path) -> None:
    (repo / "users" / "b.yaml").unlink()
    (repo / "users" / "c.yaml").unlink()
    uncached = load([], None, cache=False)
    load([], None)
    cached = load([], None)
    assert cached.desired is not None
    assert cached.cache_hits == 1
    assert cached == uncached
    assert cached.undeclared_roles == uncached.undeclared_roles


def test_an_unchanged_file_is_not_parsed_again(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load([], None)
    (repo / "users" / "c.yaml").write_text("users: []\n", encoding="utf-8")
    parsed: list[str] = []
    real = load_module._read_one

    def spy(path: Path, display: str, max_bytes: int, **kw: bool) -> object:
        parsed.append(display)
        return real(path, display, max_bytes, **kw)

    monkeypatch.setattr(load_module, "_read_one", spy)
    result = load([], None)
    assert parsed == ["users/c.yaml"]
    assert result.cache_hits == 2


def test_a_validate_only_entry_is_rebuilt_for_a_plan(repo: Path) -> None:
    (repo / "users" / "b.yaml").unlink()
    (repo / "users" / "c.yaml").unlink()
    assert load([], None, build=False).desired is None
    built = load([], None)
    assert built.cache_hits == 0  # the entry had no users: read again, with them
    assert built.desired is not None
    assert len(built.desired.users) == 1
    assert load([], None).cache_hits == 1


def test_a_damaged_or_foreign_entry_is_ignored(repo: Path) -> None:
    reference = load([], None, cache=False)
    load([], None)
    folder = repo / CACHE_DIR / code_digest()
    entries = sorted(folder.glob("*.json"))
    assert len(entries) == 3
    entries[0].write_text("{not json", encoding="utf-8")
    entries[1].write_text(json.dumps({"format": 999}), encoding="utf-8")
    again = load([], None)
    assert again == reference
    assert again.cache_hits == 1


def test_other_versions_entries_are_never_read_and_are_pruned(repo: Path) -> None:
    stale = repo / CACHE_DIR / "an-older-pisync" / "x.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    load([], None)
    assert not stale.parent.exists()


def test_the_cache_can_be_turned_off(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PISYNC_CACHE", "off")
    load([], None)
    assert not (repo / CACHE_DIR).exists()


def test_a_read_only_folder_only_means_no_cache(repo: Path) -> None:
    (repo / CACHE_DIR).write_text("a file where the folder would be", encoding="utf-8")
    assert load([], None) == load([], None, cache=False)


def test_the_codec_round_trips_every_kind_of_result() -> None:
    checker = SchemaChecker(load_schema("pisync-file"))
    for name, text in {"a.yaml": GOOD, "b.yaml": BAD, "c.yaml": BROKEN}.items():
        result = analyse(parse_yaml(text.encode(), f"users/{name}"), checker)
        again = decode(json.loads(json.dumps(encode(result))))
        assert again == result
        assert [u.key_pos for u in again.users] == [u.key_pos for u in result.users]
        assert [u.meta for u in again.users] == [u.meta for u in result.users]
    alice = analyse(parse_yaml(GOOD.encode(), "users/a.yaml"), checker).users[0]
    assert alice.meta.to_dict() == {
        "reason": "Month-end",
        "ticket": "SEC-1",
        "owner": "ashah",
        "review_by": "2027-03-31",
    }


def test_a_warning_that_depends_on_the_config_follows_the_config_on_a_warm_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(
        "users:\n  - usercode: sso_amy\n    login: {password: true}\n", encoding="utf-8"
    )
    config = tmp_path / "pisync.yaml"
    config.write_text("users: {login_via_idp: ['SSO_*']}\n", encoding="utf-8")
    cold = load([], config)
    assert [(i.severity, i.key_path) for i in cold.issues] == [
        ("warning", "users[0].login.password")
    ]
    warm = load([], config)
    assert warm.cache_hits == 1
    assert warm.issues == cold.issues
    config.write_text("users: {login_via_idp: []}\n", encoding="utf-8")
    assert load([], config).issues == ()  # the file's cached analysis, the new config's rule


def test_a_cache_that_git_tracks_or_a_linked_cache_is_not_used(tmp_path: Path) -> None:
    # issue 19: a pull request can commit a .pisync-cache/ whose entries say anything
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    forged = tmp_path / ".pisync-cache" / "x.json"
    forged.parent.mkdir()
    forged.write_text("{}", encoding="utf-8")
    assert not FileCache(tmp_path).off  # untracked: an earlier run's
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", ".pisync-cache"], check=True)
    assert FileCache(tmp_path).off
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".pisync-cache").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert FileCache(linked).off


@pytest.mark.parametrize("workers", [1, 2])
def test_no_entry_keeps_a_secret_a_later_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # issue 19 item 5 and the parser processes writing the entries: users/a.yaml quotes the
    # value of DB_PW in its messages, and only users/b.yaml (read after it) names DB_PW
    monkeypatch.chdir(tmp_path)
    secret = "db-s3cret-value-42"
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.yaml").write_text(
        f"users:\n  - {{usercode: A, forenames: A, surname: A, email: {secret}}}\n"
    )
    (tmp_path / "users" / "b.yaml").write_text(
        "users:\n  - {usercode: B, forenames: B, surname: B,"
        " variables: {db: {env: DB_PW, secure: true}}}\n"
    )
    output.REDACTOR.reset()
    output.REDACTOR.env = {"DB_PW": secret}
    try:
        result = load([], None, workers=workers)
        assert any(secret in i.message for i in result.issues)  # the message quotes it
        entries = list((tmp_path / CACHE_DIR).rglob("*.json"))
        assert len(entries) == 1  # b.yaml's; a.yaml's would hold the secret: not kept
        assert secret not in entries[0].read_text(encoding="utf-8")
        assert load([], None, workers=workers).cache_hits == 1
    finally:
        output.REDACTOR.reset()
        output.REDACTOR.env = {}
