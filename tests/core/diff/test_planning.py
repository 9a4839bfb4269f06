"""The plan's decisions around the diff: scope, what a partial plan reads, which payloads a
whole plan reads and keeps, when every administrator is needed, what loading adds."""

from __future__ import annotations

from reconciler.core.diff import planning
from reconciler.core.diff.scope import Scope
from reconciler.core.model.config import AdministratorsRule, Config, Policies, UserPrune
from reconciler.core.model.issues import warning
from reconciler.core.model.values import (
    Category,
    DesiredState,
    LiveState,
    LiveUser,
    SourcePos,
    UserSpec,
)
from reconciler.core.plans.plan import Action, Change, Kind, Plan
from tests.core.builders import rec

POS = SourcePos(file="users/a.yaml", line=2, col=5)


def spec(code: str, **fields: object) -> UserSpec:
    return UserSpec(usercode=code, fields=fields, source=POS)


DESIRED = DesiredState(
    users=(spec("A", parent="BOSS"), spec("B"), UserSpec(usercode="IGN", fields={}, ignore=True))
)


def live_user(code: str, **fields: object) -> LiveUser:
    return LiveUser(usercode=code, id=f"id-{code}", record=rec(**fields))


def test_the_scope_upper_cases_the_targets() -> None:
    scope = planning.plan_scope(files=None, targets=["jsmith"], removed=frozenset({"OLD"}))
    assert scope == Scope(targets=frozenset({"JSMITH"}), removed=frozenset({"OLD"}))
    assert scope.partial


def test_users_in_scope_leave_out_the_ignored_and_the_untargeted() -> None:
    assert [u.usercode for u in planning.users_in_scope(DESIRED, Scope())] == ["A", "B"]
    targeted = Scope(targets=frozenset({"B", "GONE"}))
    in_scope = planning.users_in_scope(DESIRED, targeted)
    assert [u.usercode for u in in_scope] == ["B"]
    assert planning.checked_state(DESIRED, in_scope, targeted).users == in_scope
    assert planning.checked_state(DESIRED, in_scope, Scope()) is DESIRED


def test_a_partial_plan_reads_the_declared_removed_targets_and_parents_by_usercode() -> None:
    scope = Scope(files=1, targets=frozenset({"A", "STRAY"}), removed=frozenset({"OLD"}))
    in_scope = planning.users_in_scope(DESIRED, scope)
    reads = planning.partial_reads(in_scope, scope, Config())
    assert reads == planning.PartialReads(
        users=frozenset({"A", "BOSS", "STRAY", "OLD"}), ids_for=frozenset()
    )
    deleting = Config(users_prune=UserPrune.DELETE)
    assert planning.partial_reads(in_scope, scope, deleting).ids_for == {"STRAY", "OLD"}


def test_a_whole_plan_reads_the_payloads_of_the_declared_and_when_pruning_the_rest() -> None:
    off = planning.payload_for({"A"}, Config())
    assert (off("A"), off("X")) == (True, False)
    pruning = Config(users_prune=UserPrune.DISABLE, ignore=("SVC_*",))
    on = planning.payload_for({"A"}, pruning)
    assert (on("A"), on("X"), on("SVC_1")) == (True, True, False)


def test_a_plan_keeps_no_server_copy_and_an_apply_keeps_those_it_writes() -> None:
    desired = DesiredState(users=(spec("A", email="new@example.com"), spec("B")))
    categories: dict[str, Category] = {}
    a, b = live_user("A", email="old@example.com"), live_user("B")
    keep = planning.copies_to_keep(desired, Config(), defaults={}, secrets={}, for_apply=False)
    assert (keep(categories)(a), keep(categories)(b)) == (False, False)
    keep = planning.copies_to_keep(desired, Config(), defaults={}, secrets={}, for_apply=True)
    assert (keep(categories)(a), keep(categories)(b)) == (True, False)


def test_every_administrator_is_read_when_counted_or_when_one_is_disabled() -> None:
    admin = live_user("ROOT", type="administrator")
    partial = LiveState(users={"ROOT": admin}, roles={}, categories={}, complete=False)
    counting = Config(policies=Policies(administrators=AdministratorsRule(min=2)))
    assert planning.needs_every_administrator(Plan(server="s"), partial, counting)
    assert not planning.needs_every_administrator(Plan(server="s"), partial, Config())
    disable = Change(kind=Kind.USER, key="ROOT", action=Action.DISABLE, live_id="id-ROOT")
    plan = Plan(server="s", changes=(disable,))
    assert planning.needs_every_administrator(plan, partial, Config())
    complete = LiveState(users={"ROOT": admin}, roles={}, categories={}, all_administrators=True)
    assert not planning.needs_every_administrator(plan, complete, counting)


def test_loading_notes_come_first_and_its_warnings_join_the_plan() -> None:
    plan = Plan(server="s", notes=("from the diff",), warnings=("from the diff too",))
    loaded = (warning(POS, 'duplicate email "a@example.com"', "users[1].email"),)
    got = planning.with_loading_notes(plan, ("partial plan",), loaded)
    assert got.notes == ("partial plan", "from the diff")
    assert got.warnings == (
        'users/a.yaml:2:5: duplicate email "a@example.com" (at users[1].email)',
        "from the diff too",
    )


def test_the_deleted_files_note_names_files_and_users_up_to_five() -> None:
    files = [f"users/f{i}.yaml" for i in range(7)]
    users = [f"U{i}" for i in range(6)]
    assert planning.deleted_files_note("main", files, users, UserPrune.DELETE) == (
        "7 desired-state files were deleted since main: users/f0.yaml, users/f1.yaml,"
        " users/f2.yaml, users/f3.yaml, users/f4.yaml and 2 more; the 6 users declared only"
        " there (U0, U1, U2, U3, U4 and 1 more) get the prune action of users.prune (delete)"
    )


def test_the_deleted_files_note_when_every_user_moved() -> None:
    assert planning.deleted_files_note("v1", ["old.yaml"], [], UserPrune.OFF) == (
        "1 desired-state file was deleted since v1: old.yaml; every user declared there is"
        " declared in another file now"
    )
    assert planning.deleted_files_note("v1", ["old.yaml"], ["X"], UserPrune.OFF) == (
        "1 desired-state file was deleted since v1: old.yaml; the user declared only there (X)"
        " stays on the server as it is, because users.prune is off"
    )
