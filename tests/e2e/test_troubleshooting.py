"""docs/troubleshooting.md quotes pisync exactly: each case is reproduced through the real CLI
(against a real emulator process, or offline), and what pisync printed must appear verbatim, as
whole lines, in one of the page's fenced blocks.

Only what differs from run to run is normalised: the emulator's URL and port (to
``https://pi.example.com:8224/pi/api/v2``), and, where the page says so, the server's own words
(to ``<the server's message>``): a real server words its refusals differently.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.plans.plan import document_digest
from tests.e2e.conftest import Result, free_port, pisync
from tests.e2e.loopback import (
    Answer,
    Certificates,
    HttpServer,
    Received,
    SilentServer,
    TlsHandshakeServer,
    forward,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
URL = "https://pi.example.com:8224/pi/api/v2"
HOST = "pi.example.com:8224"
SERVER_SAYS = "<the server's message>"

SEED: dict[str, Any] = {
    "users": [
        {"user": {"usercode": f"U{i}", "forenames": "U", "surname": f"S{i}"}} for i in (1, 2, 3)
    ]
}


def blocks(page: Path = PAGE) -> list[str]:
    """The fenced blocks of the page."""
    text = page.read_text(encoding="utf-8")
    return re.findall(r"^```[a-z]*\n(.*?)^```$", text, flags=re.M | re.S)


def normalise(text: str, *, port: int | None = None, server_says: str | None = None) -> str:
    if port is not None:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            text = text.replace(f"http://{host}", f"https://{HOST}")
            text = text.replace(f"https://{host}", f"https://{HOST}")
            text = text.replace(host, HOST)
    if server_says is not None:
        text = text.replace(server_says, SERVER_SAYS)
    return text.strip("\n")


def assert_documented(text: str, page: Path = PAGE, **how: Any) -> None:
    shown = normalise(text, **how)
    assert shown, "pisync printed nothing"
    assert any(f"\n{shown}\n" in f"\n{block}" for block in blocks(page)), (
        f"{page.relative_to(ROOT)} does not quote this output verbatim:\n{shown}"
    )


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_page_has_ten_numbered_problems() -> None:
    headings = re.findall(r"^## (\d+)\. ", PAGE.read_text(encoding="utf-8"), flags=re.M)
    assert headings == [str(n) for n in range(1, 11)]


# --- 1. the server cannot be reached -----------------------------------------------------


def test_1_server_unreachable(tmp_path: Path) -> None:
    port = free_port()
    r = pisync(["plan"], cwd=write(tmp_path, {"users/a.yaml": "users: []\n"}), url=local(port))
    assert (r.code, r.out) == (1, "")
    assert_documented(r.err, port=port)


def test_1_url_that_is_not_the_api(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(None)
    repo = write(tmp_path, {"users/a.yaml": "users: []\n"})
    r = pisync(["plan"], cwd=repo, url=emu.url.removesuffix("/api/v2"))
    assert (r.code, r.out) == (1, "")
    assert_documented(r.err, port=emu.port)


def test_1_server_that_never_answers(tmp_path: Path) -> None:
    repo = write(
        tmp_path, {"users/a.yaml": "users: []\n", "pisync.yaml": "server:\n  timeout: 1.5\n"}
    )
    with SilentServer() as silent:
        r = pisync(["plan"], cwd=repo, url=silent.url())
    assert (r.code, r.out) == (1, "")
    # the page shows the default timeout; this run waits 1.5 s, not 30
    assert_documented(r.err.replace("1.5 s", "30 s"), port=silent.port)


def local(port: int) -> str:
    return f"http://127.0.0.1:{port}/pi/api/v2"


# --- 2. credentials refused --------------------------------------------------------------


def test_2_wrong_password(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(tmp_path, {"users/a.yaml": "users: []\n"})
    r = pisync(["plan"], cwd=repo, url=emu.url, env={"PISYNC_PASSWORD": "wrong"})
    assert (r.code, r.out) == (1, "")
    assert "wrong" not in r.err
    assert_documented(r.err, port=emu.port)


def test_2_refused_token(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(tmp_path, {"users/a.yaml": "users: []\n"})
    r = pisync(
        ["plan"],
        cwd=repo,
        url=emu.url,
        env={"PISYNC_TOKEN": "expired-token"},
        unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"],
    )
    assert (r.code, r.out) == (1, "")
    server_says = "invalid token: sign in again with POST /tokens"
    assert server_says in r.err
    assert_documented(r.err, port=emu.port, server_says=server_says)


# --- 3. TLS ------------------------------------------------------------------------------


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return Certificates(tmp_path / "certs")


def refused(context: ssl.SSLContext, tmp_path: Path, **env: str) -> tuple[Result, int]:
    """``pisync plan`` against a TLS server on ``localhost`` with this certificate; what it
    printed and how many connections the server saw (a refused certificate is not retried)."""
    with TlsHandshakeServer(context) as server:
        repo = write(tmp_path / "repo", {"users/a.yaml": "users: []\n"})
        r = pisync(["plan"], cwd=repo, url=server.url("localhost", "https"), env=env)
        assert (r.code, r.out) == (1, ""), r.all
        assert server.connections == 1
        return r, server.port


def test_3_self_signed_certificate(certificates: Certificates, tmp_path: Path) -> None:
    r, port = refused(certificates.server("self", self_signed=True), tmp_path)
    assert_documented(r.err, port=port)


def test_3_certificate_from_an_untrusted_authority(
    certificates: Certificates, tmp_path: Path
) -> None:
    r, port = refused(certificates.server("leaf"), tmp_path)
    assert_documented(r.err, port=port)


def test_3_certificate_for_another_host(certificates: Certificates, tmp_path: Path) -> None:
    context = certificates.server("other", host="pi-old.example.com")
    r, port = refused(context, tmp_path, SSL_CERT_FILE=str(certificates.ca_file))
    assert_documented(
        r.err.replace(f"localhost:{port}", HOST).replace("localhost", "pi.example.com")
    )


def test_3_expired_certificate(certificates: Certificates, tmp_path: Path) -> None:
    context = certificates.server("expired", expired=True)
    r, port = refused(context, tmp_path, SSL_CERT_FILE=str(certificates.ca_file))
    assert_documented(r.err, port=port)


def test_3_https_to_a_plain_http_port(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(None)
    repo = write(tmp_path, {"users/a.yaml": "users: []\n"})
    r = pisync(["plan"], cwd=repo, url=emu.url.replace("http://", "https://"))
    assert (r.code, r.out) == (1, "")
    assert_documented(r.err, port=emu.port)
    assert [q["path"] for q in emu.requests()] == []  # not retried: nothing was ever sent


# --- 4.-6. YAML problems, offline ----------------------------------------------------------


def validate(tmp_path: Path, yaml: str) -> Result:
    repo = write(tmp_path, {"users/team.yaml": yaml})
    r = pisync(["validate"], cwd=repo, unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"])
    assert (r.code, r.err) == (3, "")
    return r


def test_4_yaml_syntax_error_bad_indentation(tmp_path: Path) -> None:
    r = validate(tmp_path, "users:\n  - usercode: jsmith\n    forenames: John\n   surname: Smith\n")
    assert_documented(r.out)


def test_4_yaml_syntax_error_missing_colon(tmp_path: Path) -> None:
    r = validate(
        tmp_path,
        "users:\n  - usercode: jsmith\n    forenames: John\n    surname Smith\n"
        "    email: john.smith@example.com\n",
    )
    assert_documented(r.out)


def test_5_unknown_key_with_a_suggestion(tmp_path: Path) -> None:
    r = validate(tmp_path, "users:\n  - usercode: jsmith\n    forenames: John\n    surnme: Smith\n")
    assert_documented(r.out)


def test_5_unknown_value_with_a_suggestion(tmp_path: Path) -> None:
    r = validate(tmp_path, "users:\n  - usercode: jsmith\n    privileges: [exportToCSV]\n")
    assert_documented(r.out)


def test_6_yaml_anchor_and_alias(tmp_path: Path) -> None:
    r = validate(
        tmp_path,
        "users:\n  - usercode: jsmith\n    roles: &finance [Finance Viewer]\n"
        "  - usercode: lchen\n    roles: *finance\n",
    )
    assert_documented(r.out)


# --- 7. a secret's environment variable is not set ---------------------------------------


def test_7_missing_environment_variable(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(
        tmp_path,
        {
            "users/team.yaml": "users:\n  - usercode: U1\n    variables:\n"
            "      dbPassword: {env: FINANCE_DB_PASSWORD, secure: true}\n"
        },
    )
    r = pisync(["plan"], cwd=repo, url=emu.url, unset=["FINANCE_DB_PASSWORD"])
    assert (r.code, r.err) == (3, "")
    assert_documented(r.out)


# --- 8. a safety guard -------------------------------------------------------------------


GUARDED = {
    "pisync.yaml": "users:\n  prune: disable\nsafety:\n  max_prune_count: 1\n",
    "users/team.yaml": "users:\n  - {usercode: U1, forenames: U, surname: S1}\n",
}


def test_8_guard_blocks_the_plan(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    r = pisync(["plan"], cwd=write(tmp_path, GUARDED), url=emu.url)
    assert r.code == 4
    tail = r.out[r.out.index("Blocked by safety guards") :]
    assert_documented(tail + r.err, port=emu.port)
    assert_documented(tail + r.err, ROOT / "docs" / "concepts.md", port=emu.port)


def test_8_guard_blocks_apply(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    r = pisync(["apply", "--auto-approve"], cwd=write(tmp_path, GUARDED), url=emu.url)
    assert r.code == 4
    assert_documented(r.err, port=emu.port)
    assert [u["user"]["clientEnabled"] for u in synced(emu, "U2", "U3")] == [True, True]


def synced(emu: Any, *codes: str) -> list[dict[str, Any]]:
    return [emu.api("GET", f"/users/syncPayload?usercode={c}")[0] for c in codes]


# --- 9. a stale saved plan ---------------------------------------------------------------


def test_9_stale_plan(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(tmp_path, {"users/team.yaml": "users:\n  - {usercode: U1, surname: Smith}\n"})
    made = pisync(["plan", "--out", "plan.json"], cwd=repo, url=emu.url)
    assert made.code == 0, made.all
    emu.api("POST", "/users/sync", [{"user": {"usercode": "U1", "forenames": "U", "surname": "X"}}])
    r = pisync(["apply", "plan.json"], cwd=repo, url=emu.url)
    assert (r.code, r.out) == (5, "")
    assert_documented(r.err, port=emu.port)
    assert synced(emu, "U1")[0]["user"]["surname"] == "X"


def test_9_edited_plan_file(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(tmp_path, {"users/team.yaml": "users:\n  - {usercode: U1, surname: Smith}\n"})
    assert pisync(["plan", "--out", "plan.json"], cwd=repo, url=emu.url).code == 0
    plan = repo / "plan.json"
    plan.write_text(plan.read_text(encoding="utf-8").replace('"Smith"', '"Smyth"'), "utf-8")
    r = pisync(["apply", "plan.json"], cwd=repo, url=emu.url)
    assert (r.code, r.out) == (5, "")
    assert_documented(r.err, port=emu.port)


def test_9_plan_whose_parts_disagree(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(tmp_path, {"users/team.yaml": "users:\n  - {usercode: U1, surname: Smith}\n"})
    assert pisync(["plan", "--out", "plan.json"], cwd=repo, url=emu.url).code == 0
    plan = repo / "plan.json"
    data = json.loads(plan.read_text(encoding="utf-8"))
    data["changes"][0]["desired"]["type"] = "administrator"
    data["digest"] = document_digest(data)
    plan.write_text(json.dumps(data), encoding="utf-8")
    r = pisync(["apply", "plan.json"], cwd=repo, url=emu.url)
    assert (r.code, r.out) == (5, "")
    assert_documented(r.err, port=emu.port)


def test_9_repository_changed_after_the_plan(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    repo = write(tmp_path, {"users/team.yaml": "users:\n  - {usercode: U1, surname: Smith}\n"})
    assert pisync(["plan", "--out", "plan.json"], cwd=repo, url=emu.url).code == 0
    write(repo, {"users/team.yaml": "users:\n  - {usercode: U1, surname: Smyth}\n"})
    r = pisync(["apply", "plan.json"], cwd=repo, url=emu.url)
    assert (r.code, r.out) == (5, "")
    assert_documented(r.err, port=emu.port)
    assert synced(emu, "U1")[0]["user"]["surname"] == "S1"


# --- 10. --changed-since with a ref git does not have ------------------------------------


def test_10_changed_since_unknown_ref(tmp_path: Path) -> None:
    repo = write(tmp_path, {"users/team.yaml": "users:\n  - {usercode: U1}\n"})
    for args in (["init", "-q", "-b", "feature"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )
    r = pisync(["plan", "--changed-since", "origin/main"], cwd=repo, url=local(free_port()))
    assert (r.code, r.out) == (64, "")
    assert_documented(r.err)


def test_10_changed_since_outside_a_git_repository(tmp_path: Path) -> None:
    repo = write(tmp_path / "not-git", {"users/team.yaml": "users:\n  - {usercode: U1}\n"})
    (repo / ".git").mkdir()  # not a repository; pisync's search for pisync.yaml stops here
    r = pisync(
        ["plan", "--changed-since", "origin/main"],
        cwd=repo,
        url=local(free_port()),
        env={"GIT_CEILING_DIRECTORIES": str(tmp_path)},  # git looks no further up either
    )
    assert (r.code, r.out) == (64, "")
    assert_documented(r.err)


# --- other messages ----------------------------------------------------------------------


def test_a_link_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "private").write_text("PISYNC_PASSWORD=x\n", encoding="utf-8")
    repo = write(tmp_path / "repo", {"pisync.yaml": "", "users/team.yaml": "users: []\n"})
    (repo / "users" / "secrets.yaml").symlink_to(tmp_path / "private")
    r = pisync(["validate"], cwd=repo)
    assert r.code == 3, r.all
    assert_documented(r.out.splitlines()[0])


def test_rate_limited(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(
        SEED, "--rate-limit-rate", "1", "--retry-after", "0", "--faults-on-login", "false"
    )
    r = pisync(["plan"], cwd=write(tmp_path, {"users/a.yaml": "users: []\n"}), url=emu.url)
    assert (r.code, r.out) == (1, "")
    server_says = "too many requests (injected fault): retry after 0 seconds"
    # roles, categories and the user list are read at once: any of them may be the one refused
    err = re.sub(r"^Error: GET /(?:roles|categories):", "Error: GET /users:", r.err, flags=re.M)
    assert_documented(err, port=emu.port, server_says=server_says)


def test_a_redirect(tmp_path: Path) -> None:
    moved = Answer(301, headers={"Location": "https://pi.example.com/pi/api/v2/tokens"})
    with HttpServer(lambda got: moved) as server:
        r = pisync(["plan"], cwd=write(tmp_path, {"users/a.yaml": "users: []\n"}), url=server.url())
    assert (r.code, r.out) == (1, "")
    assert_documented(r.err, port=server.port)


def test_a_proxy_error_page(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(SEED)
    upstream = forward(emu.base)
    page = Answer(
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body>",
        {"Content-Type": "text/html"},
    )

    def proxy(got: Received) -> Answer:
        return page if got.path.startswith("/pi/api/v2/users?") else upstream(got)

    with HttpServer(proxy) as server:
        r = pisync(["plan"], cwd=write(tmp_path, {"users/a.yaml": "users: []\n"}), url=server.url())
    assert (r.code, r.out) == (1, "")
    assert_documented(r.err, port=server.port)


def test_no_server_url(tmp_path: Path) -> None:
    r = pisync(["plan"], cwd=write(tmp_path, {"users/a.yaml": "users: []\n"}))
    assert (r.code, r.out) == (64, "")
    assert_documented(r.err)


def test_no_credentials(tmp_path: Path) -> None:
    repo = write(tmp_path, {"users/a.yaml": "users: []\n"})
    r = pisync(
        ["plan"], cwd=repo, url=local(free_port()), unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"]
    )
    assert (r.code, r.out) == (1, "")
    assert_documented(r.err)
