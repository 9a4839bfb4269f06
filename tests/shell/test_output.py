"""The output edge (issue 19): secrets hidden in every encoding pisync writes, as whole tokens,
fast on large outputs; under GitHub Actions every block of free text inside a stop-commands
block, every command-looking line broken, pisync's own commands outside."""

from __future__ import annotations

import io
import re
import time

import pytest

from reconciler.shell import output
from reconciler.shell.output import GuardedStream, Redactor


def test_a_secret_is_hidden_in_every_encoding_and_only_as_a_whole_token() -> None:
    r = Redactor()
    r.add_credentials(["pa%ss\nword", "dashboard"])
    assert r('x pa%ss\nword y "pa%ss\\nword" pa%25ss%0Aword') == 'x *** y "***" ***'
    assert r("dashboard dashboards my_dashboard dashboard.") == "*** dashboards my_dashboard ***."
    r.add(["abc"])  # too short to hide: it would hide ordinary words
    assert r("abc") == "abc"


def test_claims_keep_variable_values_but_never_credentials() -> None:
    r = Redactor()
    r.add_credentials(["token-1234"])
    r.add(["region-value"])
    with r.credentials_only():
        assert r("token-1234 region-value") == "*** region-value"
    assert r("token-1234 region-value") == "*** ***"


def test_hiding_a_large_output_is_cheap() -> None:
    r = Redactor()
    r.add_credentials(["dashboard-secret-pw"])
    r.add(["db-s3cret-value-42"])
    text = '      ~ email: "j.smith@example.com" -> "john.smith@example.com"\n' * 300_000
    started = time.perf_counter()
    assert r(text) is text  # nothing to hide: the same string, after one search per form
    assert time.perf_counter() - started < 1.0


@pytest.fixture
def stream() -> GuardedStream:
    output.REDACTOR.reset()
    guarded = GuardedStream(io.StringIO())
    guarded.actions = output._Actions()
    return guarded


def test_free_text_under_actions_is_one_block_and_commands_end_it(stream: GuardedStream) -> None:
    stream.write("::set-output name=x::y\n  ::warning::z\nok ##[error]e\n")
    stream.command("::error file=a,line=1,col=1,title=pisync::m")
    stream.write("after")
    stream.finish()
    text = stream.raw.getvalue()  # type: ignore[attr-defined]
    tokens = re.findall(r"::stop-commands::([0-9a-f]{32})\n", text)
    assert len(tokens) == 2
    assert tokens[0] != tokens[1]
    assert text == (
        f"::stop-commands::{tokens[0]}\n"
        "\u2060::set-output name=x::y\n  \u2060::warning::z\nok #\u2060#[error]e\n"
        f"::{tokens[0]}::\n"
        "::error file=a,line=1,col=1,title=pisync::m\n"
        f"::stop-commands::{tokens[1]}\n"
        "after\n"
        f"::{tokens[1]}::\n"
    )


def test_text_written_in_pieces_is_hidden_and_neutralised_by_whole_lines(
    stream: GuardedStream,
) -> None:
    # a plan printed a change at a time (sys.stdout.writelines): pieces end anywhere in a line
    output.REDACTOR.add_credentials(["dashboard-secret-pw"])
    pieces = [
        '{\n  "a": "dashboard-',
        'secret-pw",\n  "b": "#',
        "#[error]x",
        '"\n',
        "::warning::y\n",
    ]
    stream.writelines(pieces)
    stream.finish()
    text = stream.raw.getvalue()  # type: ignore[attr-defined]
    token = re.findall(r"::stop-commands::([0-9a-f]{32})\n", text)[0]
    assert text == (
        f"::stop-commands::{token}\n"
        '{\n  "a": "***",\n  "b": "#\u2060#[error]x"\n\u2060::warning::y\n'
        f"::{token}::\n"
    )
    output.REDACTOR.reset()


def test_a_streamed_output_is_redacted_in_blocks_of_whole_lines() -> None:
    output.REDACTOR.reset()
    output.REDACTOR.add_credentials(["dashboard-secret-pw"])
    line = '    "email": "dashboard-secret-pw",\n'
    pieces = [c for _ in range(5_000) for c in (line[:20], line[20:])]  # 180 KB in 40 pieces
    blocks = list(output.redact_stream(pieces))
    assert len(blocks) > 1  # never the whole text at once
    assert all(b.endswith("\n") for b in blocks)
    assert "".join(blocks) == '    "email": "***",\n' * 5_000
    output.REDACTOR.reset()


def test_bytes_hold_a_secret_only_where_it_would_be_hidden() -> None:
    r = Redactor()
    r.add(["db-s3cret-value-42"])
    assert r.holds(b'{"message": "email \\"db-s3cret-value-42\\" is not valid"}')
    assert r.holds('{"k": "Zoë db-s3cret-value-42"}'.encode())
    assert not r.holds(b'{"k": "db-s3cret-value-42x"}')  # another word, as redact() sees it
    assert not r.holds(b'{"k": "nothing here"}')
