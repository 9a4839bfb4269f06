"""The access review as one self-contained HTML file. Pure.

Everything is inside the file: the styles, the script, the charts (inline SVG drawn here).
Nothing is fetched — the page's Content-Security-Policy forbids any request, and no element
names a URL — so it can be mailed, archived as evidence and opened offline years later.

- A summary first: counts (administrators, unmanaged, drifted, expired but enabled, reviews
  overdue, policy violations) and three bar charts: users per role, per type, and access
  ending within the next 30/60/90 days; then the sections of
  :mod:`reconciler.core.review.html_sections` (the manifest, the privileged track, what
  changed since the last review, earlier decisions) and, after the table, the changes the
  grants came in by.
- The users' table (escalating privileges in bold red; each grant tagged with its change,
  whose author, date and approvals its title holds) holds every row in the HTML itself (it
  reads and prints without the script). The script only sorts (click a column heading; again to
  reverse) and filters (free text, and a choice of: with findings, drifted, unmanaged,
  administrators, access ending soon), keeping the state in the address's
  ``#sort=COLUMN:asc|desc&q=TEXT&show=FLAG`` so a view can be linked to and reopened as it was.
- Printing hides the controls, keeps the table's heading on every page and never splits a
  row.

User data only ever appears escaped in element text or attribute values; the script reads
the table, never data embedded in it, so a name holding ``</script>`` is just text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from reconciler.core.model.privileges import ESCALATING_PRIVILEGES, USER_TYPES
from reconciler.core.render.markup import html_escape as esc
from reconciler.core.review.formats import Context, Format, render
from reconciler.core.review.html_sections import (
    commits_section,
    decisions_section,
    manifest_section,
    privileged_section,
    since_section,
)
from reconciler.core.review.model import EXPIRY_WINDOWS, Provenance, Review, Row, ends_within

#: Content-Security-Policy: the page may run its own inline script and style, and fetch
#: nothing (no image, font, script, frame or connection).
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

#: (heading, sort kind) of the table's columns, in order.
COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("User", "text"),
    ("Type", "text"),
    ("Enabled", "text"),
    ("Expires", "text"),
    ("Login", "text"),
    ("Roles", "text"),
    ("Categories", "text"),
    ("Privileges", "text"),
    ("Managed", "text"),
    ("Drift", "text"),
    ("Why", "text"),
    ("Findings", "number"),
    ("Last change", "text"),
)
#: The filter choices: (value, label); a row carries the values that apply to it.
SHOW: Final[tuple[tuple[str, str], ...]] = (
    ("all", "all users"),
    ("findings", "with policy findings"),
    ("drift", "drifted from the repository"),
    ("unmanaged", "not declared in the repository"),
    ("admin", "administrators"),
    ("expiring", f"access ending within {max(EXPIRY_WINDOWS)} days"),
)
_CHART_ITEMS: Final = 12


def _head(review: Review) -> str:
    """Everything before the first user's row."""
    s = review.summary
    title = f"Access review · {review.server} · {review.date}"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="pisync review">',
        f"<title>{esc(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        "<h1>Access review</h1>",
        f'<p class="meta">Server <code>{esc(review.server)}</code> · as of'
        f' <time datetime="{esc(review.date)}">{esc(review.date)}</time> · {s.users} users'
        f" ({s.enabled} enabled)</p>",
    ]
    if not review.provenance or review.provenance_note:
        note = review.provenance_note or "not available"
        parts.append(f'<p class="note"><strong>Provenance:</strong> {esc(note)}</p>')
    if not review.approvals.asked and review.approvals.note:
        parts.append(
            f'<p class="note"><strong>Approvals:</strong> {esc(review.approvals.note)}</p>'
        )
    parts += ["</header>", _cards(review), _charts(review), _policies(review)]
    parts += [manifest_section(review), privileged_section(review), since_section(review)]
    parts += [decisions_section(review), _table_head(review)]
    return "\n".join(p for p in parts if p) + "\n"


def _tail(review: Review) -> str:
    return (
        "\n".join(
            [
                "</tbody></table></section>",
                commits_section(review),
                "<footer>Made by <code>pisync review</code>. This file is self-contained: it makes"
                " no network request.</footer>",
                f"<script>{_SCRIPT}</script>",
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )


def render_html(review: Review) -> str:
    """The review as one HTML document (see the module docstring), its rows held."""
    return render(HTML, review)


# --- summary -------------------------------------------------------------------------------


def _cards(review: Review) -> str:
    s = review.summary
    errors, warnings = s.violations["error"], s.violations["warning"]
    cards = [
        (len(s.administrators), "administrators", "admin", False),
        (len(s.unmanaged), "unmanaged users", "unmanaged", bool(s.unmanaged)),
        (len(s.drifted), "drifted users", "drift", bool(s.drifted)),
        (len(s.expired_but_enabled), "expired but enabled", "", bool(s.expired_but_enabled)),
        (len(s.reviews_overdue), "reviews overdue", "", bool(s.reviews_overdue)),
        (errors, f"policy errors ({warnings} warnings)", "findings", bool(errors)),
    ]
    items = []
    for number, label, flag, alarm in cards:
        attrs = f' data-show="{flag}"' if flag else ""
        cls = "card alarm" if alarm else "card"
        items.append(
            f'<div class="{cls}"{attrs}><span class="n">{number}</span>'
            f'<span class="l">{esc(label)}</span></div>'
        )
    lists = []
    for title, codes in (
        ("Administrators", s.administrators),
        ("Expired but still enabled", s.expired_but_enabled),
        ("Reviews overdue", s.reviews_overdue),
        ("Declared but not on the server", s.declared_missing),
    ):
        if codes:
            shown = ", ".join(f"<code>{esc(c)}</code>" for c in codes[:50])
            more = f" and {len(codes) - 50} more" if len(codes) > 50 else ""
            lists.append(f"<p><strong>{esc(title)}:</strong> {shown}{more}</p>")
    return (
        '<section class="summary" aria-label="Summary">'
        + '<div class="cards">'
        + "".join(items)
        + "</div>"
        + "".join(lists)
        + "</section>"
    )


def _charts(review: Review) -> str:
    s = review.summary
    roles = [(name, n) for name, n in s.by_role.items()]
    shown = roles[:_CHART_ITEMS]
    if len(roles) > _CHART_ITEMS:
        rest = sum(n for _, n in roles[_CHART_ITEMS:])
        shown.append((f"{len(roles) - _CHART_ITEMS} more roles", rest))
    expiring = [(f"within {w} days", s.expiring[w]) for w in EXPIRY_WINDOWS]
    return (
        '<section class="charts" aria-label="Charts">'
        + _bar_chart("Users per role (enabled holders)", shown)
        + _bar_chart("Users per type", list(s.by_type.items()))
        + _bar_chart("Access ending soon (enabled users)", expiring)
        + "</section>"
    )


def _bar_chart(title: str, items: Sequence[tuple[str, int]]) -> str:
    """A horizontal bar chart as inline SVG: a label, a bar and the number per item."""
    width, label_w, bar_h, gap = 420, 150, 16, 6
    top = max((n for _, n in items), default=0) or 1
    height = max(1, len(items)) * (bar_h + gap) + gap
    rows = []
    for i, (label, n) in enumerate(items):
        y = gap + i * (bar_h + gap)
        bar = round((width - label_w - 50) * n / top)
        short = label if len(label) <= 22 else label[:21] + "…"
        rows.append(
            f"<g><title>{esc(label)}: {n}</title>"
            f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar}" height="{bar_h}" rx="2"></rect>'
            f'<text x="{label_w + bar + 4}" y="{y + bar_h - 4}">{n}</text></g>'
        )
    if not items:
        rows.append(f'<text x="{gap}" y="{bar_h}">none</text>')
    return (
        f'<figure><figcaption>{esc(title)}</figcaption><svg class="chart" role="img"'
        f' aria-label="{esc(title)}" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}">{"".join(rows)}</svg></figure>'
    )


def _policies(review: Review) -> str:
    if not review.policies:
        return (
            '<section class="policies"><h2>Policies</h2><p>No <code>policies:</code> are'
            " configured in pisync.yaml.</p></section>"
        )
    by_policy = review.summary.by_policy
    items = "".join(
        f"<li><code>{esc(p)}</code>: {by_policy.get(p, 0)} finding"
        f"{'' if by_policy.get(p, 0) == 1 else 's'}</li>"
        for p in review.policies
    )
    server = "".join(
        f'<li class="{esc(f.severity)}">{esc(f.text)}</li>' for f in review.server_findings
    )
    return (
        '<section class="policies"><h2>Policies</h2>'
        + f"<ul>{items}</ul>"
        + (f'<ul class="findings">{server}</ul>' if server else "")
        + "</section>"
    )


# --- the table ------------------------------------------------------------------------------


def _table_head(review: Review) -> str:
    options = "".join(f'<option value="{v}">{esc(label)}</option>' for v, label in SHOW)
    n = review.summary.users
    controls = (
        '<div class="controls">'
        '<label class="no-print">Filter <input id="q" type="search"'
        ' placeholder="usercode, role, privilege, finding…" autocomplete="off"></label>'
        f'<label class="no-print">Show <select id="show">{options}</select></label>'
        f'<span id="count" aria-live="polite">{n} of {n} users</span>'
        "</div>"
    )
    heads = "".join(
        f'<th scope="col" data-kind="{kind}"><button type="button">{esc(name)}</button></th>'
        for name, kind in COLUMNS
    )
    return (
        '<section class="users"><h2>Users</h2>'
        + '<p class="muted">Each grant names the change that gave it its current value'
        + " (<code>#N</code>: a pull request; a short hash: a commit); see Changes below.</p>"
        + controls
        + f'<table id="users"><thead><tr>{heads}</tr></thead><tbody>'
    )


def _row(r: Row, context: Context) -> str:
    today = context.today
    flags = ["all"]
    if r.findings:
        flags.append("findings")
    if r.drift:
        flags.append("drift")
    if r.managed == "unmanaged":
        flags.append("unmanaged")
    if r.enabled and (r.super_admin or r.type == "administrator"):
        flags.append("admin")
    if r.enabled and ends_within(r.expires, today, max(EXPIRY_WINDOWS)):
        flags.append("expiring")
    kind = r.type or "unknown"
    tags = _Tags(r, context)
    logins = [g for g in r.grants if g.kind == "login"]
    type_key = str(USER_TYPES.index(kind)) if kind in USER_TYPES else "9"
    cells = [
        _td(
            f"<code>{esc(r.usercode)}</code>"
            + (' <span class="tag">super admin</span>' if r.super_admin else ""),
            r.usercode,
        ),
        _td(esc(kind) + tags.of("type", kind), type_key + kind),
        _td(
            ("yes" if r.enabled else '<span class="bad">no</span>')
            + tags.of("enabled", "true" if r.enabled else "false"),
            "1" if r.enabled else "0",
        ),
        _td(esc(r.expires or "never"), r.expires or "9999-12-31"),
        _td(
            ", ".join(f"<span>{esc(g.name)}</span>{tags.of('login', g.name)}" for g in logins),
            " ".join(g.name for g in logins),
        ),
        _td(
            ", ".join(f"<span>{esc(n)}</span>{tags.of('role', n)}" for n in r.roles),
            "; ".join(r.roles),
        ),
        _td(_access(r.categories, r.direct_categories, r, 0, tags), "; ".join(r.categories)),
        _td(_access(r.privileges, r.direct_privileges, r, 1, tags), "; ".join(r.privileges)),
        _td(esc(r.managed), r.managed),
        _td(_drift(r), "" if r.drift is None else "; ".join(r.drift) or "-"),
        _td(_why(r), r.grant.reason or r.grant.ticket or ""),
        _td(_findings(r), str(len(r.findings))),
        _td(_change(r), r.last_change.date if r.last_change else ""),
    ]
    return f'<tr data-flags="{" ".join(flags)}">' + "".join(cells) + "</tr>\n"


def _td(content: str, key: str) -> str:
    return f'<td data-sort="{esc(key)}">{content}</td>'


class _Tags:
    """Each grant's change as a small tag (its pull request or short hash), the details in
    its title."""

    def __init__(self, r: Row, context: Context) -> None:
        self.by = {(g.kind, g.name.casefold()): g for g in r.grants}
        self.context = context

    def of(self, kind: str, name: str) -> str:
        g = self.by.get((kind, name.casefold()))
        if g is None or g.change is None:
            return ""
        return self.context.once("html-tag", g.change, self._tag, g.change)

    def _tag(self, c: Provenance) -> str:
        title = (
            f"{c.author} · {c.date[:10]} · {c.commit[:10]} · {c.subject} ·"
            f" {self.context.approvals.words(c.pull_request)}"
        )
        return f' <span class="pr" title="{esc(title)}">{esc(c.tag)}</span>'


def _access(names: Sequence[str], direct: Sequence[str], r: Row, kind: int, tags: _Tags) -> str:
    """Each name, with the roles it comes through when it is not granted directly; an
    escalating privilege stands out."""
    out = []
    for name in names:
        via = [role for role, grants in r.through_roles.items() if name in grants[kind]]
        cls = ' class="esc"' if kind == 1 and name in ESCALATING_PRIVILEGES else ""
        text = esc(name)
        if name not in direct and via:
            text += f' <span class="via">via {esc(", ".join(via))}</span>'
        else:
            text += tags.of("category" if kind == 0 else "privilege", name)
        out.append(f"<span{cls}>{text}</span>")
    return ", ".join(out)


def _drift(r: Row) -> str:
    if r.drift is None:
        return ""
    if not r.drift:
        return "none"
    return '<span class="bad">' + esc(", ".join(r.drift)) + "</span>"


def _why(r: Row) -> str:
    g = r.grant
    parts = [] if g.reason is None else [f"<q>{esc(g.reason)}</q>"]
    for label, value in (("ticket", g.ticket), ("owner", g.owner), ("review by", g.review_by)):
        if value is not None:
            parts.append(f"{label} <code>{esc(value)}</code>")
    return "<br>".join(parts)


def _findings(r: Row) -> str:
    return "".join(f'<div class="{esc(f.severity)}">{esc(f.text)}</div>' for f in r.findings)


def _change(r: Row) -> str:
    c = r.last_change
    if c is None:
        return f'<span class="muted">{esc(r.last_change_note or "")}</span>'
    pr = "" if c.pull_request is None else f' <span class="tag">#{c.pull_request}</span>'
    return (
        f'<code title="{esc(c.commit)}">{esc(c.commit[:10])}</code>{pr}<br>'
        f"{esc(c.author)} · {esc(c.date[:10])}<br>"
        f'<span class="muted">{esc(c.subject)}</span>'
    )


_STYLE: Final = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa;
  --bar: #0969da; --bad: #cf222e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1600px; padding: 1.5rem; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
h1 { margin: 0 0 .25rem; font-size: 1.6rem; } h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.meta, .muted, footer { color: var(--muted); }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .75rem; border-radius: 6px; }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .6rem 1rem; min-width: 9rem;
  background: var(--soft); }
.card .n { display: block; font-size: 1.6rem; font-weight: 600; }
.card .l { color: var(--muted); }
.card.alarm .n { color: var(--bad); }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .25rem; }
svg.chart text { font-size: 11px; fill: var(--ink); }
svg.chart rect { fill: var(--bar); }
.controls { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: .5rem 0; }
input[type=search] { width: 22rem; padding: .3rem .5rem; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .45rem; text-align: left;
  vertical-align: top; }
th { position: sticky; top: 0; background: #fff; }
th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0;
  cursor: pointer; color: inherit; }
th[aria-sort=ascending] button::after { content: " ▲"; }
th[aria-sort=descending] button::after { content: " ▼"; }
tbody tr:nth-child(even) { background: var(--soft); }
.via, .muted { color: var(--muted); font-size: 11.5px; }
.tag { display: inline-block; border: 1px solid var(--line); border-radius: 1em;
  padding: 0 .45em; font-size: 11px; }
.bad, .error { color: var(--bad); } .warning { color: var(--warn); }
.esc { font-weight: 600; color: var(--bad); }
.good { color: #1a7f37; }
.pr { display: inline-block; border: 1px solid var(--line); border-radius: 4px;
  padding: 0 .3em; font-size: 10.5px; color: var(--muted); cursor: help; }
section table:not(#users) { width: auto; margin: .5rem 0; }
.side { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
table.counts td, table.facts td { padding: .15rem .45rem; }
details { margin: .5rem 0; }
.card[data-show] { cursor: pointer; }
#users td:nth-child(11) { min-width: 9rem; } #users td:nth-child(12) { min-width: 11rem; }
#users td:nth-child(13) { min-width: 10rem; }
td .error, td .warning, .findings li { border-left: 3px solid; padding-left: .4rem;
  margin-bottom: .3rem; }
footer { margin-top: 2rem; font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .no-print { display: none !important; }
  th { position: static; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  table { font-size: 8pt; }
  .charts figure { break-inside: avoid; }
  .card { background: none; }
}
"""

# The page's own behaviour: sort and filter the table it already holds. Kept in ES5 so that
# any browser an auditor has opens it; reads only the DOM, never data embedded here.
_SCRIPT: Final = """
(function () {
  "use strict";
  var table = document.getElementById("users");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var query = document.getElementById("q");
  var show = document.getElementById("show");
  var count = document.getElementById("count");
  var state = { col: 0, dir: 1 };

  function key(row, col) {
    var cell = row.cells[col];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  function compare(a, b, kind) {
    if (kind === "number") { return (parseFloat(a) || 0) - (parseFloat(b) || 0); }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function sort(col, dir) {
    var kind = heads[col].getAttribute("data-kind");
    rows.sort(function (x, y) {
      var c = compare(key(x, col), key(y, col), kind);
      return c !== 0 ? c * dir : compare(key(x, 0), key(y, 0), "text");
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads.forEach(function (th, i) {
      if (i === col) { th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    state.col = col; state.dir = dir;
  }
  function filter() {
    var text = query.value.trim().toLowerCase();
    var flag = show.value;
    var shown = 0;
    rows.forEach(function (row) {
      var flags = " " + row.getAttribute("data-flags") + " ";
      var ok = flags.indexOf(" " + flag + " ") >= 0 &&
        (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " users";
  }
  function save() {
    var parts = ["sort=" + state.col + ":" + (state.dir > 0 ? "asc" : "desc")];
    if (query.value) { parts.push("q=" + encodeURIComponent(query.value)); }
    if (show.value !== "all") { parts.push("show=" + show.value); }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + parts.join("&"));
    }
  }
  function load() {
    var hash = window.location.hash.replace(/^#/, "");
    var col = 0, dir = 1;
    hash.split("&").forEach(function (part) {
      var eq = part.indexOf("="), name = part.slice(0, eq), value = part.slice(eq + 1);
      if (eq < 0) { return; }
      if (name === "sort") {
        var bits = value.split(":");
        col = Math.max(0, Math.min(heads.length - 1, parseInt(bits[0], 10) || 0));
        dir = bits[1] === "desc" ? -1 : 1;
      } else if (name === "q") {
        query.value = decodeURIComponent(value);
      } else if (name === "show" && show.querySelector("option[value='" + value + "']")) {
        show.value = value;
      }
    });
    sort(col, dir);
    filter();
  }
  heads.forEach(function (th, i) {
    th.querySelector("button").addEventListener("click", function () {
      sort(i, state.col === i ? -state.dir : 1);
      save();
    });
  });
  query.addEventListener("input", function () { filter(); save(); });
  show.addEventListener("change", function () { filter(); save(); });
  Array.prototype.forEach.call(document.querySelectorAll(".card[data-show]"), function (card) {
    card.addEventListener("click", function () {
      show.value = card.getAttribute("data-show");
      filter();
      save();
      table.scrollIntoView();
    });
  });
  load();
})();
"""

HTML = Format(head=_head, row=_row, tail=_tail)
