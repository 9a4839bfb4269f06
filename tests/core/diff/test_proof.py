"""Apply proves a saved plan against the repository (issue 19): every change must be the one
the checked-out desired state produces from the re-read objects, prunes included, with the
server id a delete goes to. Each way a plan can claim more than the repository says."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.diff.changes import diff
from reconciler.core.diff.proof import unproven
from reconciler.core.model.config import Config, RolePrune, UserPrune
from reconciler.core.model.values import DesiredState
from reconciler.core.plans.plan import Action, Plan
from tests.core.diff.test_diff import URL, lrole, luser, rspec, spec, state

LIVE = state(
    [luser("KEEP", email="k@x"), luser("GONE", email="g@x")],
    [lrole("Old", description="o", categories=(), privileges=())],
)
DESIRED = DesiredState(users=(spec("KEEP", email="k@new"),), roles=())
CONFIG = Config(users_prune=UserPrune.DELETE, roles_prune=RolePrune.DELETE)


def saved() -> Plan:
    return diff(DESIRED, LIVE, CONFIG, server=URL)


def prove(plan: Plan, desired: DesiredState = DESIRED, config: Config = CONFIG) -> list[str]:
    return unproven(plan, desired, LIVE, config, defaults={}, secrets={})


def test_the_plan_of_this_state_is_proved() -> None:
    plan = saved()
    assert [(c.key, c.action) for c in plan.changes] == [
        ("KEEP", Action.UPDATE),
        ("GONE", Action.DELETE),
        ("Old", Action.DELETE),
    ]
    assert prove(plan) == []


def test_a_delete_sent_to_another_id_is_refused() -> None:
    plan = saved()
    forged = tuple(replace(c, live_id="id-KEEP") if c.key == "GONE" else c for c in plan.changes)
    assert prove(replace(plan, changes=forged)) == [
        'user GONE: the plan names the server id "id-KEEP", but the object\'s id is "id-GONE"'
    ]


def test_a_prune_of_a_user_the_repository_declares_again_is_refused() -> None:
    desired = replace(DESIRED, users=(*DESIRED.users, spec("GONE", email="g@x")))
    assert prove(saved(), desired) == [
        "user GONE: the plan would delete it; the repository at this commit makes no change to it"
    ]


def test_a_prune_the_config_no_longer_makes_is_refused() -> None:
    assert prove(saved(), config=Config(users_prune=UserPrune.DISABLE)) == [
        "user GONE: the plan would delete it; the repository at this commit would disable it",
        'role "Old": the plan would delete it; the repository at this commit makes no change to it',
    ]


def test_a_role_delete_of_a_role_now_declared_or_held_is_refused() -> None:
    declared = replace(DESIRED, roles=(rspec("Old", description="o"),))
    held = replace(DESIRED, users=(spec("KEEP", email="k@new", roles=("Old",)),))
    expected = [
        'role "Old": the plan would delete it; the repository at this commit makes no change to it'
    ]
    assert prove(saved(), declared) == expected
    assert prove(saved(), held)[-1:] == expected


def test_a_user_now_ignored_is_refused() -> None:
    assert prove(saved(), config=replace(CONFIG, ignore=("KEEP",)))[:1] == [
        "user KEEP: the plan would update it; the repository at this commit makes no change to it"
    ]
