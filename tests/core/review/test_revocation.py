"""``pisync revoke``'s edits of the YAML: each Deny made at the positions the YAML reader
recorded, every other byte of the file kept (comments, order, quoting, style); what the
repository cannot carry refused at its worksheet row; the commit message citing each decision
in a form no Markdown renderer turns into a mention or markup."""

from __future__ import annotations

import pytest

from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, format_issue
from reconciler.core.model.values import DesiredState, SourcePos, UserSpec
from reconciler.core.review.decisions import Decision, parse_trailers
from reconciler.core.review.revocation import (
    ALREADY,
    DISABLE,
    REMOVE,
    EditError,
    Revocation,
    commit_message,
    edit_text,
    plan_revocations,
)

FILE = "users/team.yaml"


def deny(principal: str, resource: str, row: int = 2, **extra: str) -> Decision:
    return Decision(
        principal=principal,
        resource=resource,
        decision="Deny",
        reviewed_by=extra.get("by", "alice@example.com"),
        reviewed_at="2026-12-01",
        justification=extra.get("why", ""),
        review_id="2026-12-01-1a2b3c4d",
        row=row,
    )


def remove(code: str, key: str, name: str) -> Revocation:
    kind = {"roles": "role", "privileges": "privilege", "categories": "category"}[key]
    return Revocation(
        decision=deny(code, f"{kind}:{name}"), action=REMOVE, file=FILE, key=key, name=name
    )


def disable(code: str) -> Revocation:
    return Revocation(decision=deny(code, "type:designer"), action=DISABLE, file=FILE)


TEAM = """\
# the team (keep sorted)
users:
  - usercode: cjones   # Carol
    forenames: Carol
    roles: [Viewers, Executive, 'Sales, EMEA']   # three roles
    categories:
      - Finance      # for the close
      # budgets are next quarter
      - "HR"
    privileges: [exportToCsv]
  - {usercode: dpatel, roles: [Viewers], enabled: true}
roles: []
"""
COMPACT = """\
users:
- usercode: EVE
  roles:
  - Viewers
"""


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("Executive", "    roles: [Viewers, 'Sales, EMEA']   # three roles\n"),
        ("Viewers", "    roles: [Executive, 'Sales, EMEA']   # three roles\n"),
        ("Sales, EMEA", "    roles: [Viewers, Executive]   # three roles\n"),
    ],
)
def test_an_item_of_a_flow_list_goes_with_its_comma(name: str, line: str) -> None:
    edited = edit_text(TEAM, FILE, [remove("CJONES", "roles", name)])
    assert edited == TEAM.replace(
        "    roles: [Viewers, Executive, 'Sales, EMEA']   # three roles\n", line
    )


def test_every_item_of_a_flow_list_leaves_an_empty_list() -> None:
    items = [remove("CJONES", "roles", n) for n in ("Viewers", "executive", "Sales, EMEA")]
    assert edit_text(TEAM, FILE, items) == TEAM.replace("[Viewers, Executive, 'Sales, EMEA']", "[]")


def test_an_item_of_a_block_list_goes_with_its_line_and_comments_stay() -> None:
    edited = edit_text(TEAM, FILE, [remove("CJONES", "categories", "Finance")])
    assert edited == TEAM.replace("      - Finance      # for the close\n", "")
    edited = edit_text(TEAM, FILE, [remove("CJONES", "categories", "hr")])
    assert edited == TEAM.replace('      - "HR"\n', "")


def test_a_block_list_left_empty_becomes_an_empty_flow_list() -> None:
    items = [remove("CJONES", "categories", n) for n in ("Finance", "HR")]
    assert edit_text(TEAM, FILE, items) == TEAM.replace(
        "    categories:\n      - Finance      # for the close\n      # budgets are next"
        ' quarter\n      - "HR"\n',
        "    categories: []\n      # budgets are next quarter\n",
    )
    compact = edit_text(COMPACT, FILE, [remove("EVE", "roles", "Viewers")])
    assert compact == "users:\n- usercode: EVE\n  roles: []\n"


def test_disabling_sets_enabled_false_or_adds_it_after_the_usercode() -> None:
    edited = edit_text(TEAM, FILE, [disable("CJONES")])
    assert edited == TEAM.replace(
        "  - usercode: cjones   # Carol\n", "  - usercode: cjones   # Carol\n    enabled: false\n"
    )
    flow = edit_text(TEAM, FILE, [disable("DPATEL")])
    assert flow == TEAM.replace("enabled: true}", "enabled: false}")
    compact = edit_text(COMPACT, FILE, [disable("EVE")])
    assert compact == COMPACT.replace("- usercode: EVE\n", "- usercode: EVE\n  enabled: false\n")


def test_several_edits_of_one_entry_at_once() -> None:
    edited = edit_text(
        TEAM,
        FILE,
        [
            disable("CJONES"),
            remove("CJONES", "roles", "Executive"),
            remove("CJONES", "privileges", "exportToCsv"),
            remove("DPATEL", "roles", "Viewers"),
        ],
    )
    assert edited == (
        TEAM.replace(
            "  - usercode: cjones   # Carol\n",
            "  - usercode: cjones   # Carol\n    enabled: false\n",
        )
        .replace("[Viewers, Executive, 'Sales, EMEA']", "[Viewers, 'Sales, EMEA']")
        .replace("[exportToCsv]", "[]")
        .replace("{usercode: dpatel, roles: [Viewers]", "{usercode: dpatel, roles: []")
    )


def test_a_flow_entry_without_enabled_gets_it_after_the_usercode() -> None:
    text = "users:\n  - {usercode: x1, type: user}\n"
    assert edit_text(text, FILE, [disable("X1")]) == (
        "users:\n  - {usercode: x1, enabled: false, type: user}\n"
    )


def test_a_multi_line_flow_list_keeps_its_layout() -> None:
    text = "users:\n  - usercode: x1\n    roles: [A,   # first\n            B, C]\n"
    assert edit_text(text, FILE, [remove("X1", "roles", "B")]) == (
        "users:\n  - usercode: x1\n    roles: [A,   # first\n            C]\n"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "users:\n  - usercode: x1\n    roles:\n      - 'A\n        B'\n",
            "a quoted value spans lines; make the change by hand",
        ),
        (
            "users:\n  - usercode: x1\n    roles:\n      - A\n        B\n      - C\n",
            "an item spans lines; make the change by hand",
        ),
        ("users:\n  - usercode: x2\n    roles: [A B]\n", f"{FILE} has no entry for X1"),
    ],
)
def test_an_edit_that_is_not_safe_is_refused(text: str, why: str) -> None:
    with pytest.raises(EditError) as caught:
        edit_text(text, FILE, [remove("X1", "roles", "A B")])
    assert str(caught.value) == why


def test_an_entry_whose_first_key_is_not_the_usercode_is_found_too() -> None:
    text = "users:\n  - forenames: X\n    usercode: x1\n    roles: [A, B]\n"
    assert edit_text(text, FILE, [remove("X1", "roles", "A")]) == text.replace("[A, B]", "[B]")


SPECS = DesiredState(
    users=(
        UserSpec(
            usercode="CJONES",
            fields={"roles": ("Executive", "Viewers"), "type": "designer"},
            source=SourcePos(file=FILE, line=3, col=5),
        ),
        UserSpec(
            usercode="OFF",
            fields={"enabled": False},
            source=SourcePos(file=FILE, line=20, col=5),
        ),
        UserSpec(
            usercode="SKIP", fields={}, source=SourcePos(file=FILE, line=30, col=5), ignore=True
        ),
    )
)


def test_what_each_deny_does_and_what_cannot_be_done() -> None:
    decisions = [
        deny("CJONES", "role:executive", row=2),
        deny("CJONES", "type:designer", row=3),
        deny("CJONES", "privilege:pdf", row=4),
        deny("CJONES", "category:Finance", row=5),
        deny("OFF", "login:password", row=6),
        deny("STRAY", "role:Viewers", row=7),
        deny("SKIP", "enabled:true", row=8),
        deny("CJONES", "enabled:false", row=9),
        Decision(principal="CJONES", resource="role:Viewers", decision="Approve", row=10),
    ]
    made, issues = plan_revocations(decisions, SPECS, Config(), "decisions.csv")
    assert [(r.decision.row, r.action, r.key, r.name) for r in made] == [
        (2, REMOVE, "roles", "Executive"),
        (3, DISABLE, None, None),
        (6, ALREADY, None, None),
    ]
    assert [format_issue(i) for i in issues] == [
        format_issue(i)
        for i in [
            _issue(
                4,
                "CJONES's entry does not declare privileges, so pisync does not manage"
                " its privileges: add the key with the privileges to keep, or change it on"
                " the server by hand",
            ),
            _issue(
                5,
                "CJONES's entry does not declare categories, so pisync does not manage"
                " its categories: add the key with the categories to keep, or change it on"
                " the server by hand",
            ),
            _issue(
                7,
                "STRAY is not declared in the repository, so revoke cannot edit it:"
                " declare it first (pisync import writes its entry), or change it on the"
                " server by hand",
            ),
            _issue(
                8, "pisync ignores SKIP (users.ignore or pisync: {ignore: true}): revoke it by hand"
            ),
            _issue(9, "enabled:false grants nothing: a disabled account has nothing to revoke"),
        ]
    ]
    listed, problems = plan_revocations(
        [deny("CJONES", "role:Finance", row=11)], SPECS, Config(), "d.csv"
    )
    assert listed == []
    assert [p.message for p in problems] == [
        "CJONES's entry does not list role 'Finance' (the server has it through a role, as"
        " the parent of a category, or differs from the repository): deny the grant that"
        " brings it"
    ]


def _issue(row: int, message: str) -> Issue:
    from reconciler.core.model.issues import error

    return error(SourcePos(file="decisions.csv", line=row, col=1), message)


def test_the_commit_message_cites_each_decision_and_its_trailers_read_back() -> None:
    hostile = deny(
        "CJONES",
        "role:Executive",
        by="@security-team",
        why="left #finance; see <b>[link](x)</b> `code` *now*\nPisync-Decision: {}",
    )
    done = Revocation(decision=hostile, action=REMOVE, file=FILE, key="roles", name="Executive")
    off = Revocation(decision=deny("DPATEL", "type:administrator"), action=DISABLE, file=FILE)
    message = commit_message([done, off], "q4.csv", "ab" * 32, ["2026-12-01-1a2b3c4d"])
    lines = message.splitlines()
    assert lines[:8] == [
        "Revoke access denied in the access review (2 decisions)",
        "",
        f"Decisions of the worksheet `q4.csv` (sha256 {'ab' * 32}) from review"
        " `2026-12-01-1a2b3c4d`:",
        "",
        "- `CJONES` (`users/team.yaml`): remove role `Executive`",
        "  denied by `@security-team` on `2026-12-01`: ``left #finance; see <b>[link](x)</b>"
        " `code` *now*\\u000aPisync-Decision: {}``",
        "- `DPATEL` (`users/team.yaml`): disable the user (enabled: false)",
        "  denied by `alice@example.com` on `2026-12-01`",
    ]
    trailers = [line for line in lines if line.startswith("Pisync-Decision: ")]
    assert len(trailers) == 2
    for line in trailers:  # nothing a Markdown renderer would act on
        assert not set("@#<>`*_[]~|!") & set(line.removeprefix("Pisync-Decision: "))
    assert parse_trailers(message) == [
        Decision(**{**_fields(hostile), "row": 0}),
        Decision(**{**_fields(off.decision), "row": 0}),
    ]


def _fields(d: Decision) -> dict[str, object]:
    return {k: getattr(d, k) for k in Decision.__dataclass_fields__}
