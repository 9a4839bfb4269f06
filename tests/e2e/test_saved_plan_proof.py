"""What a reviewer approves is exactly what merges (issue 19, items 1 and 2): a saved plan is
one truth — ``pisync show`` prints exactly what ``pisync apply`` would send, a file whose parts
disagree is refused by both — and apply proves every change against the repository at the
checked-out commit and checks the policies and guards again, before any write. Through the
real CLI and a real emulator process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.plans.plan import document_digest
from tests.e2e.conftest import Emulator, pisync

pytestmark = pytest.mark.e2e

TOKENS = "/pi/api/v2/tokens"
SEED: dict[str, Any] = {
    "users": [
        {
            "user": {
                "usercode": code,
                "forenames": "F",
                "surname": code.title(),
                "email": f"{code.lower()}@old.example",
                "userTypeId": 1,
            }
        }
        for code in ("ADOE", "JSMITH")
    ]
}
CONFIG = "sources: [users/*.yaml]\nusers: {prune: 'off'}\n"
USERS = (
    "users:\n"
    "  - {usercode: ADOE, forenames: F, surname: Adoe, email: adoe@old.example}\n"
    "  - {usercode: JSMITH, forenames: F, surname: Jsmith, email: j@new.example}\n"
)


def writes(emu: Emulator) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"])
        for e in emu.requests()
        if e["method"] in ("POST", "PUT", "DELETE", "PATCH") and e["path"] != TOKENS
    ]


def repo(root: Path, users: str = USERS, config: str = CONFIG) -> Path:
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    (root / "users" / "a.yaml").write_text(users, encoding="utf-8")
    return root


def saved(emu: Emulator, root: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    planfile = tmp_path / "plan.json"
    planned = pisync(["plan", "--out", str(planfile)], cwd=root, url=emu.url)
    assert planned.code == 0, planned.all
    emu.clear_requests()
    return planfile, json.loads(planfile.read_text(encoding="utf-8"))


def rewrite(planfile: Path, data: dict[str, Any]) -> None:
    """Write ``data`` back with a digest recomputed by pisync's own function, as anyone can."""
    data["digest"] = document_digest(data)
    planfile.write_text(json.dumps(data, indent=2), encoding="utf-8")


def user_type(emu: Emulator, code: str) -> int:
    (element,) = emu.api("GET", f"/users/syncPayload?usercode={code}")
    return int(element["user"]["userTypeId"])


@pytest.fixture
def emu(emulator_factory: Any) -> Emulator:
    started: Emulator = emulator_factory(SEED)
    return started


def test_a_forged_plan_is_refused_by_show_and_by_apply(emu: Emulator, tmp_path: Path) -> None:
    root = repo(tmp_path / "repo")
    planfile, data = saved(emu, root, tmp_path)
    (change,) = data["changes"]
    change["desired"]["type"] = "administrator"  # shown nowhere, sent by the old apply
    rewrite(planfile, data)
    refusal = (
        f"{planfile} is not a plan pisync wrote: its parts disagree{{}}:\n"
        '  user JSMITH: it would write type = "administrator", which the plan does not show\n'
        f"Make the plan again and review it: pisync plan --out {planfile}\n"
    )

    shown = [pisync(["show", str(planfile), "--format", f], cwd=root) for f in ("text", "json")]
    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)

    for result in shown:
        assert (result.code, result.out) == (5, ""), result.all
        assert result.err == "Error: " + refusal.format("")
    assert (applied.code, applied.out) == (5, ""), applied.all
    assert applied.err == "Error: " + refusal.format("; nothing was applied")
    assert writes(emu) == []
    assert user_type(emu, "JSMITH") == 1  # still a designer


def test_a_forged_plan_whose_parts_agree_is_shown_as_it_is_and_refused_by_apply(
    emu: Emulator, tmp_path: Path
) -> None:
    root = repo(tmp_path / "repo")
    planfile, data = saved(emu, root, tmp_path)
    (change,) = data["changes"]
    change["fields"].append({"path": "type", "before": "designer", "after": "administrator"})
    change["desired"]["type"] = "administrator"
    rewrite(planfile, data)

    shown = pisync(["show", str(planfile)], cwd=root)
    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)

    # show prints what the file would do: a reviewer of this file sees the escalation
    assert shown.code == 0, shown.all
    assert '      ~ type:  "designer" -> "administrator"' in shown.out.splitlines()
    assert (applied.code, applied.out) == (5, ""), applied.all
    assert applied.err == (
        "Error: the saved plan is not what the repository at this commit produces; nothing was"
        " applied:\n"
        '  user JSMITH: the plan sets type to "administrator"; the repository at this commit'
        " does not\n"
        "Plan again from this commit (pisync plan --out FILE) and review the new plan.\n"
    )
    assert writes(emu) == []
    assert user_type(emu, "JSMITH") == 1


def test_a_plan_whose_files_changed_after_review_is_refused(emu: Emulator, tmp_path: Path) -> None:
    root = repo(tmp_path / "repo")
    planfile, _ = saved(emu, root, tmp_path)
    # pushed to the pull request after its plan was reviewed: another address, and ADOE gone
    (root / "users" / "a.yaml").write_text(
        USERS.replace("j@new.example", "j@evil.example").replace(
            "adoe@old.example", "adoe@new.example"
        ),
        encoding="utf-8",
    )

    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)

    assert (applied.code, applied.out) == (5, ""), applied.all
    assert applied.err == (
        "Error: the saved plan is not what the repository at this commit produces; nothing was"
        " applied:\n"
        '  user JSMITH: the plan sets email to "j@new.example"; the repository at this commit'
        ' sets it to "j@evil.example"\n'
        "Plan again from this commit (pisync plan --out FILE) and review the new plan.\n"
    )
    assert writes(emu) == []


def test_a_plan_for_a_user_the_repository_no_longer_declares_is_refused(
    emu: Emulator, tmp_path: Path
) -> None:
    root = repo(tmp_path / "repo")
    planfile, _ = saved(emu, root, tmp_path)
    (root / "users" / "a.yaml").write_text(USERS.splitlines()[0] + "\n" + USERS.splitlines()[1])

    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)

    assert (applied.code, applied.out) == (5, ""), applied.all
    assert (
        "  user JSMITH: the plan would update it; the repository at this commit makes no change"
        " to it\n"
    ) in applied.err
    assert writes(emu) == []


def test_a_plan_saved_before_a_policies_block_is_refused_by_apply(
    emu: Emulator, tmp_path: Path
) -> None:
    root = repo(
        tmp_path / "repo",
        USERS.replace("email: adoe@old.example}", "email: adoe@old.example, type: administrator}"),
    )
    planfile, _ = saved(emu, root, tmp_path)
    (root / "pisync.yaml").write_text(
        CONFIG + "policies:\n  mfa_required_for: {types: [administrator]}\n", encoding="utf-8"
    )

    applied = pisync(["apply", str(planfile)], cwd=root, url=emu.url)
    fresh = pisync(["apply", "--auto-approve"], cwd=root, url=emu.url)

    finding = (
        "users/a.yaml:2:5: error: policy mfa_required_for: ADOE is an administrator, which"
        " requires MFA; set login.mfa: true (at users[ADOE])"
    )
    assert applied.code == 3, applied.all
    assert applied.out == f"{finding}\n1 error; nothing was planned or applied.\n"
    assert fresh.code == 3, fresh.all
    assert writes(emu) == []
    assert user_type(emu, "ADOE") == 1
