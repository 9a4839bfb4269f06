"""The plan as text: pure functions, no colour codes, no terminal.

The plan is computed once (:func:`reconciler.core.diff.changes.diff`) and rendered three ways
(this module; :mod:`~reconciler.core.render.plan_markdown`;
:mod:`~reconciler.core.render.plan_json`).
Colour is the shell's business: :func:`text_lines` returns lines of ``(text, style)``
segments, the shell turns each into a ``rich.text.Text`` (never markup, so user data cannot
inject any), and :func:`render_text` is the same lines joined without styles.

Text (SPEC §4.1)::

    pisync will perform these actions against https://pi.example.com:8224/pi/api/v2:

      + role "Finance Viewer"
          categories: [Budgets, Finance]

      ~ user JSMITH
          ~ email:      "j.smith@example.com" -> "john.smith@example.com"
          + roles:      "Finance Viewer"
          - categories: "Sales"

      - user OLDUSER  (disable)

    Effective access changes:
        JSMITH gains role "Finance Viewer" (categories Budgets, Finance); loses category Sales
          why: "Month-end close"; ticket SEC-123; owner ashah; review by 2027-03-31
        OLDUSER is disabled, losing all access; loses privilege pdf

    Plan: 1 to create, 1 to update, 1 to disable, 0 to delete.

Format decisions:

- **Values.** A value that stands alone (a scalar, one element added to or removed from a
  set) is written as JSON: ``"text"``, ``true``, ``null``. Inside brackets or braces
  (a whole list on a create line, a restriction) names are written bare — ``[Budgets,
  Finance]``, ``{connection: Sales DB, column: Region, values: [East, North]}`` — unless a
  name is empty, has surrounding or non-printing whitespace, or contains one of ``,[]{}"``;
  then it is JSON-quoted too, so a list can always be read back unambiguously. Role names
  are always quoted (``role "Finance Viewer"``), usercodes bare by the same rule.
  Non-printing characters (controls, bidi overrides, line separators) are always escaped
  as ``\\uXXXX``: user data can neither break a line nor disguise itself.
- **Creates** list every planned field ``name: value``, without a symbol; **updates** list
  ``~ name: before -> after`` for a scalar, and for a set one ``- name: element`` per removed
  element then one ``+ name: element`` per added one (roles and categories compared
  case-insensitively, as the diff does). A variable is its own field ``variables.NAME``.
  A sensitive field never shows a value: ``(sensitive)`` when added, removed or created,
  ``(sensitive value changed)`` when changed. Field names are padded to align within one
  object. Disables and deletes are one line: ``- user OLDUSER  (disable)``.
- **Sections** sit between the changes and the summary line, each only when non-empty, in this
  order: effective access (escalations first, marked ``!`` and ``(privilege escalation)``; under
  a user's sentence, ``why:`` and its grant metadata — the reason, ticket, owner and review date
  of its entry's ``pisync:`` key — or, for an escalation without any, ``why: not recorded``),
  expiring access (expired-but-enabled marked ``!``), ``Note:`` and ``Warning:`` lines, the
  policy findings (errors marked ``!``, as ``pisync validate`` words them, or one line naming
  the policies checked when none is violated), then the safety guards. The summary line ``Plan:
  …`` stays the last line, as in Terraform, so a reader or a script finds the totals in one
  place. A partial plan (``--target``) says so in a ``Note:`` line right under the header,
  before anything else can be misread as the whole picture.
- **Empty plan**: exactly ``No changes. Panintelligence matches the desired state.``; if
  there is a partial-plan note, an expiry or a warning, those come first and the message
  stays the last line.
- Every rendered string ends with a newline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from reconciler.core.plans.plan import (
    Action,
    Change,
    Counts,
    Plan,
    PolicyFinding,
)
from reconciler.core.render.markup import bare, printable, quote
from reconciler.core.render.rows import Line, Segment, field_rows, heading, name_width, row_segments
from reconciler.core.render.sentences import (
    NO_CHANGES,
    Names,
    access_order,
    access_sentence,
    checked_note,
    expiry_sentence,
    partial_sentences,
    plural,
    user_actions,
    why_line,
)

_ACTION_SYMBOL_STYLE: Final = {
    Action.CREATE: "create",
    Action.UPDATE: "update",
    Action.DISABLE: "delete",
    Action.DELETE: "delete",
}
_FIELD_INDENT: Final = "      "


def quiet_line(plan: Plan) -> str:
    """The plan in one line (``-q``): the summary line, or that there is nothing to do."""
    if plan.empty:
        return NO_CHANGES
    line = text_summary_line(plan.counts)
    return f"{line} (partial plan)" if plan.partial else line


def text_summary_line(counts: Counts) -> str:
    """``Plan: 1 to create, 0 to update, 0 to disable, 0 to delete.``"""
    return "".join(text for text, _ in _text_summary(counts))


def _guards_heading(plan: Plan) -> str:
    if plan.forced:
        return "Safety guards overridden by --force:"
    return "Blocked by safety guards (pisync apply refuses this plan; --force overrides):"


# --- text ------------------------------------------------------------------------------------


_TEXT_NAMES: Final = Names(user=bare, role=quote, item=bare)


def text_lines(plan: Plan) -> list[Line]:
    """The text plan as styled lines (see the module docstring for the layout)."""
    return list(iter_text_lines(plan))


def iter_text_lines(plan: Plan) -> Iterator[Line]:
    """:func:`text_lines` one at a time: a plan of 50,000 creates is printed without holding
    its 800,000 lines."""
    if not plan.empty:
        yield _text_header(plan)
        yield ()
    for note in partial_sentences(plan, bare):
        yield (("Note: ", "warning"), (note, None))
        yield ()
    for change in plan.changes:
        yield from _text_object(change)
        yield ()
    yield from _text_sections(plan)
    yield _text_summary(plan.counts) if not plan.empty else ((NO_CHANGES, None),)


def render_text(plan: Plan) -> str:
    """:func:`text_lines` as plain text, one ``\\n``-terminated line each."""
    return "".join("".join(text for text, _ in line) + "\n" for line in iter_text_lines(plan))


def _text_header(plan: Plan) -> Line:
    if not plan.server:
        return (("pisync will perform these actions:", None),)
    return (
        ("pisync will perform these actions against ", None),
        (printable(plan.server), "heading"),
        (":", None),
    )


def _text_object(change: Change) -> list[Line]:
    symbol = change.action.symbol
    head: Line = (
        ("  ", None),
        (symbol, _ACTION_SYMBOL_STYLE[change.action]),
        (" ", None),
        (heading(change), "heading"),
    )
    rows = field_rows(change)
    width = name_width(rows)
    return [head] + [((_FIELD_INDENT, None), *row_segments(r, width, r.symbol)) for r in rows]


def _text_sections(plan: Plan) -> list[Line]:
    lines: list[Line] = []
    if plan.access:
        actions = user_actions(plan)
        lines.append((("Effective access changes:", "heading"),))
        for a in access_order(plan):
            sentence = access_sentence(a, actions.get(a.usercode), _TEXT_NAMES)
            if a.escalation:
                lines.append(_marked(sentence, ("  (privilege escalation)", "warning")))
            else:
                lines.append((("    ", None), (sentence, None)))
            why = why_line(a, _TEXT_NAMES, quote)
            if why is not None:
                lines.append(((_FIELD_INDENT + "why: ", None), (why, None)))
        lines.append(())
    if plan.expiring:
        lines.append((("Expiring access:", "heading"),))
        for e in plan.expiring:
            sentence, warn = expiry_sentence(e, _TEXT_NAMES)
            lines.append(_marked(sentence) if warn else (("    ", None), (sentence, None)))
        lines.append(())
    if plan.notes:
        lines += [(("Note: ", None), (printable(n), None)) for n in plan.notes]
        lines.append(())
    if plan.warnings:
        lines += [(("Warning: ", "warning"), (printable(w), None)) for w in plan.warnings]
        lines.append(())
    lines += _text_policy(plan)
    if plan.guards:
        lines.append(((_guards_heading(plan), "warning" if plan.forced else "delete"),))
        lines += [_marked(printable(str(g))) for g in plan.guards]
        lines.append(())
    return lines


def policy_heading(plan: Plan) -> str:
    errors = len(plan.policy_errors)
    if errors:
        return (
            f"Policy violations ({plural(errors, 'error')}; pisync apply refuses this plan and"
            " --force does not override them):"
        )
    return "Policy warnings (they do not block the plan):"


def finding_line(finding: PolicyFinding) -> str:
    """``users/a.yaml:2:5: error: policy NAME: message`` (as ``pisync validate`` prints it)."""
    where = "" if finding.source is None else f"{finding.source}: "
    return printable(f"{where}{finding.severity}: {finding.text}")


def _text_policy(plan: Plan) -> list[Line]:
    """The Policy section: errors first (marked ``!``), then warnings; or one line saying
    the checked policies pass."""
    if not plan.findings:
        return [((checked_note(plan), None),), ()] if plan.policies else []
    errors = plan.policy_errors
    lines: list[Line] = [((policy_heading(plan), "delete" if errors else "warning"),)]
    lines += [_marked(finding_line(f)) for f in errors]
    lines += [
        (("    ", None), (finding_line(f), None)) for f in plan.findings if f.severity != "error"
    ]
    lines.append(())
    return lines


def _marked(sentence: str, *tail: Segment) -> Line:
    return (("  ", None), ("!", "warning"), (" ", None), (sentence, None), *tail)


def _text_summary(counts: Counts) -> Line:
    return (
        ("Plan: ", "heading"),
        (f"{counts.create} to create", "create"),
        (", ", None),
        (f"{counts.update} to update", "update"),
        (", ", None),
        (f"{counts.disable} to disable", "delete"),
        (", ", None),
        (f"{counts.delete} to delete", "delete"),
        (".", None),
    )
