"""The HTML review in a real headless Chromium (tests/browser.py): its script sorts and filters
the table (clicks, typing, the address's ``#sort=…&q=…&show=…``), it makes no request but for
itself, raises no error, opens no dialog however hostile the data, hides its controls when
printed, and prints.

``PISYNC_UPDATE_SCREENSHOT=1`` also writes ``docs/review-report.png`` from a review of the
example organisation (emulator, a git history by three people, grant metadata and policies).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.review.html import render_html
from tests.browser import Browser, require_chromium
from tests.core.review.scenario import scenario
from tests.e2e.conftest import ROOT, pisync
from tests.gitrepo import Person, git_as

pytestmark = pytest.mark.e2e

CODES = "Array.from(document.querySelectorAll('#users tbody tr')).map(r => r.cells[0].dataset.sort)"
SHOWN = (
    "Array.from(document.querySelectorAll('#users tbody tr'))"
    ".filter(r => !r.hidden).map(r => r.cells[0].dataset.sort)"
)
COUNT = "document.getElementById('count').textContent"


def run(tmp: Path, body: Callable[[Browser], Awaitable[None]]) -> None:
    require_chromium()

    async def main() -> None:
        async with Browser(tmp / "profile", width=1600, height=1100) as browser:
            await body(browser)

    asyncio.run(main())


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "review.html"
    path.write_text(render_html(scenario()), encoding="utf-8")
    return path


def test_the_table_sorts_and_filters(page: Path, tmp_path: Path) -> None:
    url = page.as_uri()

    async def body(b: Browser) -> None:
        await b.open(url)
        everyone = ["ADMIN", "ANA", "BEN", "CARL", "EVIL", "STRAY", "SVC_BOT"]
        assert await b.evaluate(CODES) == everyone
        assert await b.evaluate(COUNT) == "7 of 7 users"
        await b.evaluate("document.querySelector('#users th button').click()")
        assert await b.evaluate(CODES) == everyone[::-1]  # the same heading again: reversed
        assert await b.evaluate(
            "document.querySelector('#users th').getAttribute('aria-sort')"
        ) == ("descending")
        # Findings (column 12) counts: fewest first, then by usercode
        await b.evaluate("document.querySelectorAll('#users th button')[11].click()")
        assert await b.evaluate(CODES) == [
            "ANA",
            "EVIL",
            "SVC_BOT",
            "BEN",
            "STRAY",
            "ADMIN",
            "CARL",
        ]
        assert await b.evaluate("location.hash") == "#sort=11:asc"
        await b.evaluate(
            "const q = document.getElementById('q'); q.value = 'gmail';"
            " q.dispatchEvent(new Event('input'))"
        )
        assert await b.evaluate(SHOWN) == ["BEN"]
        assert await b.evaluate(COUNT) == "1 of 7 users"
        await b.evaluate(
            "const q2 = document.getElementById('q'); q2.value = '';"
            " q2.dispatchEvent(new Event('input'));"
            " const s = document.getElementById('show'); s.value = 'findings';"
            " s.dispatchEvent(new Event('change'))"
        )
        assert await b.evaluate(SHOWN) == ["BEN", "STRAY", "ADMIN", "CARL"]
        assert await b.evaluate("location.hash") == "#sort=11:asc&show=findings"
        await b.evaluate("document.querySelector('.card[data-show=unmanaged]').click()")
        assert await b.evaluate(SHOWN) == ["STRAY", "ADMIN"]
        assert b.errors == []

    run(tmp_path, body)


def test_a_linked_view_opens_as_it_was(page: Path, tmp_path: Path) -> None:
    async def body(b: Browser) -> None:
        await b.open(page.as_uri() + "#sort=3:desc&show=admin")
        assert await b.evaluate(SHOWN) == ["ADMIN", "CARL"]  # "never" expires latest of all
        assert await b.evaluate("document.getElementById('show').value") == "admin"
        await b.open("about:blank")  # a new load: the same page with another address
        await b.open(page.as_uri() + "#q=script")
        assert await b.evaluate(SHOWN) == ["EVIL"]
        assert await b.evaluate("document.getElementById('q').value") == "script"

    run(tmp_path, body)


def test_no_request_no_error_no_dialog_and_hostile_text_stays_text(
    page: Path, tmp_path: Path
) -> None:
    async def body(b: Browser) -> None:
        await b.open(page.as_uri())
        assert b.requests == [page.as_uri()]  # the page itself, and nothing else
        assert b.errors == []
        assert b.dialogs == []
        role = await b.evaluate(
            "document.querySelector('#users tbody tr:nth-child(5) td:nth-child(6)').textContent"
        )
        assert role == "<script>alert(1)</script>|x"
        assert await b.evaluate("document.scripts.length") == 1
        assert await b.evaluate("document.querySelectorAll('svg.chart').length") == 3

    run(tmp_path, body)


def test_the_evidence_sections_and_each_grants_change(page: Path, tmp_path: Path) -> None:
    """The manifest, the privileged track, what changed since, the decisions and the changes
    are on the page; each grant's tag names its change, and its title who approved it."""

    async def body(b: Browser) -> None:
        await b.open(page.as_uri())

        def rows(section: str) -> str:
            return (
                f"Array.from(document.querySelectorAll('#{section} tbody tr'))"
                ".map(r => Array.from(r.cells).map(c => c.textContent))"
            )

        assert await b.evaluate(rows("manifest") + ".filter(r => r.length === 3 && r[1])") == [
            ["server count", "pass", "the server counts 7 users; its list gave 7"],
            ["every user read is reported", "pass", "7 read, 7 reported"],
            ["rows add up", "pass", "4 managed + 1 ignored + 2 unmanaged = 7 (reported 7)"],
            ["declared users add up", "pass", "4 on the server + 1 missing = 5 (declared 5)"],
            [
                "pisync.yaml",
                "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910",
                "6",
            ],
            [
                "users/team.yaml",
                "ca8b22d0db83a22db163b560b3e4e51527e533d31d067b614a0c33c4d2df8432",
                "4",
            ],
        ]
        assert [r[0] for r in await b.evaluate(rows("privileged"))] == [
            "ADMIN",
            "ANA",
            "CARL",
            "STRAY",
        ]
        assert (await b.evaluate(rows("privileged")))[1][6] == "2026-02-01 Bob Stone (#12)"
        assert await b.evaluate(rows("since") + ".map(r => r.join(' '))") == [
            "+ ANA category:Budgets",
            "+ ANA category:Finance",
            "+ ANA login:external",
            "+ ANA role:User Admins",
            "- ANA role:Viewers",
        ]
        assert [r[8].split("the server")[0] for r in await b.evaluate(rows("decisions"))] == [
            "AppliedWithUnknownFailure",
            "AppliedSuccessfullyButObjectNotFound",
        ]
        assert [r[0] for r in await b.evaluate(rows("changes"))] == ["#1", "#12", "ccccccc"]
        tag = "document.querySelector('#users tbody tr:nth-child(2) td:nth-child(6) .pr')"
        assert await b.evaluate(tag + ".textContent") == "#12"
        assert await b.evaluate(tag + ".title") == (
            "Bob Stone · 2026-02-01 · bbbbbbbbbb · Give ANA user admin (#12) · approved by carol"
        )
        assert b.errors == []

    run(tmp_path, body)


def test_printed_the_controls_go_and_the_rows_stay(page: Path, tmp_path: Path) -> None:
    async def body(b: Browser) -> None:
        await b.open(page.as_uri())
        await b.media("print")
        display = "getComputedStyle(document.querySelector('label.no-print')).display"
        assert await b.evaluate(display) == "none"
        assert await b.evaluate("getComputedStyle(document.querySelector('thead')).display") == (
            "table-header-group"
        )
        pdf = await b.pdf()
        assert pdf.startswith(b"%PDF")
        await b.media("screen")
        assert await b.evaluate(display) != "none"

    run(tmp_path, body)


# --- the screenshot in docs/ --------------------------------------------------------------

PEOPLE_META = (
    "    login: {password: true, external: true, mfa: true}\n"
    "    pisync: {reason: Runs the HR systems, ticket: SEC-101, owner: ashah,"
    " review_by: 2027-01-31}\n"
)
POLICIES = """\
policies:
  mfa_required_for: {types: [administrator], privileges: [editUsers, editUserAccess]}
  escalation_requires: {keys: [ticket, reason]}
  review_interval_days: {days: 180, severity: warning}
  email_domains: {allowed: [example.com], severity: warning}
"""


PEOPLE: dict[str, Person] = {
    "anika": ("Anika Shah", "anika.shah@example.com", "2026-09-01T09:00:00+01:00"),
    "dev": ("Dev Patel", "dev.patel@example.com", "2026-10-14T16:20:00+01:00"),
    "li": ("Li Chen", "li.chen@example.com", "2026-11-20T11:05:00+00:00"),
}


def git(repo: Path, who: str, *args: str) -> None:
    git_as(repo, PEOPLE[who], *args)


def example_review(tmp_path: Path, emulator_factory: Any, seed: dict[str, Any]) -> Path:
    """The example organisation as applied, then grant metadata and policies committed (a
    history by three people): the review shows drift, findings and provenance."""
    repo = tmp_path / "example"
    shutil.copytree(ROOT / "examples", repo)
    git(repo, "anika", "init", "-q", "-b", "main")
    git(repo, "anika", "add", "-A")
    git(repo, "anika", "commit", "-q", "-m", "Import the organisation (#1)")
    emu = emulator_factory(seed)
    applied = pisync(["apply", "--auto-approve"], cwd=repo, url=emu.url)
    assert applied.code == 0, applied.all
    people = repo / "users" / "people.yaml"
    text = people.read_text(encoding="utf-8")
    people.write_text(
        text.replace("    login: {password: true, external: true, mfa: true}\n", PEOPLE_META, 1),
        encoding="utf-8",
    )
    git(repo, "dev", "commit", "-q", "-am", "Record why DPATEL administers users (#14)")
    config = repo / "pisync.yaml"
    config.write_text(config.read_text(encoding="utf-8") + POLICIES, encoding="utf-8")
    git(repo, "li", "commit", "-q", "-am", "Access policies for the audit (#21)")
    out = tmp_path / "review.html"
    r = pisync(["review", "--format", "html", "--out", str(out)], cwd=repo, url=emu.url)
    assert r.code == 0, r.all
    return out


def test_screenshot_of_the_example_review(
    tmp_path: Path, emulator_factory: Any, example_seed: dict[str, Any]
) -> None:
    require_chromium()
    html = example_review(tmp_path, emulator_factory, example_seed)
    shots: list[bytes] = []

    async def body(b: Browser) -> None:
        await b.open(html.as_uri() + "#sort=12:desc")  # the latest changes first
        assert b.requests == [html.as_uri()]  # the fragment is never requested
        assert b.errors == []
        # the privileged track and the users with each grant's change
        await b.evaluate("document.getElementById('privileged').scrollIntoView()")
        shots.append(await b.screenshot())

    run(tmp_path, body)
    png = shots[0]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("PISYNC_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs" / "review-report.png").write_bytes(png)
