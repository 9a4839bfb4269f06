"""The review's outputs: written whole from spooled rows (the same bytes as a review held
whole), nothing at all when the counts do not reconcile, a previous review read back one user
at a time (or whole, when laid out otherwise), and which ``--out`` is a bundle."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from reconciler.core.model.values import LiveState
from reconciler.core.review.build import Inputs
from reconciler.core.review.formats import JSON, TEMPLATE_CSV, render
from reconciler.errors import IncompleteRead, UsageError
from reconciler.shell.flows.review import ReviewOptions, _Pass, _sinks
from reconciler.shell.flows.review.evidence import read_previous
from reconciler.shell.flows.review.outputs import is_bundle
from reconciler.shell.repo.desired_state import Loaded
from tests.core.review.scenario import FACTS, SECRET, scenario, scenario_inputs


def made(options: ReviewOptions, inputs: Inputs, order: list[str]) -> _Pass:
    """The rows made as the command makes them: the users arrive in ``order`` (some before
    provenance is known), the head after the last."""
    bundle = options.out is not None and is_bundle(options.out)
    rows = _Pass(
        dataclasses.replace(inputs, live=LiveState(users={}, roles={}, categories={})),
        _sinks(options, bundle),
        {"WAREHOUSE": SECRET},
    )
    loaded = Loaded(config=inputs.config, desired=inputs.desired, defaults={}, warnings=())
    users = inputs.live.users
    for code in order[:3]:
        rows.add(users[code])  # waits: provenance is not known yet
    rows.ready(loaded, inputs.history, inputs.approvals, inputs.live)
    for code in order[3:]:
        rows.add(users[code])
    return rows


ARRIVAL = ["SVC_BOT", "EVIL", "ANA", "STRAY", "ADMIN", "CARL", "BEN"]


def test_a_streamed_output_is_the_same_as_the_review_rendered_whole(tmp_path: Path) -> None:
    out = tmp_path / "review.json"
    sheet = tmp_path / "decisions.csv"
    options = ReviewOptions(fmt="json", out=str(out), decisions_template=str(sheet))
    inputs = scenario_inputs()
    rows = made(options, inputs, ARRIVAL)
    review = rows.head(inputs)
    rows.finish(review)
    assert out.read_text(encoding="utf-8") == render(JSON, scenario())
    template = sheet.read_bytes().decode("utf-8")  # as written: a CR in a cell stays a CR
    assert template.splitlines()[1].startswith("2026-03-01-")
    review_id = template.splitlines()[1].split(",")[0]
    assert template == render(TEMPLATE_CSV, scenario(), review_id)
    assert review.summary.users == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decisions.csv", "review.json"]


def test_counts_that_do_not_reconcile_write_nothing(tmp_path: Path) -> None:
    inputs = scenario_inputs(facts=dataclasses.replace(FACTS, server_count=8))
    options = ReviewOptions(out=str(tmp_path / "bundle"))
    rows = made(options, inputs, ARRIVAL)
    with pytest.raises(IncompleteRead) as caught:
        rows.head(inputs)
    rows.discard()
    assert str(caught.value) == (
        "the review's counts do not reconcile (server count: the server counts 8 users; its"
        " list gave 7): the server changed while pisync read it, or answered inconsistently;"
        " nothing was written; run the review again"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_previous_review_is_read_one_user_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(render(JSON, scenario()), encoding="utf-8")
    previous = read_previous(path)
    assert previous.info.date == "2026-03-01"
    assert previous.info.read_finished == "2026-03-01T08:00:02Z"
    assert previous.grants["ANA"] == (
        "category:Budgets",
        "category:Finance",
        "enabled:true",
        "login:external",
        "privilege:exportToCsv",
        "role:User Admins",
        "type:designer",
    )
    assert len(previous.grants) == 7
    pretty = tmp_path / "pretty.json"  # re-indented by someone: read whole, the same
    pretty.write_text(json.dumps(json.loads(path.read_text("utf-8")), indent=4), "utf-8")
    assert read_previous(pretty).grants == previous.grants


def test_a_previous_review_of_format_1_and_files_that_are_not_reviews(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps(
            {
                "format_version": 1,
                "server": "s",
                "date": "2025-12-01",
                "users": [{"usercode": "ANA", "type": "user", "roles": ["X"], "direct": {}}],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    previous = read_previous(old)
    assert (previous.no_login, previous.grants) == (
        True,
        {"ANA": ("enabled:true", "role:X", "type:user")},
    )
    other = tmp_path / "plan.json"
    other.write_text('{"format_version": 1, "changes": []}', encoding="utf-8")
    with pytest.raises(UsageError, match="is not a pisync review"):
        read_previous(other)
    with pytest.raises(UsageError, match="cannot read"):
        read_previous(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("out", "bundle"),
    [("review.html", False), ("q4", True), ("q4/", True), ("reviews/2026-q4.json", False)],
)
def test_which_out_is_a_bundle(out: str, bundle: bool) -> None:
    assert is_bundle(out) is bundle
