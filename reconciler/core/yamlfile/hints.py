"""Syntax errors from the YAML parser, as an Issue a person can act on: the parser's line and
column, its complaint, and a hint for the most common ones (tabs, unquoted colons,
indentation, unclosed quotes)."""

from __future__ import annotations

from yaml.error import MarkedYAMLError

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import SourcePos

# Hints for libyaml's most common complaints, keyed by a fragment of its problem text.
_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': '"),
    ("found unexpected ':'", "quote a value that contains ':'"),
    ("did not find expected key", "check this line's indentation"),
    ("did not find expected '-' indicator", "check this line's indentation"),
    ("could not find expected ':'", "a key needs ': ' after it, or quote the text"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("found undefined alias", "aliases are not supported: write the value out in full"),
)


def syntax_issue(exc: MarkedYAMLError, file: str, text: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    col = mark.column + 1 if mark is not None else 1
    tab_col = _indent_tab(text, line)
    if tab_col is not None:
        return error(
            SourcePos(file=file, line=line, col=tab_col),
            "a tab is used for indentation; YAML indents with spaces only: replace it with spaces",
        )
    problem = str(exc.problem or exc.context or "unreadable YAML").strip()
    message = f"invalid YAML: {problem}"
    for fragment, hint in _HINTS:
        if fragment in problem:
            message += f" ({hint})"
            break
    ctx = exc.context_mark
    if exc.context and ctx is not None and (ctx.line, ctx.column) != (line - 1, col - 1):
        message += f"; {exc.context} that starts at line {ctx.line + 1}, column {ctx.column + 1}"
    return error(SourcePos(file=file, line=line, col=col), message)


def _indent_tab(text: str, line: int) -> int | None:
    """The 1-based column of a tab in the leading whitespace of ``line``, if there is one."""
    lines = text.split("\n", line)
    if len(lines) < line:
        return None
    row = lines[line - 1]
    indent = row[: len(row) - len(row.lstrip(" \t"))]
    at = indent.find("\t")
    return None if at < 0 else at + 1
