"""Review decisions: the reviewer's worksheet, the decisions read back from it, how a
revocation cites them in git, and what became of each. Pure.

The worksheet (``review --decisions-template FILE``) has one row per grant, in the columns
of Microsoft Entra's access reviews (:data:`COLUMNS`): the reviewer fills ``decision``
(:data:`DECISIONS`), ``justification``, ``reviewedBy`` and ``reviewedDateTime``.
:func:`read_rows` reads it back, every problem named by its row. ``pisync revoke`` turns the
``Deny`` rows into edits of the YAML and one commit whose message carries each decision as a
``Pisync-Decision:`` trailer (:func:`trailer`); the next review finds those commits in git
(:func:`parse_trailers`) and says, per decision, who applied it, when, and the result
(:func:`status_of`, in Entra's words: :data:`APPLY_RESULTS`), checked against a fresh read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import LiveUser, SourcePos
from reconciler.core.review.grants import resource, split_resource

WORKSHEET_VERSION: Final = 1
#: The worksheet's columns: Entra's, and what a reviewer needs to decide.
COLUMNS: Final[tuple[str, ...]] = (
    "reviewId",
    "principal",
    "principalName",
    "resource",
    "accessVia",
    "managed",
    "grantedBy",
    "grantedIn",
    "decision",
    "justification",
    "reviewedBy",
    "reviewedDateTime",
)
#: Columns every worksheet must have (the others are for the reviewer's eyes).
REQUIRED: Final[tuple[str, ...]] = ("principal", "resource", "decision")
#: Entra's decisions; an empty cell is NotReviewed.
DECISIONS: Final[tuple[str, ...]] = ("Approve", "Deny", "DontKnow", "NotReviewed")
_DECISION_BY_WORD: Final = {d.casefold(): d for d in DECISIONS}
#: Entra's apply results.
NEW: Final = "New"
APPLIED: Final = "AppliedSuccessfully"
FAILED: Final = "AppliedWithUnknownFailure"
NOT_FOUND: Final = "AppliedSuccessfullyButObjectNotFound"
APPLY_RESULTS: Final[tuple[str, ...]] = (NEW, APPLIED, FAILED, NOT_FOUND)
TRAILER: Final = "Pisync-Decision"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    principal: str  # upper case
    resource: str  # kind:name
    decision: str  # one of DECISIONS
    justification: str = ""
    reviewed_by: str = ""
    reviewed_at: str = ""  # ISO 8601
    review_id: str = ""
    row: int = 0  # where the worksheet holds it (CSV line, or 1-based JSON index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewId": self.review_id,
            "principal": self.principal,
            "resource": self.resource,
            "decision": self.decision,
            "justification": self.justification,
            "reviewedBy": self.reviewed_by,
            "reviewedDateTime": self.reviewed_at,
        }


# --- the worksheet ------------------------------------------------------------------------


def template_row(
    review_id: str,
    principal: str,
    name: str | None,
    grant_resource: str,
    via: str | None,
    managed: str,
    granted_by: str,
    granted_in: str,
) -> dict[str, str]:
    """One worksheet row (decision and the reviewer's columns empty)."""
    return {
        "reviewId": review_id,
        "principal": principal,
        "principalName": name or "",
        "resource": grant_resource,
        "accessVia": via or "direct",
        "managed": managed,
        "grantedBy": granted_by,
        "grantedIn": granted_in,
        "decision": "",
        "justification": "",
        "reviewedBy": "",
        "reviewedDateTime": "",
    }


def read_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]], file: str
) -> tuple[list[Decision], list[Issue]]:
    """The decisions of a worksheet's rows (``(row number, cells)``), and every problem,
    each at its row: an unknown decision, a resource that names no grant, a ``Deny`` without
    ``reviewedBy`` or ``reviewedDateTime``, a date that is not ISO 8601, two rows for one
    grant that disagree."""
    decisions: list[Decision] = []
    issues: list[Issue] = []
    seen: dict[tuple[str, str], Decision] = {}
    for number, cells in rows:
        at = SourcePos(file=file, line=number, col=1)
        problems: list[str] = []
        principal = _text(cells.get("principal")).upper()
        raw_resource = _text(cells.get("resource"))
        parsed = split_resource(raw_resource)
        word = _text(cells.get("decision"))
        decision = _DECISION_BY_WORD.get(word.casefold()) if word else "NotReviewed"
        if not principal:
            problems.append("principal is empty; it names the user (a usercode)")
        if parsed is None:
            problems.append(
                f"resource {raw_resource!r} names no grant; write kind:name, e.g. role:Finance"
                " (kinds: type, enabled, login, role, privilege, category)"
            )
        if decision is None:
            problems.append(f"decision {word!r} is not one of {', '.join(DECISIONS)}")
        reviewed_by = _text(cells.get("reviewedBy"))
        reviewed_at = _text(cells.get("reviewedDateTime"))
        when = _iso(reviewed_at) if reviewed_at else ""
        if reviewed_at and when is None:
            problems.append(
                f"reviewedDateTime {reviewed_at!r} is not an ISO 8601 date or time, e.g."
                " 2026-12-01 or 2026-12-01T10:30:00Z"
            )
        if decision == "Deny" and not reviewed_by:
            problems.append("a Deny needs reviewedBy: who decided")
        if decision == "Deny" and not reviewed_at:
            problems.append("a Deny needs reviewedDateTime: when it was decided")
        if problems or parsed is None or decision is None:
            issues += [error(at, p) for p in problems]
            continue
        made = Decision(
            principal=principal,
            resource=resource(*parsed),
            decision=decision,
            justification=_text(cells.get("justification")),
            reviewed_by=reviewed_by,
            reviewed_at=when or "",
            review_id=_text(cells.get("reviewId")),
            row=number,
        )
        key = (made.principal, made.resource.casefold())
        first = seen.get(key)
        if first is not None and first.decision != made.decision:
            issues.append(
                error(
                    at,
                    f"{made.principal} {made.resource} is decided twice: {first.decision} at"
                    f" row {first.row}, {made.decision} here; keep one",
                )
            )
            continue
        if first is None:
            seen[key] = made
            decisions.append(made)
    return decisions, issues


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _iso(text: str) -> str | None:
    """``text`` as an ISO 8601 date or date-time (kept as written, ``Z`` allowed)."""
    try:
        if len(text) == 10:
            dt.date.fromisoformat(text)
        else:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return text


# --- git: the revocation commit and its trailers --------------------------------------------

# Characters that mean something in Markdown (a pull request's body is rendered from the
# commit message) or make a mention; inside a JSON string each is written as \\uXXXX.
_INERT: Final = {c: f"\\u{ord(c):04x}" for c in "@#<>&`*_[]~|!"}
_INERT_RE: Final = re.compile("|".join(re.escape(c) for c in _INERT))


def trailer(d: Decision) -> str:
    """``Pisync-Decision: {…}``: the decision as one line of JSON that git, a reader and a
    Markdown renderer all leave alone (no mention, no markup: those characters are escaped)."""
    text = json.dumps(d.to_dict(), ensure_ascii=True, separators=(",", ":"))
    return f"{TRAILER}: " + _INERT_RE.sub(lambda m: _INERT[m.group()], text)


def parse_trailers(message: str) -> list[Decision]:
    """The decisions a commit message carries (lines that are not valid ones are skipped:
    a message anyone wrote is not trusted to hold a decision)."""
    out = []
    for line in message.splitlines():
        if not line.startswith(f"{TRAILER}: "):
            continue
        try:
            data = json.loads(line[len(TRAILER) + 2 :])
        except ValueError:
            continue
        decisions, issues = read_rows([(0, data)], "git") if isinstance(data, dict) else ([], [])
        if decisions and not issues and decisions[0].decision == "Deny":
            out.append(decisions[0])
    return out


# --- what became of a decision --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Enacted:
    """Where git has a decision: the revocation commit, and the commit of the main line
    that brought it in (a merge, or the commit itself) with who made it and when."""

    commit: str
    merged_commit: str
    merged_by: str
    merged_at: str
    pull_request: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionStatus:
    decision: Decision
    enacted: Enacted
    apply_result: str
    applied_by: str | None
    applied_at: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.decision.to_dict(),
            "commit": self.enacted.commit,
            "pullRequest": self.enacted.pull_request,
            "appliedBy": self.applied_by,
            "appliedDateTime": self.applied_at,
            "applyResult": self.apply_result,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyOutcome:
    """What an apply report says about one user: its outcome and message."""

    outcome: str  # applied, failed, not_attempted, abandoned
    message: str
    report: str  # the report file


def still_held(user: LiveUser, grant_resource: str) -> bool:
    """Whether the live user still holds the grant a Deny named: for a role, a direct
    privilege or a direct category, the item; for the rest (revoked by disabling the user),
    the account being enabled."""
    parsed = split_resource(grant_resource)
    if parsed is None:
        return True
    kind, name = parsed
    record = user.record
    if kind in ("role", "category"):
        field = "roles" if kind == "role" else "categories"
        return name.casefold() in {str(n).casefold() for n in record.get(field) or ()}
    if kind == "privilege":
        return name in (record.get("privileges") or ())
    return record.get("enabled") is not False


def status_of(
    decision: Decision,
    enacted: Enacted,
    user: LiveUser | None,
    outcome: ApplyOutcome | None,
    merged_by: str | None = None,
) -> DecisionStatus:
    """What became of a Deny merged in ``enacted``, by the fresh read (``user``, None when
    the server no longer has the user) and the apply report's ``outcome`` for the user (None
    when no report given names it). ``merged_by`` is the forge's word for who merged, when
    it was asked; otherwise git's."""
    by = merged_by or enacted.merged_by
    said = (
        "not in the apply reports given"
        if outcome is None
        else f"{outcome.report} says {outcome.outcome}"
        + (f" ({outcome.message})" if outcome.message and outcome.outcome != "applied" else "")
    )
    if user is None:
        result, detail = NOT_FOUND, f"the server no longer has {decision.principal}; {said}"
    elif not still_held(user, decision.resource):
        result, detail = APPLIED, f"a fresh read shows it gone; {said}"
    elif outcome is None or outcome.outcome == "not_attempted":
        result, detail = NEW, f"not applied yet: the server still holds it; {said}"
    else:
        result, detail = FAILED, f"the server still holds it; {said}"
    done = result in (APPLIED, NOT_FOUND)
    return DecisionStatus(
        decision=decision,
        enacted=enacted,
        apply_result=result,
        applied_by=by if done else None,
        applied_at=enacted.merged_at if done else None,
        detail=detail,
    )


def outcomes_of(
    reports: Sequence[tuple[str, Mapping[str, Any]]],
) -> dict[str, ApplyOutcome]:
    """Each user's outcome in the apply reports (``(file, report)``, oldest first: a later
    report's word wins), by upper-case usercode."""
    out: dict[str, ApplyOutcome] = {}
    for file, report in reports:
        for change in report.get("changes") or ():
            if isinstance(change, dict) and change.get("kind") == "user":
                code = str(change.get("key", "")).upper()
                out[code] = ApplyOutcome(
                    outcome=str(change.get("outcome", "")),
                    message=str(change.get("message") or ""),
                    report=file,
                )
    return out
