"""Issues (``pisync validate``'s report) printed three ways.

Renderers (pure; each returns a string that ends with a newline). The formats are stable:
the CLI's golden tests pin them.

Text (:func:`render_text`), one line per issue (the first example is one line), then one
summary line::

    users/a.yaml:4:5: error: duplicate usercode "JSMITH"; first declared at users/a.yaml:1:5 \
    (at users[1].usercode)
    error: no desired-state files found: ...
    note: 3 role references name 2 roles that no file declares; ...
    2 errors, 1 warning in 2 of 3 files.

The ``(at …)`` suffix is the key path inside the file (omitted when empty). A ``note:`` line
says what the check could not settle (not a problem: it never fails validation). The summary
line is :func:`summary_line`.

JSON (:func:`render_json`), one object, keys in this order::

    {"format_version": 1, "valid": false,
     "counts": {"errors": 2, "warnings": 1, "files": 3, "files_with_issues": 2,
                "users": 120, "roles": 4},
     "issues": [{"severity": "error", "file": "users/a.yaml", "line": 4, "col": 5,
                 "key_path": "users[1].usercode", "message": "..."}],
     "notes": ["3 role references name 2 roles that no file declares; ..."]}

``file``/``line``/``col`` are ``null`` for an issue that belongs to no file. ``valid`` is
true when there are no errors (warnings allowed).

GitHub (:func:`render_github`): workflow commands that GitHub turns into annotations::

    ::error file=users/a.yaml,line=4,col=5,title=pisync::duplicate usercode …(at users[1].usercode)

At most :data:`GITHUB_ANNOTATIONS_PER_SEVERITY` issues of each severity become annotations
(GitHub shows no more per step); the rest are printed as text lines in their place, then one
line says how many were not annotated, then the notes, then the summary line. Escaping follows
actions/toolkit ``command.ts``, and nothing from user data can start a command of its own
(:func:`~reconciler.core.render.markup.neutralise_commands`); :func:`github_lines` says which
lines are pisync's own commands, so that the shell keeps every other line out of the
runner's reach.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.core.model.issues import (
    Issue,
    Stats,
    count,
    format_issue,
    sort_issues,
)
from reconciler.core.render.markup import (
    escape_data,
    escape_property,
    neutralise_commands,
    printable,
)

#: GitHub shows at most 10 error and 10 warning annotations per step.
GITHUB_ANNOTATIONS_PER_SEVERITY = 10
JSON_FORMAT_VERSION = 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(issues: Sequence[Issue], stats: Stats) -> str:
    """The last line of every report.

    - with errors: ``2 errors, 1 warning in 2 of 3 files.`` (``in …`` omitted when no file
      has an issue, e.g. when no files were found);
    - without errors: ``All 3 files valid: 120 users, 4 roles.``, with ``(1 warning)`` after
      ``valid`` when there are warnings; ``1 file valid: …`` for a single file.
    """
    errors, warnings = count(issues)
    declared = f"{_plural(stats.users, 'user')}, {_plural(stats.roles, 'role')}."
    if errors == 0:
        files = "1 file" if stats.files == 1 else f"All {stats.files} files"
        noted = f" ({_plural(warnings, 'warning')})" if warnings else ""
        return f"{files} valid{noted}: {declared}"
    counts = _plural(errors, "error")
    if warnings:
        counts += f", {_plural(warnings, 'warning')}"
    with_issues = len({i.pos.file for i in issues if i.pos is not None})
    if with_issues == 0:
        return f"{counts}."
    return f"{counts} in {with_issues} of {_plural(stats.files, 'file')}."


def render_text(
    issues: Sequence[Issue], stats: Stats, *, quiet: bool = False, notes: Sequence[str] = ()
) -> str:
    """One line per issue (sorted; ``quiet``: errors only), the notes (not when ``quiet``),
    then :func:`summary_line`."""
    ordered = sort_issues(issues)
    lines = [issue_line(i) for i in ordered if not quiet or i.severity == "error"]
    lines += _note_lines(notes, quiet)
    lines.append(summary_line(ordered, stats))
    return "\n".join(lines) + "\n"


def _note_lines(notes: Sequence[str], quiet: bool) -> list[str]:
    return [] if quiet else [printable(f"note: {n}") for n in notes]


def issue_line(issue: Issue) -> str:
    """One issue as a line of text: ``path:line:col: severity: message (at key.path)``, every
    non-printing character escaped (a message quoting user data cannot break the line)."""
    return printable(format_issue(issue))


def render_json(issues: Sequence[Issue], stats: Stats, *, notes: Sequence[str] = ()) -> str:
    """The JSON report described in the module docstring (indented by 2, UTF-8 kept)."""
    ordered = sort_issues(issues)
    errors, warnings = count(ordered)
    doc = {
        "format_version": JSON_FORMAT_VERSION,
        "valid": errors == 0,
        "counts": {
            "errors": errors,
            "warnings": warnings,
            "files": stats.files,
            "files_with_issues": len({i.pos.file for i in ordered if i.pos is not None}),
            "users": stats.users,
            "roles": stats.roles,
        },
        "issues": [_issue_json(i) for i in ordered],
        "notes": list(notes),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _issue_json(issue: Issue) -> dict[str, object]:
    p = issue.pos
    return {
        "severity": issue.severity,
        "file": None if p is None else p.file,
        "line": None if p is None else p.line,
        "col": None if p is None else p.col,
        "key_path": issue.key_path,
        "message": issue.message,
    }


def github_annotation(issue: Issue) -> str:
    """``::error file=…,line=…,col=…,title=pisync::message (at key.path)``."""
    props = []
    if issue.pos is not None:
        props += [
            f"file={escape_property(neutralise_commands(issue.pos.file))}",
            f"line={issue.pos.line}",
            f"col={issue.pos.col}",
        ]
    props.append("title=pisync")
    at = f" (at {issue.key_path})" if issue.key_path else ""
    message = escape_data(neutralise_commands(issue.message + at))
    return f"::{issue.severity} {','.join(props)}::{message}"


#: One output line: whether it is one of pisync's own workflow commands, and its text.
GithubLine = tuple[bool, str]


def github_lines(
    issues: Sequence[Issue], stats: Stats, *, quiet: bool = False, notes: Sequence[str] = ()
) -> list[GithubLine]:
    """Annotations for the first 10 issues of each severity, text lines for the rest.

    After the issues: ``N more issues were printed without annotations (GitHub shows at most
    10 errors and 10 warnings per step).`` when any were not annotated, then the summary line.
    ``quiet``: the errors only (the summary line still counts the warnings).
    """
    ordered = sort_issues(issues)
    shown = {"error": 0, "warning": 0}
    lines: list[GithubLine] = []
    plain = 0
    for issue in ordered:
        if quiet and issue.severity != "error":
            continue
        if shown[issue.severity] < GITHUB_ANNOTATIONS_PER_SEVERITY:
            shown[issue.severity] += 1
            lines.append((True, github_annotation(issue)))
        else:
            plain += 1
            lines.append((False, neutralise_commands(issue_line(issue))))
    if plain:
        n = GITHUB_ANNOTATIONS_PER_SEVERITY
        lines.append(
            (
                False,
                f"{_plural(plain, 'more issue')} {'was' if plain == 1 else 'were'} printed"
                f" without annotations (GitHub shows at most {n} errors and {n} warnings per"
                " step).",
            )
        )
    lines += [(False, neutralise_commands(n)) for n in _note_lines(notes, quiet)]
    lines.append((False, summary_line(ordered, stats)))
    return lines


def render_github(
    issues: Sequence[Issue], stats: Stats, *, quiet: bool = False, notes: Sequence[str] = ()
) -> str:
    """:func:`github_lines` as text, one ``\\n``-terminated line each."""
    lines = github_lines(issues, stats, quiet=quiet, notes=notes)
    return "".join(line + "\n" for _, line in lines)
