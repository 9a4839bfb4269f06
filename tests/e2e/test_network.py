"""The network layer says what happened, quickly, and trusts nothing it is not told to: through
the real CLI against real servers on loopback (the emulator, and the purpose-built servers of
tests/e2e/loopback.py for what the emulator does not do).

- a redirect is never followed, with or without a body: it is an error naming where it
  pointed, and nothing reaches that address;
- ``doctor`` connects with the settings ``plan`` uses (``server.verify_tls`` included), and
  ``PISYNC_VERIFY_TLS`` overrides ``pisync.yaml`` for both;
- a server that takes requests and never answers is reported within ``server.timeout`` plus
  two quick retries, with one "waiting for HOST…" line meanwhile;
- a proxy's HTML page is reduced to its status and title with the host, and whatever a message
  quotes of a server is printable and bounded.

(TLS certificate problems: tests/e2e/test_troubleshooting.py, which also checks the
documentation quotes each message.)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SECRET, pisync
from tests.e2e.loopback import (
    Answer,
    Certificates,
    HttpServer,
    Received,
    SilentServer,
    busiest_second,
    forward,
)

pytestmark = pytest.mark.e2e

API = "/pi/api/v2"
SEED: dict[str, Any] = {
    "users": [{"user": {"usercode": "U1", "forenames": "Una", "surname": "One"}}],
}
WITH_SECRET = (
    "users:\n  - usercode: U1\n    forenames: Una\n    surname: One\n    variables:\n"
    "      dbPassword: {env: FINANCE_DB_PASSWORD, secure: true}\n"
)


def repo(root: Path, users: str = "users: []\n", config: str | None = None) -> Path:
    (root / "users").mkdir(parents=True, exist_ok=True)
    (root / "users" / "a.yaml").write_text(users, encoding="utf-8")
    if config is not None:
        (root / "pisync.yaml").write_text(config, encoding="utf-8")
    return root


def recorder() -> HttpServer:
    """Another server, which records whatever reaches it and answers 200."""
    return HttpServer(lambda got: Answer(200, b"{}", {"Content-Type": "application/json"}))


# --- 1. redirects ------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[HttpServer]:
    with recorder() as server:
        yield server


def test_a_redirected_sync_is_an_error_and_its_body_never_reaches_the_target(
    emulator_factory: Any, tmp_path: Path, elsewhere: HttpServer
) -> None:
    emu = emulator_factory(SEED)
    upstream = forward(emu.base)
    target = f"{elsewhere.url()}/users/sync"

    def proxy_handler(got: Received) -> Answer:
        if (got.method, got.path) == ("POST", f"{API}/users/sync"):
            return Answer(307, headers={"Location": target})
        return upstream(got)

    with HttpServer(proxy_handler) as proxy:
        r = pisync(["apply", "--auto-approve"], cwd=repo(tmp_path, WITH_SECRET), url=proxy.url())

    assert r.code == 6, r.all
    assert elsewhere.received == []  # nothing at all, the secure variable least of all
    assert SECRET not in r.all
    said = (
        f"the server redirected POST /users/sync to {target} (HTTP 307); set PISYNC_URL to"
        f" the final address, {elsewhere.url()}: pisync never follows a redirect (it would"
        " send the request, credentials and secrets included, to another address)"
    )
    assert said in r.all
    assert "credentials of" not in r.all  # the old error blamed the credentials
    # the emulator still has U1 without the variable: nothing was written
    assert emu.api("GET", "/users/syncPayload?usercode=U1")[0]["variables"] == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_sign_in_is_an_error_naming_the_location(
    tmp_path: Path, elsewhere: HttpServer, status: int
) -> None:
    target = f"{elsewhere.url()}/tokens"
    with HttpServer(lambda got: Answer(status, headers={"Location": target})) as server:
        r = pisync(["plan"], cwd=repo(tmp_path), url=server.url())
        received = len(server.received)

    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"Error: the server redirected POST /tokens to {target} (HTTP {status}); set"
        f" PISYNC_URL to the final address, {elsewhere.url()}: pisync never follows a"
        " redirect (it would send the request, credentials and secrets included, to another"
        " address)\n"
    )
    assert received == 1  # no retry either
    assert elsewhere.received == []


def test_a_relative_redirect_without_the_path_is_named_in_full(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    upstream = forward(emu.base)

    def handler(got: Received) -> Answer:
        if got.method == "GET" and got.path.startswith(f"{API}/users?"):
            return Answer(302, headers={"Location": "/login?next=%2Fusers&token=abc"})
        return upstream(got)

    with HttpServer(handler) as server:
        r = pisync(["plan"], cwd=repo(tmp_path), url=server.url())

    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"Error: the server redirected GET /users to http://127.0.0.1:{server.port}/login"
        " (HTTP 302); set PISYNC_URL to the final address: pisync never follows a redirect"
        " (it would send the request, credentials and secrets included, to another address)\n"
    )


# --- 3 and 6. doctor's connection settings; PISYNC_VERIFY_TLS ----------------------------


@pytest.fixture
def tls_proxy(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> Iterator[HttpServer]:
    """The emulator behind a TLS proxy with a self-signed certificate for ``localhost``."""
    emu = emulator_factory(example_seed)
    context = Certificates(tmp_path / "certs").server("proxy", self_signed=True)
    with HttpServer(forward(emu.base), tls=context) as proxy:
        yield proxy


def test_doctor_uses_server_verify_tls_as_plan_does(tls_proxy: HttpServer, tmp_path: Path) -> None:
    root = repo(tmp_path / "repo", config="server:\n  verify_tls: false\n")
    url = tls_proxy.url("localhost")

    plan = pisync(["plan"], cwd=root, url=url)
    doctor = pisync(["doctor"], cwd=root, url=url)

    assert (plan.code, plan.err) == (0, ""), plan.all
    assert doctor.code == 0, doctor.all
    assert re.fullmatch(
        r"\d+ OK, 0 different, 0 unknown\. Every assumption holds: pisync can plan against"
        r" this server\.",
        doctor.out.splitlines()[-1],
    )


def test_doctor_honours_the_rate_budget_as_plan_does(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    with HttpServer(forward(emu.base)) as proxy:
        root = repo(tmp_path / "repo", config="server:\n  max_requests_per_second: 5\n")
        r = pisync(["doctor"], cwd=root, url=proxy.url())
        times = [got.at for got in proxy.received]
    assert r.code == 0, r.all
    assert len(times) > 10
    assert busiest_second(times) <= 5


@pytest.mark.parametrize("command", [["plan"], ["doctor"]])
def test_pisync_verify_tls_true_overrides_a_pisync_yaml_that_turns_the_check_off(
    tls_proxy: HttpServer, tmp_path: Path, command: list[str]
) -> None:
    root = repo(tmp_path / "repo", config="server:\n  verify_tls: false\n")
    r = pisync(command, cwd=root, url=tls_proxy.url("localhost"), env={"PISYNC_VERIFY_TLS": "true"})
    assert r.code == 1, r.all
    said = (
        f"the TLS certificate of localhost:{tls_proxy.port} is self-signed, so nothing"
        " vouches for it: if your own certificate authority issued it, point SSL_CERT_FILE at"
        " that authority's certificate (PEM)"
    )
    assert said in r.all
    assert [got.path for got in tls_proxy.received] == []


def test_pisync_verify_tls_false_turns_the_check_off(tls_proxy: HttpServer, tmp_path: Path) -> None:
    r = pisync(
        ["plan"],
        cwd=repo(tmp_path / "repo"),
        url=tls_proxy.url("localhost"),
        env={"PISYNC_VERIFY_TLS": "false"},
    )
    assert (r.code, r.err) == (0, ""), r.all


def test_pisync_verify_tls_must_be_true_or_false(tmp_path: Path) -> None:
    r = pisync(
        ["plan"],
        cwd=repo(tmp_path),
        url="https://127.0.0.1:9/pi/api/v2",
        env={"PISYNC_VERIFY_TLS": "yes please"},
    )
    assert (r.code, r.out) == (64, "")
    assert r.err == "Error: PISYNC_VERIFY_TLS must be true or false (or not set)\n"


# --- 4. a server that never answers ------------------------------------------------------


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def test_a_server_that_never_answers_fails_within_the_timeout_and_says_it_waits(
    silent: SilentServer, tmp_path: Path
) -> None:
    root = repo(tmp_path, config="server:\n  timeout: 1.5\n")
    r = pisync(["plan"], cwd=root, url=silent.url())
    ended = time.monotonic()

    host = f"127.0.0.1:{silent.port}"
    assert (r.code, r.out) == (1, "")
    lines = r.err.splitlines()
    assert len(lines) == 2, r.err
    assert re.fullmatch(
        rf"waiting for {re.escape(host)}… \(no answer for \d s; server\.timeout is 1\.5 s\)",
        lines[0],
    )
    assert lines[1] == (
        f"Error: POST /tokens: no answer from {host} within 1.5 s (3 attempts); the server"
        " takes requests but does not answer them: check that it is healthy, or give it"
        " longer with server.timeout in pisync.yaml"
    )
    assert silent.connections == 3
    # from its first request: three waits of 1.5 s, two backoffs of at most 0.2 and 0.4 s,
    # and pisync's exit (before: six waits and backoffs up to 3.2 s, 3 min 5 s at 30 s)
    assert silent.first_at is not None
    assert ended - silent.first_at < 3 * 1.5 + 0.6 + 1.0


def test_quiet_prints_no_waiting_line(silent: SilentServer, tmp_path: Path) -> None:
    root = repo(tmp_path, config="server:\n  timeout: 1.5\n")
    r = pisync(["plan", "-q"], cwd=root, url=silent.url())
    assert r.code == 1
    assert r.err.startswith("Error: POST /tokens: no answer from")
    assert "waiting" not in r.err


# --- 5. HTML pages and hostile server text -----------------------------------------------


def html_page(status: int, title: str) -> Answer:
    body = (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n<body><h1>{title}</h1>"
        "<hr><center>nginx</center>\n<script>alert(1)</script></body></html>\n"
    ).encode()
    return Answer(status, body, {"Content-Type": "text/html; charset=utf-8"})


def test_a_proxy_502_page_is_its_status_and_title_with_the_host(tmp_path: Path) -> None:
    with HttpServer(lambda got: html_page(502, "502 Bad Gateway")) as proxy:
        r = pisync(["plan"], cwd=repo(tmp_path), url=proxy.url())
        attempts = len(proxy.received)

    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"Error: POST /tokens: 127.0.0.1:{proxy.port} answered 502 Bad Gateway after"
        " 6 attempts (from a proxy page titled '502 Bad Gateway')\n"
    )
    assert attempts == 6


def test_an_html_page_that_is_not_retried_is_reduced_too(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    upstream = forward(emu.base)

    def handler(got: Received) -> Answer:
        if got.path.startswith(f"{API}/roles"):
            return html_page(403, "Access &amp; denied\n\x1b[31m by policy")
        return upstream(got)

    with HttpServer(handler) as proxy:
        r = pisync(["plan"], cwd=repo(tmp_path), url=proxy.url())

    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"Error: GET /roles: 127.0.0.1:{proxy.port} answered 403 Forbidden (from an HTML page"
        " titled 'Access & denied \\x1b[31m by policy')\n"
    )


def test_server_words_in_a_message_are_printable_and_bounded(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(SEED)
    upstream = forward(emu.base)
    words = "bad\nrequest\x1b]0;owned\x07 \u202e" + "x" * 5000

    def handler(got: Received) -> Answer:
        if got.path.startswith(f"{API}/roles"):
            body = json.dumps({"message": words}).encode()
            return Answer(400, body, {"Content-Type": "application/json"})
        return upstream(got)

    with HttpServer(handler) as proxy:
        r = pisync(["plan"], cwd=repo(tmp_path), url=proxy.url())

    assert (r.code, r.out) == (1, "")
    quoted = "bad request\\x1b]0;owned\\x07 \\u202e" + "x" * 965 + "…"
    assert r.err == f"Error: GET /roles: HTTP 400: {quoted}\n"
    assert all(c.isprintable() for c in r.err.rstrip("\n"))
