"""The plan in brief (``--summary``): golden files for its three formats, and the properties
goldens can't pin (wrapping at item boundaries, the Markdown cap)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from reconciler.core.render import summary
from reconciler.core.render.markup import md_text
from tests.core.render.test_render import SCENARIOS, many

#: The scenarios whose brief form is pinned: each shows a different part of the summary.
BRIEF = (
    "spec_example",
    "empty",
    "all_actions",
    "access_escalation",
    "guarded",
    "partial_files",
    "hostile",
    "warnings",
    "policy_violations",
)


@pytest.mark.parametrize("name", BRIEF)
def test_text_golden(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"summary_{name}.txt", summary.render_text(SCENARIOS[name]()))


@pytest.mark.parametrize("name", BRIEF)
def test_markdown_golden(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"summary_{name}.md", summary.render_markdown(SCENARIOS[name]()))


@pytest.mark.parametrize("name", BRIEF)
def test_json_golden(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"summary_{name}.json", summary.render_json(SCENARIOS[name]()))


def test_spec_example_in_brief() -> None:
    assert summary.render_text(SCENARIOS["spec_example"]()) == (
        "pisync plan summary: https://pi.example.com:8224/pi/api/v2\n"
        "\n"
        "Plan: 1 to create, 1 to update, 1 to disable, 0 to delete.\n"
        "Changes:\n"
        '  + role "Finance Viewer"\n'
        "  ~ user JSMITH: categories, email, roles\n"
        "  - user OLDUSER  (disable)\n"
    )


def test_wrap_breaks_between_items_only() -> None:
    items = ["Finance Viewer", "Sales Team Leads", "HR", "A very long role name with spaces"]
    assert summary.wrap("roles: ", items, width=30, indent="  ") == [
        "roles: Finance Viewer,",
        "  Sales Team Leads, HR,",
        "  A very long role name with spaces",
    ]


def test_wrap_keeps_an_item_longer_than_a_line_whole() -> None:
    assert summary.wrap("x: ", ["a" * 40, "b"], width=10, indent=" ") == [
        "x: " + "a" * 40 + ",",
        " b",
    ]


def test_wrap_with_no_items_is_the_head() -> None:
    assert summary.wrap("Changes: ", []) == ["Changes: "]


def test_every_text_line_fits_unless_one_item_is_wider() -> None:
    text = summary.render_text(many(500))
    assert all(len(line) <= summary.WIDTH for line in text.splitlines())


def test_markdown_is_capped_and_keeps_the_head() -> None:
    out = summary.render_markdown(many(2_000), limit=3_000)
    assert len(out) <= 3_000
    assert "| 2000 | 0 | 0 | 0 |" in out
    assert out.endswith(" more lines not shown; see the JSON plan\n")
    shown = out.split("```\n")[1].splitlines()
    assert shown[0] == "+ user USER0000"
    hidden = int(out.rsplit("… ", 1)[1].split(" ", 1)[0])
    assert len(shown) + hidden == 2_000


def test_json_lists_each_change_with_the_fields_it_changes() -> None:
    doc = json.loads(summary.render_json(SCENARIOS["spec_example"]()))
    assert doc == {
        "format_version": 1,
        "server": "https://pi.example.com:8224/pi/api/v2",
        "partial": False,
        "summary": {"create": 1, "update": 1, "disable": 1, "delete": 0},
        "guards": [],
        "forced": False,
        "policy": {"checked": [], "findings": []},
        "escalations": [],
        "notes": [],
        "warnings": [],
        "changes": [
            {"kind": "role", "key": "Finance Viewer", "action": "create", "fields": []},
            {
                "kind": "user",
                "key": "JSMITH",
                "action": "update",
                "fields": ["categories", "email", "roles"],
            },
            {"kind": "user", "key": "OLDUSER", "action": "disable", "fields": []},
        ],
    }


NOTES = (
    "pisync.yaml changed since main, so this plan covers the whole desired state, not only the"
    " changed files",
)


@pytest.mark.parametrize("name", ["guarded", "empty", "warnings"])
def test_the_text_summary_keeps_every_note_and_warning(name: str) -> None:
    plan = SCENARIOS[name]()
    plan = dataclasses.replace(plan, notes=(*NOTES, *plan.notes))
    lines = summary.render_text(plan).splitlines()
    assert [line for line in lines if line.startswith(("Note: ", "Warning: "))] == [
        *(f"Note: {n}" for n in plan.notes),
        *(f"Warning: {w}" for w in plan.warnings),
    ]


def test_the_guarded_summary_keeps_the_token_only_lockout_note() -> None:
    plan = SCENARIOS["guarded"]()
    assert plan.notes  # the lockout guard could not identify the account
    assert f"Note: {plan.notes[0]}\n" in summary.render_text(plan)
    assert f"### Notes\n\n- {md_text(plan.notes[0])}\n" in summary.render_markdown(plan)
    assert json.loads(summary.render_json(plan))["notes"] == list(plan.notes)


@pytest.mark.parametrize("name", ["guarded", "empty", "warnings"])
def test_the_markdown_and_json_summaries_keep_every_note_and_warning(name: str) -> None:
    plan = SCENARIOS[name]()
    plan = dataclasses.replace(plan, notes=(*NOTES, *plan.notes))
    md = summary.render_markdown(plan)
    notes = "".join(f"- {md_text(n)}\n" for n in plan.notes)
    assert f"### Notes\n\n{notes}\n" in md
    if plan.warnings:
        warnings = "".join(f"- ⚠️ {md_text(w)}\n" for w in plan.warnings)
        assert f"### Warnings\n\n{warnings}\n" in md
    doc = json.loads(summary.render_json(plan))
    assert (doc["notes"], doc["warnings"]) == (list(plan.notes), list(plan.warnings))


def test_the_summary_lists_the_policy_findings_plan_says_are_listed_above() -> None:
    plan = SCENARIOS["policy_violations"]()
    text = summary.render_text(plan)
    for finding in plan.findings:
        assert finding.text in text
    assert "Policy violations (5 errors; pisync apply refuses this plan" in text
    doc = json.loads(summary.render_json(plan))
    assert doc["policy"] == plan.to_dict()["policy"]
    md = summary.render_markdown(plan)
    assert "> [!CAUTION]\n> **5 policy violations:**" in md
