"""What the adapter reads from a status: server text made printable and bounded, HTML pages
reduced to their status and title, redirects named with the address to use instead."""

from __future__ import annotations

import json

import pytest

from reconciler.pi import statuses
from reconciler.pi.messages import Reply, Request

SYNC = Request(method="POST", path="/users/sync", body=[{}])
SENT_TO = "https://pi.example.com:8224/pi/api/v2/users/sync"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain words", "plain words"),
        ("two\nlines\r\n and\ttabs", "two lines and tabs"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bidi \u202eevil", "bidi \\u202eevil"),
        ("::error::x", "::error::x"),  # printable; a line of its own it can never start
        ("", ""),
    ],
)
def test_printable_is_one_line_without_control_characters(text: str, shown: str) -> None:
    assert statuses.printable(text) == shown


def test_printable_is_bounded() -> None:
    assert statuses.printable("x" * 1000, 10) == "x" * 9 + "…"
    assert len(statuses.printable("é" * 5000)) == statuses.MAX_QUOTED
    assert statuses.error_message(Reply(status=400, body=b"y" * 5000)) == "y" * 299 + "…"


def page(status: int, body: str, kind: str = "text/html") -> Reply:
    return Reply(status=status, body=body.encode(), headers={"Content-Type": kind}, host="h:443")


@pytest.mark.parametrize(
    ("reply", "described"),
    [
        (
            page(502, "<html><head><title>502 Bad Gateway</title></head><body>x</body></html>"),
            "h:443 answered 502 Bad Gateway (from a proxy page titled '502 Bad Gateway')",
        ),
        (
            page(504, "<!DOCTYPE html><TITLE lang=en>\n  Gateway\n  Timeout </TITLE>", "x/y"),
            "h:443 answered 504 Gateway Timeout (from a proxy page titled 'Gateway Timeout')",
        ),
        (
            page(404, "<html><body>no title</body></html>"),
            "h:443 answered 404 Not Found (from an HTML page without a title)",
        ),
        (
            page(403, "<title>A &amp; B &lt;3 \x07</title>"),
            "h:443 answered 403 Forbidden (from an HTML page titled 'A & B <3 \\x07')",
        ),
        (page(400, json.dumps({"message": "bad\nrole"}), "application/json"), "HTTP 400: bad role"),
        (page(500, "", "application/json"), "HTTP 500: HTTP 500"),
    ],
)
def test_describe(reply: Reply, described: str) -> None:
    assert statuses.describe(reply) == described


def test_describe_puts_the_attempts_after_the_status() -> None:
    reply = page(502, "<title>Bad</title>")
    assert statuses.describe(reply, " after 6 attempts") == (
        "h:443 answered 502 Bad Gateway after 6 attempts (from a proxy page titled 'Bad')"
    )
    assert statuses.describe(Reply(status=429, body=b"slow"), " after 2 attempts") == (
        "HTTP 429 after 2 attempts: slow"
    )


def test_a_raw_html_page_never_reaches_a_message() -> None:
    reply = page(502, "<html><title>T</title><script>alert(1)</script></html>", "text/html")
    with pytest.raises(Exception, match="titled 'T'") as exc:
        statuses.raise_for_status(reply, SYNC)
    assert "<" not in str(exc.value)


NEVER = (
    "pisync never follows a redirect (it would send the request, credentials and secrets"
    " included, to another address)"
)


@pytest.mark.parametrize(
    ("location", "said"),
    [
        (
            "https://new.example.com/pi/api/v2/users/sync",
            "to https://new.example.com/pi/api/v2/users/sync (HTTP 307); set PISYNC_URL to the"
            f" final address, https://new.example.com/pi/api/v2: {NEVER}",
        ),
        (
            "https://user:pw@new.example.com/pi/api/v2/users/sync?a=1#f",
            "to https://new.example.com/pi/api/v2/users/sync (HTTP 307); set PISYNC_URL to the"
            f" final address, https://new.example.com/pi/api/v2: {NEVER}",
        ),
        (
            "/sso/login?token=abc",
            "to https://pi.example.com:8224/sso/login (HTTP 307); set PISYNC_URL to the final"
            f" address: {NEVER}",
        ),
    ],
)
def test_redirect_message(location: str, said: str) -> None:
    reply = Reply(status=307, headers={"Location": location})
    assert statuses.redirect_message(SYNC, reply, SENT_TO) == (
        f"the server redirected POST /users/sync {said}"
    )


def test_a_redirect_without_a_location() -> None:
    assert statuses.redirect_message(SYNC, Reply(status=302), SENT_TO) == (
        "the server answered POST /users/sync with HTTP 302, a redirect that says nowhere;"
        f" check PISYNC_URL: {NEVER}"
    )


@pytest.mark.parametrize(
    ("status", "redirect"), [(200, False), (300, True), (304, True), (399, True), (400, False)]
)
def test_every_3xx_is_a_redirect(status: int, redirect: bool) -> None:
    assert statuses.is_redirect(status) is redirect
