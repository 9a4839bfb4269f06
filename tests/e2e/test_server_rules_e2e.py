"""The server's own rules, checked at plan time through the real CLI against real emulator
processes, so that the plan says what apply would be refused for: only the super
administrator creates users (a guard, exit 4, with the fix), ``licence:`` caps (a guard, on
the whole server), and ``users.login_claim: email`` (an error at the YAML line, exit 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Emulator, pisync

pytestmark = pytest.mark.e2e

SYNC = "/pi/api/v2/users/sync"
DPATEL = {"PISYNC_USERNAME": "dpatel", "PISYNC_PASSWORD": "dpatel-demo"}
NEW_ADMIN = (
    "users:\n  - {usercode: newadmin, forenames: New, surname: Admin, type: administrator}\n"
)


def repo(tmp_path: Path, users: str, config: str = "") -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text('sources: ["users/**/*.y*ml"]\n' + config, encoding="utf-8")
    (root / "users" / "people.yaml").write_text(users, encoding="utf-8")
    return root


def writes(emu: Emulator) -> list[dict[str, Any]]:
    return [e for e in emu.requests() if e["path"] == SYNC]


def test_an_account_that_is_not_the_super_admin_cannot_plan_creates(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    root = repo(tmp_path, "users:\n  - {usercode: newbie, forenames: New, surname: Bie}\n")
    r = pisync(["plan"], cwd=root, url=emu.url, env=DPATEL)
    assert r.code == 4, r.all
    assert (
        "  ! [create-needs-super-admin] the plan creates 1 user, but DPATEL, the account pisync"
        " signs in with, is not the super administrator, the only account the server lets"
        " create users through its sync endpoint: apply this plan signed in as the super"
        " administrator (PISYNC_USERNAME and PISYNC_PASSWORD), or leave the new users out of it"
    ) in r.out.splitlines()
    emu.clear_requests()
    r = pisync(["apply", "--auto-approve"], cwd=root, url=emu.url, env=DPATEL)
    assert r.code == 4, r.all
    assert writes(emu) == []
    # a saved plan made by the super admin, applied with the editor's account, is refused too
    assert pisync(["plan", "--out", "plan.json"], cwd=root, url=emu.url).code == 0
    r = pisync(["apply", "plan.json"], cwd=root, url=emu.url, env=DPATEL)
    assert r.code == 4, r.all
    assert "[create-needs-super-admin]" in r.err
    assert writes(emu) == []
    # the super admin's plan of the same files has no such guard, and its apply works
    r = pisync(["apply", "--auto-approve"], cwd=root, url=emu.url)
    assert r.code == 0, r.all


def test_an_editor_may_still_plan_updates(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    root = repo(tmp_path, "users:\n  - {usercode: bwong, surname: Wong-Smith}\n")
    r = pisync(["apply", "--auto-approve"], cwd=root, url=emu.url, env=DPATEL)
    assert r.code == 0, r.all


def test_a_plan_over_the_licence_is_blocked_and_the_server_would_have_refused_it(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    # ADMIN and DPATEL are the seed's two administrators
    emu = emulator_factory(example_seed, "--licence", "administrators=2")
    root = repo(tmp_path, NEW_ADMIN, "licence: {administrators: 2, total: 100}\n")
    r = pisync(["plan", "--format", "json"], cwd=root, url=emu.url)
    assert r.code == 4, r.all
    assert json.loads(r.out)["guards"] == [
        {
            "name": "licence",
            "message": (
                "after this plan 3 administrators would be enabled, more than"
                " licence.administrators allows (2; 2 now): the server would refuse the writes"
                " that go over it; disable users of that kind first, or raise"
                " licence.administrators once the licence allows more"
            ),
            "numbers": {"kind": "administrators", "after": 3, "now": 2, "cap": 2},
            "override": "--force",
        }
    ]
    # the guard was right: forced, the server refuses the write
    r = pisync(["apply", "--auto-approve", "--force"], cwd=root, url=emu.url)
    assert r.code == 6, r.all
    assert "licence exceeded: the licence allows 2 administrators" in r.out


def test_a_plan_that_frees_a_place_first_fits_the_licence(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--licence", "administrators=2")
    users = NEW_ADMIN + "  - {usercode: dpatel, enabled: false}\n"
    root = repo(tmp_path, users, "licence: {administrators: 2}\n")
    r = pisync(["plan", "--detailed-exitcode"], cwd=root, url=emu.url)
    assert r.code == 2, r.all


def test_changing_the_email_the_identity_provider_signs_in_by_is_an_error_at_its_line(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    users = (
        "users:\n"
        "  - usercode: bwong\n"
        "    email: ben.wong@example.org\n"
        "  - usercode: newbie\n"
        "    forenames: New\n"
        "    surname: Bie\n"
        "    email: newbie@example.com\n"
    )
    root = repo(tmp_path, users, "users: {login_claim: email}\n")
    r = pisync(["plan"], cwd=root, url=emu.url)
    assert r.code == 3, r.all
    assert (
        "users/people.yaml:3:5: error: user BWONG: the email would change from"
        ' "ben.wong@example.com" to "ben.wong@example.org", but the identity provider signs'
        " users in by email (users.login_claim: email), so the user's next sign-in would not"
        " find them; change the email in the identity provider and in Panintelligence first,"
        ' or keep "ben.wong@example.com" here (at BWONG.email)'
    ) in r.all.splitlines()
    assert "NEWBIE" not in r.all  # a new user's email is its first
    # the same change without the setting is an ordinary plan
    (root / "pisync.yaml").write_text('sources: ["users/**/*.y*ml"]\n', encoding="utf-8")
    assert pisync(["plan"], cwd=root, url=emu.url).code == 0
