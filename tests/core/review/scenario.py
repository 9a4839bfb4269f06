"""One review with every kind of user, grant, commit and decision: the core tests, the golden
files and the browser tests all render it."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from reconciler.core.model.config import (
    AdministratorsRule,
    Config,
    EmailRule,
    MfaRule,
    Policies,
    ReviewRule,
    Severity,
)
from reconciler.core.model.values import (
    Category,
    DesiredState,
    Grant,
    LiveRole,
    LiveState,
    LiveUser,
    RoleSpec,
    SourcePos,
    UserSpec,
    Variable,
)
from reconciler.core.review.build import Inputs, build_review
from reconciler.core.review.decisions import ApplyOutcome, Decision, Enacted
from reconciler.core.review.manifest import FileDigest, Origin, ReadFacts
from reconciler.core.review.model import (
    Approvals,
    Approver,
    EntryHistory,
    History,
    Provenance,
    PullRequest,
    Review,
)
from reconciler.core.review.since import Previous, PreviousInfo
from tests.core.builders import rec

TODAY = dt.date(2026, 3, 1)
URL = "https://pi.example.com:8224/pi/api/v2"
SECRET = "warehouse-s3cret"
LIVE_SECRET = "live-only-s3cret"
A, B, C = "a" * 40, "b" * 40, "c" * 40


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def at(line: int) -> SourcePos:
    return SourcePos(file="users/team.yaml", line=line, col=5)


COMMITS = {
    A: Provenance(
        commit=A,
        author="Anika Shah",
        email="anika@example.com",
        date="2026-01-05T10:00:00+00:00",
        subject="Import the team (#1)",
        pull_request=1,
    ),
    B: Provenance(
        commit=B,
        author="Bob Stone",
        email="bob@example.com",
        date="2026-02-01T09:00:00+00:00",
        subject="Give ANA user admin (#12)",
        pull_request=12,
    ),
    C: Provenance(
        commit=C,
        author="Eve <b>Adams</b>",
        email="eve@example.com",
        date="2026-02-20T09:00:00+00:00",
        subject="Fix ANA's email",
        pull_request=None,
    ),
}
HISTORY = History(
    commits=COMMITS,
    entries={
        "ANA": EntryHistory(
            last=C,
            default=A,
            grants={("role", "user admins"): B, ("review_by", ""): B},
        ),
        "BEN": EntryHistory(
            note="its entry has changes that are not committed yet",
            default=A,
            notes={("role", "viewers"): "its line has changes that are not committed yet"},
        ),
        "CARL": EntryHistory(last=A, default=A),
        "EVIL": EntryHistory(note="its file is not committed"),
    },
)
APPROVALS = Approvals(
    asked=True,
    forge="api.github.com/acme/pi-users",
    pulls={
        1: PullRequest(number=1, author="ashah", merged_by="ashah", note=None),
        12: PullRequest(
            number=12,
            approvers=(Approver(login="carol", at="2026-02-01T10:00:00Z"),),
            author="bstone",
            merged_by="carol",
            merged_at="2026-02-01T10:05:00Z",
        ),
    },
)
FACTS = ReadFacts(
    read_started="2026-03-01T08:00:00Z",
    read_finished="2026-03-01T08:00:02Z",
    server_count=7,
    origin=Origin(
        pisync_version="0.1.0",
        pisync_commit="d" * 40,
        repository_commit=C,
        uncommitted=("users/team.yaml",),
    ),
    inputs=(
        FileDigest(path="pisync.yaml", sha256=sha("config"), size=6),
        FileDigest(path="users/team.yaml", sha256=sha("team"), size=4),
    ),
)
DENY = Decision(
    principal="STRAY",
    resource="privilege:editRoles",
    decision="Deny",
    justification="=cmd|' /C calc'!A0 no longer needed",
    reviewed_by="alice@example.com",
    reviewed_at="2026-02-10T10:00:00Z",
    review_id="2025-12-01-1a2b3c4d",
)
GONE = Decision(
    principal="OLD",
    resource="role:Viewers",
    decision="Deny",
    reviewed_by="alice@example.com",
    reviewed_at="2026-02-10",
    review_id="2025-12-01-1a2b3c4d",
)
ENACTED = Enacted(
    commit="e" * 40,
    merged_commit="f" * 40,
    merged_by="Carl Merger",
    merged_at="2026-02-11T09:00:00+00:00",
    pull_request=20,
)


def previous() -> Previous:
    prev = Previous(
        info=PreviousInfo(
            file="reviews/2025-12.json",
            server=URL,
            date="2025-12-01",
            read_finished="2025-12-01T08:00:00Z",
            format_version=2,
        )
    )
    prev.add("ANA", ["type:designer", "enabled:true", "role:Viewers", "privilege:exportToCsv"])
    prev.add("BEN", ["type:user", "enabled:true", "login:external", "role:Viewers"])
    prev.add("OLD", ["type:user", "enabled:true"])
    return prev


def scenario(**changes: Any) -> Review:
    """The review of :func:`scenario_inputs`, rows held."""
    return build_review(scenario_inputs(**changes))


def scenario_inputs(**changes: Any) -> Inputs:
    admins = LiveRole(
        name="User Admins",
        id="r1",
        fields={
            "description": "Manage users",
            "categories": ("HR",),
            "privileges": ("editUsers", "pdf"),
        },
    )
    viewers = LiveRole(
        name="Viewers",
        id="r2",
        fields={"description": None, "categories": ("Sales",), "privileges": ("pdf",)},
    )
    users = [
        LiveUser(usercode="ADMIN", id="1", record=rec(type="administrator"), super_admin=True),
        LiveUser(
            usercode="ANA",
            id="2",
            record=rec(
                {"login.mfa": True},
                forenames="Ana",
                surname="=Alvarez",
                type="designer",
                email="ana@example.com",
                roles=("user admins",),
                categories=("Budgets", "Finance"),
                privileges=("exportToCsv",),
                variables=(
                    Variable(name="warehouse", secure=True, digest=sha(SECRET)),
                    Variable(name="region", value="North"),
                ),
            ),
        ),
        LiveUser(
            usercode="BEN",
            id="3",
            record=rec(email="ben@gmail.com", roles=("Viewers",), expires="2026-02-01"),
        ),
        LiveUser(
            usercode="CARL",
            id="4",
            record=rec(type="administrator", email="carl@example.com", expires="2026-03-20"),
        ),
        LiveUser(
            usercode="STRAY",
            id="5",
            record=rec(
                email="stray@example.com",
                privileges=("editRoles",),
                variables=(Variable(name="token", secure=True, digest=sha(LIVE_SECRET)),),
            ),
        ),
        LiveUser(usercode="SVC_BOT", id="6", record=rec(enabled=False)),
        LiveUser(
            usercode="EVIL",
            id="7",
            record=rec(
                forenames="@here\r",
                email="e@example.com",
                roles=("<script>alert(1)</script>|x",),
            ),
        ),
    ]
    live = LiveState(
        users={u.usercode: u for u in users},
        roles={r.name.casefold(): r for r in (admins, viewers)},
        categories={
            "hr": Category(name="HR", id="c1"),
            "sales": Category(name="Sales", id="c2"),
            "finance": Category(name="Finance", id="c3"),
            "budgets": Category(name="Budgets", id="c4", parent_id="c3"),
        },
    )
    desired = DesiredState(
        users=(
            UserSpec(
                usercode="ANA",
                fields={
                    "email": "ana@example.com",
                    "type": "designer",
                    "roles": ("User Admins",),
                    "categories": ("Budgets",),
                    "variables": (
                        Variable(name="warehouse", env="WAREHOUSE", secure=True),
                        Variable(name="region", value="North"),
                    ),
                },
                source=at(2),
                meta=Grant(
                    reason='Runs =HYPERLINK("x") user admin',
                    ticket="SEC-1",
                    owner="ashah",
                    review_by="2026-06-30",
                ),
            ),
            UserSpec(
                usercode="BEN",
                fields={"email": "ben@gmail.com", "roles": ("Viewers",), "enabled": True},
                source=at(9),
                meta=Grant(review_by="2026-01-31"),
            ),
            UserSpec(usercode="CARL", fields={"type": "administrator"}, source=at(14)),
            UserSpec(usercode="EVIL", fields={"email": "evil@example.com"}, source=at(17)),
            UserSpec(usercode="GHOST", fields={"forenames": "G"}, source=at(20)),
        ),
        roles=(RoleSpec(name="Viewers", fields={"categories": ("Sales",)}, source=at(30)),),
    )
    config = Config(
        ignore=("SVC_*",),
        policies=Policies(
            mfa_required_for=MfaRule(types=frozenset({"administrator"})),
            administrators=AdministratorsRule(min=3),
            review_interval_days=ReviewRule(days=180, severity=Severity.WARNING),
            email_domains=EmailRule(allowed=frozenset({"example.com"}), severity=Severity.WARNING),
        ),
    )
    fields: dict[str, Any] = {
        "live": live,
        "desired": desired,
        "config": config,
        "server": URL,
        "today": TODAY,
        "history": HISTORY,
        "approvals": APPROVALS,
        "secrets": {"WAREHOUSE": SECRET},
        "facts": FACTS,
        "previous": previous(),
        "enacted": ((DENY, ENACTED), (GONE, ENACTED)),
        "outcomes": {
            "STRAY": ApplyOutcome(outcome="failed", message="400: no", report="apply.json")
        },
    }
    fields.update(changes)
    return Inputs(**fields)
