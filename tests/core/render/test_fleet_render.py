"""A fleet's plan rendered (core/render/fleet_*.py), pinned by golden files, and the fleet
plan's own rules (core/plans/fleet.py): the exit code, the bundle, joining shards.

Refresh the golden files on purpose only: ``make golden``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from reconciler.core.model.issues import error
from reconciler.core.model.values import SourcePos
from reconciler.core.plans.fleet import FleetPlan, ServerPlan, merge, most_severe
from reconciler.core.plans.plan import Plan
from reconciler.core.render import fleet_json, fleet_markdown, fleet_text, plan_markdown
from tests.core.render.test_render import (
    empty,
    guarded,
    hostile,
    many,
    policy_violations,
    spec_example,
)


def server(name: str, plan: Plan | None, code: int, **extra: object) -> ServerPlan:
    url = f"https://{name}.example.com/pi/api/v2"
    if plan is not None:
        plan = dataclasses.replace(plan, server=url)
    return ServerPlan(name=name, url=url, plan=plan, exit_code=code, **extra)  # type: ignore[arg-type]


def fleet() -> FleetPlan:
    """Five servers: changes, none, blocked, invalid (a policy), failed (unreachable), and
    hostile text in a reason; two left out by --changed-since."""
    return FleetPlan(
        servers=(
            server("alpha", spec_example(), 0, reasons=("users/shared.yaml: JSMITH changed",)),
            server("beta", empty(), 0, reasons=("users/shared.yaml: JSMITH changed",)),
            server("delta", None, 1, error="GET /users: connection refused; check the URL"),
            server(
                "epsilon",
                None,
                3,
                error="the desired state cannot be applied to this server",
                issues=(
                    error(
                        SourcePos(file="servers/epsilon/a.yaml", line=3, col=5),
                        'user X: unknown role "Ghost"',
                    ),
                ),
                reasons=("servers/epsilon/a.yaml changed",),
            ),
            server("gamma", guarded(), 4, reasons=("servers/gamma/`x`|<b>.yaml changed",)),
            server("policy", policy_violations(), 3),
        ),
        skipped=(
            ("zeta", "no change since main touches it"),
            ("eta", "no change since main touches it"),
        ),
        changed_since="main",
    )


def test_fleet_text_golden(golden: Callable[[str, str], None]) -> None:
    golden("fleet.txt", fleet_text.render_text(fleet()))


def test_fleet_summary_text_golden(golden: Callable[[str, str], None]) -> None:
    golden("fleet_summary.txt", fleet_text.render_text(fleet(), brief=True))


def test_fleet_markdown_golden(golden: Callable[[str, str], None]) -> None:
    golden("fleet.md", fleet_markdown.render_markdown(fleet()))


def test_fleet_summary_json_golden(golden: Callable[[str, str], None]) -> None:
    golden("fleet_summary.json", fleet_json.render_summary_json(fleet()))


def test_fleet_bundle_golden(golden: Callable[[str, str], None]) -> None:
    golden("fleet_bundle.json", fleet_json.render_json(fleet()))


def test_the_markdown_keeps_its_table_whole_and_stays_under_its_limit() -> None:
    big = FleetPlan(
        servers=tuple(server(f"s{i:02}", many(300), 0) for i in range(12)),
    )
    shared = fleet_markdown.render_markdown(big, limit=40_000)
    tight = fleet_markdown.render_markdown(big, limit=6_000)

    assert len(shared) <= 40_000
    assert all(f"| `s{i:02}` | 300 |" in shared for i in range(12))
    assert shared.count("more changes not shown") == 12  # each server's share, truncated
    assert len(tight) <= 6_000
    assert all(f"| `s{i:02}` | 300 |" in tight for i in range(12))
    assert tight.endswith(
        "do not fit in this comment; the bundle holds them all (pisync show BUNDLE)\n"
    )


def test_a_fleet_without_changes_says_so_last() -> None:
    quiet = FleetPlan(servers=(server("a", empty(), 0), server("b", empty(), 0)))

    assert fleet_text.render_text(quiet).splitlines()[-1] == (
        "No changes. Every server (2) matches its desired state."
    )
    assert fleet_text.quiet_line(quiet) == "No changes. Every server (2) matches its desired state."


def test_a_servers_section_is_its_plan_as_one_server_renders_it_headings_down() -> None:
    plan = server("h", hostile(), 0).plan
    assert plan is not None
    text = fleet_markdown.render_markdown(FleetPlan(servers=(server("h", hostile(), 0),)))
    alone = plan_markdown.render_markdown(plan)

    section = text.split("</summary>\n\n", 1)[1].rsplit("\n</details>", 1)[0].rstrip("\n")
    assert section == alone.replace("## pisync plan", "### pisync plan").replace(
        "\n### ", "\n#### "
    ).rstrip("\n")


def test_the_most_severe_exit_code_wins() -> None:
    assert most_severe([0, 2, 6, 5, 4, 3, 1]) == 1
    assert most_severe([0, 2, 6, 5, 4, 3]) == 3
    assert most_severe([0, 2, 6, 5, 4]) == 4
    assert most_severe([0, 2, 6, 5]) == 5
    assert most_severe([0, 2, 6]) == 6
    assert most_severe([0, 2]) == 2
    assert most_severe([]) == 0
    assert fleet().exit_code == 1


def test_shards_join_and_what_does_not_join_is_refused() -> None:
    whole = fleet()
    one = dataclasses.replace(whole, servers=whole.servers[:3], shard=(1, 2))
    two = dataclasses.replace(whole, servers=whole.servers[3:], shard=(2, 2))

    joined, problems = merge([two, one])
    twice, repeated = merge([one, one])
    lone, missing = merge([one, dataclasses.replace(two, shard=(2, 3))])

    assert problems == []
    assert joined is not None
    assert [s.name for s in joined.servers] == [s.name for s in whole.servers]
    assert (joined.shard, joined.changed_since) == (None, "main")
    assert twice is None
    assert repeated == [
        "server alpha is in part 1 and part 2",
        "server beta is in part 1 and part 2",
        "server delta is in part 1 and part 2",
        "shard 2/2 missing",
        "shard 1/2 given twice",
    ]
    assert lone is None
    assert missing == ["the parts are shards of different splits (N = 2, 3)"]


def test_the_bundle_document_holds_each_servers_plan_document_as_it_is() -> None:
    doc = json.loads(fleet_json.render_json(fleet()))
    alpha = doc["servers"][0]

    assert alpha["plan"] == server("alpha", spec_example(), 0).plan.to_document()  # type: ignore[union-attr]
    assert [s["plan"] is None for s in doc["servers"]] == [False, False, True, True, False, False]
