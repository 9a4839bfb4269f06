"""The one escaping module: each context's escape, exactly, for what user data can hold."""

from __future__ import annotations

import csv
import io

import pytest

from reconciler.core.render.markup import (
    bare,
    csv_cell,
    csv_row,
    csv_value,
    escape_data,
    escape_property,
    html_escape,
    html_text,
    md_code,
    md_fence,
    md_text,
    printable,
    quote,
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("a\nb", "a\\u000ab"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tag\U000e0041", "tag\\udb40\\udc41"),  # beyond U+FFFF: a surrogate pair, as JSON
    ],
)
def test_terminal_text_escapes_every_non_printing_character(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_names_are_bare_only_when_unambiguous() -> None:
    assert bare("Finance") == "Finance"
    assert [bare(n) for n in ("", " x", "a,b", 'q"', "x\ty")] == [
        '""',
        '" x"',
        '"a,b"',
        '"q\\""',
        '"x\\ty"',
    ]
    assert quote("a\u202eb") == '"a\\u202eb"'


def test_a_code_span_holds_anything_and_escapes_a_pipe_only_in_a_table() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"
    assert md_code("a|b") == "`a|b`"
    assert md_code("a|b", in_table=True) == "`a\\|b`"
    assert md_fence("```inside") == "````"
    assert md_fence("none") == "```"


def test_free_markdown_text_escapes_every_mark_that_can_mean_something_mid_line() -> None:
    assert md_text("a*b_c [x](y) <b> | ~ # ! & $ : { } + = ^ \\ `") == (
        "a\\*b\\_c \\[x\\](y) \\<b\\> \\| \\~ \\# \\! \\& \\$ \\: \\{ \\} \\+ \\= \\^ \\\\ \\`"
    )
    assert md_text("https://x.test") == "https\\://x.test"  # no autolink
    assert md_text("a\nb") == "a\\\\u000ab"  # rendered: a\u000ab


def test_html_content_and_attributes() -> None:
    assert html_text('<a href="x">&</a>') == '&lt;a href="x"&gt;&amp;&lt;/a&gt;'
    assert html_escape('"><script>') == "&quot;&gt;&lt;script&gt;"
    assert html_escape(3) == "3"


def test_a_formula_at_the_start_of_a_csv_cell_is_quoted() -> None:
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok", None, True)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        "",
        "true",
    ]


def test_a_csv_record_quotes_what_could_split_it_and_reads_back_exactly() -> None:
    values = ["plain", "a,b", 'say "hi"', "bare\rcr", "line\nfeed", "\rstarts", "'quoted", None]
    line = csv_row(values)
    assert line == ('plain,"a,b","say ""hi""","bare\rcr","line\nfeed","\'\rstarts",\'\'quoted,\n')
    (cells,) = list(csv.reader(io.StringIO(line, newline="")))
    assert [csv_value(c) for c in cells] == [*values[:-1], ""]
    assert csv_value("'not a guard") == "'not a guard"  # only before what it guards


def test_workflow_commands_are_escaped_as_actions_toolkit_does() -> None:
    assert escape_data("50%\r\n::error::x") == "50%25%0D%0A::error::x"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
