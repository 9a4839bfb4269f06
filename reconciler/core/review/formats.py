"""The review's formats, each written as a head, one piece per row and a tail, so that a
review of 100,000 users is written as its rows are made (:class:`Format`). Pure.

- ``json``: ``schemas/review.schema.json``; the head's keys first, then ``users`` with one
  user per line (a later ``review --since`` reads it line by line);
- ``csv``: one line per live user (:data:`CSV_COLUMNS`);
- ``grants``: CSV, one line per grant with the commit that introduced it (:data:`GRANT_COLUMNS`);
- ``markdown`` and ``html``: :mod:`reconciler.core.review.markdown`, :mod:`~.html`;
- the decisions worksheet (:data:`TEMPLATE_CSV`, :data:`TEMPLATE_JSON`), one line per grant;
- the manifest alone as CSV (:func:`manifest_csv`), for a bundle.

CSV cells go through :func:`~reconciler.core.render.markup.csv_row`: a cell a spreadsheet
would take for a formula is prefixed with ``'``, and CR/LF are quoted. Secrets never appear: a
secure variable is named, never valued (nor its digest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from reconciler.core.render.markup import CsvValue, csv_row
from reconciler.core.review.decisions import COLUMNS, WORKSHEET_VERSION, template_row
from reconciler.core.review.model import Approvals, GrantRow, Review, Row


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a row's rendering needs beyond the row; ``memo`` keeps what a format made of a
    grant row (one object for every user who holds that grant: made once, used by all)."""

    today: dt.date
    approvals: Approvals
    review_id: str = ""
    memo: dict[tuple[str, int], tuple[object, str]] = field(default_factory=dict)

    def once(self, what: str, key: object, make: Callable[..., str], *args: object) -> str:
        """``make(*args)``, once per ``what`` and object ``key`` (kept alive beside its text)."""
        found = self.memo.get((what, id(key)))
        if found is None:
            found = self.memo[(what, id(key))] = (key, make(*args))
        return found[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Format:
    """A format written in three parts; ``separator`` goes between two rows' pieces."""

    head: Callable[[Review], str]
    row: Callable[[Row, Context], str]
    tail: Callable[[Review], str]
    separator: str = ""


def render(fmt: Format, review: Review, review_id: str = "") -> str:
    """A whole review in ``fmt`` (its rows held)."""
    context = Context(
        today=dt.date.fromisoformat(review.date), approvals=review.approvals, review_id=review_id
    )
    pieces = (p for p in (fmt.row(r, context) for r in review.rows) if p)
    return fmt.head(review) + fmt.separator.join(pieces) + fmt.tail(review)


# --- JSON ----------------------------------------------------------------------------------------


def _json_head(review: Review) -> str:
    text = orjson.dumps(review.head_dict(), option=orjson.OPT_INDENT_2).decode()
    return text[: text.rindex("}")].rstrip() + ',\n  "users": [\n'


def _json_row(row: Row, context: Context) -> str:
    return "    " + orjson.dumps(row.to_dict()).decode()


def _json_tail(review: Review) -> str:
    return "\n  ]\n}\n" if review.summary.users else "  ]\n}\n"


JSON = Format(head=_json_head, row=_json_row, tail=_json_tail, separator=",\n")


# --- CSV: users ----------------------------------------------------------------------------------

#: The users CSV's columns, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "usercode",
    "name",
    "type",
    "enabled",
    "expires",
    "managed",
    "drift",
    "roles",
    "categories",
    "privileges",
    "direct_categories",
    "direct_privileges",
    "privileged",
    "secure_variables",
    "reason",
    "ticket",
    "owner",
    "review_by",
    "findings",
    "commit",
    "author",
    "date",
    "subject",
    "pull_request",
    "source",
)


def _csv_head(review: Review) -> str:
    return csv_row(CSV_COLUMNS)


def _csv_user(row: Row, context: Context) -> str:
    change = row.last_change
    values: list[CsvValue] = [
        row.usercode,
        row.name,
        row.type,
        row.enabled,
        row.expires,
        row.managed,
        "" if row.drift is None else "; ".join(row.drift) or "none",
        "; ".join(row.roles),
        "; ".join(row.categories),
        "; ".join(row.privileges),
        "; ".join(row.direct_categories),
        "; ".join(row.direct_privileges),
        "; ".join(row.privileged),
        "; ".join(row.secure_variables),
        row.grant.reason,
        row.grant.ticket,
        row.grant.owner,
        row.grant.review_by,
        "; ".join(f"{f.severity}: {f.text}" for f in row.findings),
        None if change is None else change.commit,
        None if change is None else change.author,
        None if change is None else change.date,
        None if change is None else change.subject,
        None if change is None else change.pull_request,
        None if row.source is None else str(row.source),
    ]
    return csv_row(values)


def _nothing(review: Review) -> str:
    return ""


CSV = Format(head=_csv_head, row=_csv_user, tail=_nothing)


# --- CSV: one line per grant --------------------------------------------------------------------

#: The grants CSV's columns, in order.
GRANT_COLUMNS: tuple[str, ...] = (
    "principal",
    "resource",
    "via",
    "managed",
    "commit",
    "author",
    "date",
    "subject",
    "pull_request",
    "approvals",
    "note",
)


def _grants_head(review: Review) -> str:
    return csv_row(GRANT_COLUMNS)


def _grants_row(row: Row, context: Context) -> str:
    who = csv_row([row.usercode])[:-1]
    managed = csv_row([row.managed])[:-1]
    return "".join(
        f"{who},{context.once('grant', g, _grant_before, g)},{managed},"
        + context.once("change", g, _grant_after, g, context.approvals)
        for g in row.grants
    )


def _grant_before(g: GrantRow) -> str:
    """A grant's cells before the user's ``managed`` (no line end)."""
    return csv_row([g.resource, g.via])[:-1]


def _grant_after(g: GrantRow, approvals: Approvals) -> str:
    """A grant's cells after the user's ``managed``, and the line end."""
    c = g.change
    if c is None:
        return csv_row([None, None, None, None, None, None, g.note])
    words = approvals.words(c.pull_request)
    return csv_row([c.commit, c.author, c.date, c.subject, c.pull_request, words, g.note])


GRANTS = Format(head=_grants_head, row=_grants_row, tail=_nothing)


# --- the decisions worksheet ---------------------------------------------------------------------


def _template_rows(row: Row, context: Context) -> Iterable[dict[str, str]]:
    for g in row.grants:
        yield template_row(
            context.review_id, row.usercode, row.name, g.resource, g.via, row.managed, *_granted(g)
        )


def _template_csv_row(row: Row, context: Context) -> str:
    who = csv_row([context.review_id, row.usercode, row.name])[:-1]
    managed = csv_row([row.managed])[:-1]
    return "".join(
        f"{who},{context.once('template', g, _template_before, g)},{managed},"
        + context.once("template-change", g, _template_after, g)
        for g in row.grants
    )


def _template_before(g: GrantRow) -> str:
    """A grant's worksheet cells before ``managed`` (as :func:`template_row` has them)."""
    cells = template_row("", "", None, g.resource, g.via, "", *_granted(g))
    return csv_row([cells["resource"], cells["accessVia"]])[:-1]


def _template_after(g: GrantRow) -> str:
    """A grant's worksheet cells after ``managed``, and the line end."""
    cells = template_row("", "", None, g.resource, g.via, "", *_granted(g))
    return csv_row([cells[c] for c in COLUMNS[COLUMNS.index("grantedBy") :]])


def _granted(g: GrantRow) -> tuple[str, str]:
    """``grantedBy`` and ``grantedIn`` of a grant's worksheet row."""
    c = g.change
    if c is None:
        return "", g.note or ""
    return c.author, f"{c.tag} {c.commit[:10]} {c.date[:10]}"


def _template_json_head(review: Review) -> str:
    head = {
        "format_version": WORKSHEET_VERSION,
        "server": review.server,
        "date": review.date,
        "columns": list(COLUMNS),
    }
    text = orjson.dumps(head, option=orjson.OPT_INDENT_2).decode()
    return text[: text.rindex("}")].rstrip() + ',\n  "decisions": [\n'


def _template_json_row(row: Row, context: Context) -> str:
    return ",\n".join("    " + orjson.dumps(r).decode() for r in _template_rows(row, context))


def _template_json_tail(review: Review) -> str:
    return "\n  ]\n}\n" if review.summary.grants else "  ]\n}\n"


TEMPLATE_CSV = Format(head=lambda review: csv_row(COLUMNS), row=_template_csv_row, tail=_nothing)
TEMPLATE_JSON = Format(
    head=_template_json_head, row=_template_json_row, tail=_template_json_tail, separator=",\n"
)


# --- the manifest alone --------------------------------------------------------------------------


def manifest_csv(manifest: Mapping[str, Any]) -> str:
    """The manifest as ``name,value`` lines (nested keys joined by dots, list items by their
    index or path)."""
    lines = [csv_row(("name", "value"))]
    for name, value in _flat(manifest, ""):
        lines.append(csv_row((name, value)))
    return "".join(lines)


def _flat(value: Any, prefix: str) -> Iterable[tuple[str, CsvValue]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            label = v.get("path") or v.get("name") if isinstance(v, dict) else None
            yield from _flat(v, f"{prefix}[{label if label else i}]")
    else:
        yield prefix, value if isinstance(value, str | bool | int) or value is None else str(value)
