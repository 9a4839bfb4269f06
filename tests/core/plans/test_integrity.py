"""A saved plan's parts must agree (issue 19): each change's values for apply are exactly what
its field changes show, each change has the shape of its action, and the file reads back to
itself. Every way a hand-edited file can disagree, with the whole list of problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.core.plans.integrity import disagreements
from reconciler.core.plans.plan import SENSITIVE, Action, Change, FieldChange, Kind, Plan

FP = "sha256:" + "0" * 64


def plan() -> Plan:
    return Plan(
        server="https://pi.test",
        changes=(
            Change(
                kind=Kind.USER,
                key="NEW",
                action=Action.CREATE,
                fields=(
                    FieldChange(path="surname", before=None, after="N"),
                    FieldChange(
                        path="variables.db",
                        before=None,
                        after={"env": "DB_PW", "secure": True},
                        sensitive=True,
                    ),
                ),
                desired={"surname": "N", "variables": {"db": {"env": "DB_PW", "secure": True}}},
            ),
            Change(
                kind=Kind.USER,
                key="OLD",
                action=Action.UPDATE,
                fields=(
                    FieldChange(path="email", before="a@x", after="b@x"),
                    FieldChange(path="variables.gone", before="v", after=None),
                ),
                desired={"email": "b@x", "variables": {"gone": None}},
                fingerprint=FP,
            ),
            Change(
                kind=Kind.USER,
                key="QUIT",
                action=Action.DISABLE,
                fields=(FieldChange(path="enabled", before=True, after=False),),
                desired={"enabled": False},
                fingerprint=FP,
                live_id="7",
            ),
        ),
    )


def document() -> dict[str, Any]:
    return json.loads(json.dumps(plan().to_document()))  # type: ignore[no-any-return]


def test_a_plan_pisync_made_agrees() -> None:
    data = document()
    assert disagreements(Plan.from_dict(data), data) == []


def _forge(edit: Callable[[dict[str, Any]], None]) -> list[str]:
    data = document()
    edit(data)
    return disagreements(Plan.from_dict(data), data)


@pytest.mark.parametrize(
    ("edit", "problems"),
    [
        (
            lambda d: d["changes"][1]["desired"].update(type="administrator"),
            ['user OLD: it would write type = "administrator", which the plan does not show'],
        ),
        (
            lambda d: d["changes"][1]["desired"].update(email="c@x"),
            ['user OLD: it shows email = "b@x" but would write "c@x"'],
        ),
        (
            lambda d: d["changes"][0]["desired"]["variables"].update(
                db={"env": "PISYNC_PASSWORD", "secure": False}
            ),
            [
                "user NEW: it shows variables.db = the secret in environment variable"
                ' "DB_PW" but would write the secret in environment variable'
                ' "PISYNC_PASSWORD"'
            ],
        ),
        (
            lambda d: d["changes"][1]["desired"]["variables"].pop("gone"),
            ["user OLD: it shows variables.gone = null but would not write it"],
        ),
        (
            lambda d: d["changes"][0]["fields"][0].update(before="x"),
            ["user NEW: a create has nothing before it, yet a field has a value before"],
        ),
        (
            lambda d: (
                d["changes"][2]["fields"].append(
                    {"path": "type", "before": "user", "after": "administrator"}
                )
                or d["changes"][2]["desired"].update(type="administrator")
            ),
            ["user QUIT: a disable changes enabled from true to false and nothing else"],
        ),
        (
            lambda d: d["changes"][2].update(action="delete"),
            ["user QUIT: a delete changes no field"],
        ),
        (
            lambda d: (
                d["changes"][1]["fields"].append(
                    {"path": "description", "before": None, "after": "x"}
                )
                or d["changes"][1]["desired"].update(description="x")
            ),
            ["user OLD: it changes 'description', which is not a field of a user"],
        ),
        (
            lambda d: (
                d["changes"][1]["fields"].append(
                    {"path": "variables.pw", "before": "old", "after": "new", "sensitive": True}
                )
                or d["changes"][1]["desired"]["variables"].update(pw="new")
            ),
            [
                "user OLD: variables.pw is sensitive: its value before is never kept, and"
                " '(sensitive)' is not a value to write"
            ],
        ),
        (
            lambda d: (
                d["changes"][0]["fields"][1].update(after=SENSITIVE)
                or d["changes"][0]["desired"]["variables"].update(db=SENSITIVE)
            ),
            [
                "user NEW: variables.db is sensitive: its value before is never kept, and"
                " '(sensitive)' is not a value to write"
            ],
        ),
        (
            lambda d: d.update(targets=["NEW"]),
            [
                "user OLD: the plan is for --target NEW only",
                "user QUIT: the plan is for --target NEW only",
            ],
        ),
        (
            lambda d: d["summary"].update(create=0),
            ["its 'summary' does not agree with the rest of the plan"],
        ),
        (
            lambda d: d["changes"][1].update(fingerprint=None),
            ["user OLD: an update names no live object it was planned against"],
        ),
    ],
    ids=[
        "hidden-value",
        "other-value",
        "other-secret",
        "removal-not-written",
        "create-with-before",
        "disable-writes-more",
        "delete-with-fields",
        "not-a-user-field",
        "secret-before",
        "placeholder-written",
        "targets",
        "summary",
        "no-fingerprint",
    ],
)
def test_a_file_whose_parts_disagree(
    edit: Callable[[dict[str, Any]], None], problems: list[str]
) -> None:
    assert _forge(edit) == problems
