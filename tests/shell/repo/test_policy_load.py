"""validate's policies through load(): at the user entries, the same from the cache (whether
validate or a plan filled it), users the config ignores left out, nothing without policies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reconciler.shell.repo.desired_files import load

TODAY = dt.date(2026, 1, 10)
CONFIG = """\
users: {ignore: ["SVC_*"]}
policies:
  mfa_required_for: {types: [administrator]}
  administrators: {max: 1, severity: warning}
"""
ROLES = "roles:\n  - {name: Admins, privileges: [editUsers]}\n"
USERS = """\
users:
  - usercode: root
    type: administrator
  - usercode: svc_bot
    type: administrator
  - usercode: safe
    type: administrator
    login: {mfa: true}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "users").mkdir()
    (tmp_path / "pisync.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "users" / "roles.yaml").write_text(ROLES, encoding="utf-8")
    (tmp_path / "users" / "team.yaml").write_text(USERS, encoding="utf-8")
    return tmp_path


EXPECTED = [
    "users/team.yaml:2:5: error: policy mfa_required_for: ROOT is an administrator, which"
    " requires MFA; set login.mfa: true",
    "users/team.yaml:6:5: warning: policy administrators: 2 enabled administrators (ROOT,"
    " SAFE) are declared, more than the maximum of 1; disable or demote some",
]


def shown(repo: Path, **kw: object) -> list[str]:
    result = load([], repo / "pisync.yaml", policies_today=TODAY, **kw)  # type: ignore[arg-type]
    return [f"{i.pos}: {i.severity}: {i.message}" for i in result.issues]


def test_policies_are_checked_at_the_user_entries(repo: Path) -> None:
    assert shown(repo, build=False, cache=False) == EXPECTED


def test_the_cache_gives_the_same_findings_whoever_filled_it(repo: Path) -> None:
    assert load([], repo / "pisync.yaml", build=False).issues == ()  # no policies asked
    assert shown(repo, build=False) == EXPECTED  # the entry had no subjects: analysed again
    first = load([], repo / "pisync.yaml", build=False, policies_today=TODAY)
    assert first.cache_hits == 2
    for entry in (repo / ".pisync-cache").rglob("*.json"):
        entry.unlink()
    load([], repo / "pisync.yaml")  # a plan fills the cache with built users
    again = load([], repo / "pisync.yaml", build=False, policies_today=TODAY)
    assert again.cache_hits == 2  # subjects made from the built users
    assert [f"{i.pos}: {i.severity}: {i.message}" for i in again.issues] == EXPECTED


def test_without_policies_or_a_date_nothing_is_checked(repo: Path) -> None:
    assert load([], repo / "pisync.yaml", build=False, cache=False).issues == ()
    (repo / "pisync.yaml").write_text("users: {ignore: []}\n", encoding="utf-8")
    assert shown(repo, build=False, cache=False) == []


def test_a_file_with_an_error_is_not_judged(repo: Path) -> None:
    (repo / "users" / "team.yaml").write_text(USERS + "    colour: red\n", encoding="utf-8")
    messages = shown(repo, build=False, cache=False)
    assert len(messages) == 1
    assert 'unknown key "colour"' in messages[0]
