"""The real ``pi-emulator`` console script on a loopback port: HTTP, faults, persistence."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

EMULATOR = str(Path(sys.executable).parent / "pi-emulator")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.json"
API = "/pi/api/v2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [EMULATOR, "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"emulator exited: {self.proc.communicate()}")
            try:
                if httpx.get(f"{self.url}/_emulator/health", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("emulator did not become ready")

    output: tuple[str, str] = ("", "")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.output = self.proc.communicate()
        return self.proc.returncode


@pytest.fixture
def start(tmp_path: Path) -> Iterator[type[Server]]:
    servers: list[Server] = []

    class Started(Server):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            servers.append(self)
            self.wait_ready()

    yield Started
    for server in servers:
        server.stop()


@contextlib.contextmanager
def _client(server: Server) -> Iterator[httpx.Client]:
    """A client signed in as ADMIN."""
    with httpx.Client(base_url=server.url, timeout=5) as client:
        token = client.post(f"{API}/tokens", headers={"Authorization": "Basic admin:dashboard"})
        assert token.status_code == 200
        client.headers["Authorization"] = f"Bearer {token.json()['token']}"
        yield client


def test_real_http_with_faults_and_persistence(start: type[Server], tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    server = start("--seed", str(EXAMPLE), "--state", str(state_file), "--fault-seed", "7")
    with _client(server) as client:
        page = client.get(f"{API}/users", params={"pageSize": 3}).json()
        assert (page["totalElements"], [u["usercode"] for u in page["content"]]) == (
            10,
            ["ADMIN", "ASHAH", "BWONG"],
        )
        # a dropped connection is a client-side transport error, not a 500
        client.put("/_emulator/faults", json={"script": ["drop"]})
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{API}/roles")
        # 429 with Retry-After
        client.put("/_emulator/faults", json={"script": ["429"], "retry_after": 3})
        limited = client.get(f"{API}/roles")
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
        # a drop after the write: the client sees an error, the user exists anyway
        client.put("/_emulator/faults", json={"script": ["drop"], "fault_phase": "after"})
        new_user = [{"user": {"usercode": "jsmith", "forenames": "John", "surname": "Smith"}}]
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{API}/users/sync", json=new_user)
        payload = client.get(f"{API}/users/syncPayload", params={"usercode": "JSMITH"})
        assert payload.json()[0]["user"]["usercode"] == "JSMITH"
        log = client.get("/_emulator/requests").json()
        assert [(e["fault"], e["status"]) for e in log[-4:]] == [
            ("drop", None),
            ("429", 429),
            ("drop", None),
            (None, 200),
        ]
        assert log[-2]["appStatus"] == 200
    assert server.stop() == 0
    saved = json.loads(state_file.read_text())
    assert [u["user"]["usercode"] for u in saved["users"]][-1] == "JSMITH"

    again = start("--seed", str(EXAMPLE), "--state", str(state_file))
    with _client(again) as client:
        found = client.get(f"{API}/users", params={"usercode(eq)": "jsmith"}).json()
        assert [u["id"] for u in found["content"]] == [11]


def test_cli_fault_options_apply_from_the_first_request(start: type[Server]) -> None:
    server = start("--fault-script", "500,none", "--faults-on-login", "true", "--retry-after", "2")
    with httpx.Client(base_url=server.url) as client:
        first = client.post(f"{API}/tokens", headers={"Authorization": "Basic admin:dashboard"})
        assert (first.status_code, first.json()) == (
            500,
            {"message": "internal server error (injected fault)"},
        )
        second = client.post(f"{API}/tokens", headers={"Authorization": "Basic admin:dashboard"})
        assert second.status_code == 200
        faults = client.get("/_emulator/faults").json()
        assert (faults["retry_after"], faults["script"]) == (2, [])


def test_bad_seed_exits_2(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"roles": [{"name": "R", "categories": ["Ghost"]}]}))
    result = subprocess.run(
        [EMULATOR, "--port", str(free_port()), "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr == f'pi-emulator: invalid seed {seed}: roles[0]: unknown category "Ghost"\n'
    )


def test_bad_fault_option_exits_2() -> None:
    result = subprocess.run(
        [EMULATOR, "--fail-rate", "3"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert result.stderr.endswith(
        "pi-emulator: error: fail_rate must be a number from 0 to 1, got 3.0\n"
    )


def test_cli_shape_options_over_http(start: type[Server]) -> None:
    server = start(
        "--seed", str(EXAMPLE), "--list-shape", "bare", "--list-paging", "off",
        "--list-hide", "bwong,cjones", "--list-cap", "5", "--sync-payload-param", "id",
        "--restriction-shape", "grouped", "--sync-answer", "user",
        "--store-quirk", "restrictions-first-value,expiry-as-timestamp",
        "--licence", "administrators=2,total=20",
    )  # fmt: skip
    with _client(server) as client:
        users = client.get(f"{API}/users", params={"pageSize": 2}).json()
        assert [u["usercode"] for u in users] == ["ADMIN", "ASHAH", "DPATEL", "EMURPHY", "FGARCIA"]
        refused = client.get(f"{API}/users/syncPayload", params={"usercode": "BWONG"})
        assert (refused.status_code, refused.json()) == (
            400,
            {"message": "the id query parameter is required"},
        )
        payload = client.get(f"{API}/users/syncPayload", params={"id": 3}).json()
        assert (payload[0]["user"]["usercode"], payload[0]["restrictions"]) == (
            "BWONG",
            [{"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region",
              "values": ["North"]}],
        )  # fmt: skip
        assert client.get("/_emulator/options").json() == {
            "list_shape": "bare",
            "list_paging": False,
            "list_hide": ["BWONG", "CJONES"],
            "list_cap": 5,
            "sync_payload_param": "id",
            "restriction_shape": "grouped",
            "sync_answer": "user",
            "store_quirks": ["restrictions-first-value", "expiry-as-timestamp"],
            "licence": {"administrators": 2, "total": 20},
        }
        east_west = {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region",
                     "values": ["East", "West"]}  # fmt: skip
        new = {"user": {"usercode": "qtest", "forenames": "Q", "surname": "Test",
                        "userExpirationDate": "2030-06-30"},
               "restrictions": [east_west]}  # fmt: skip
        answer = client.post(f"{API}/users/sync", json=[new]).json()
        assert (answer["id"], answer["usercode"], answer["userExpirationDate"]) == (
            11,
            "QTEST",
            "2030-06-30T00:00:00.000+00:00",
        )
        stored = client.get(f"{API}/users/syncPayload", params={"id": 11}).json()[0]
        assert stored["restrictions"] == [
            {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region",
             "values": ["East"]}
        ]  # fmt: skip
        admin = {"user": {"usercode": "admin3", "forenames": "A", "surname": "Three",
                          "userTypeId": 0}}  # fmt: skip
        over = client.post(f"{API}/users/sync", json=[admin])
        assert (over.status_code, over.json()["message"]) == (
            400,
            "licence exceeded: the licence allows 2 administrators (userTypeId 0) and this "
            "request would make 3: disable users of that kind first, or use a larger licence",
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--licence", "admins"],
         "argument --licence: expected KIND=N[,KIND=N...] such as administrators=2,total=50, "
         "got 'admins'"),
        (["--licence", "admins=2"],
         "licence must be an object of caps (integers >= 0) for: administrators, designers, "
         "chart_explorers, users, chart_viewers, lite, total, or null, got an object"),
        (["--store-quirk", "typo"],
         "store_quirks must be an array of store quirks from: restrictions-first-value, "
         "variables-secure-cleared, variables-secure-masked, expiry-as-timestamp, "
         "categories-no-ancestors, roles-case-folded, parent-ignored, sync-additive, "
         "user-delete-refused, user-delete-forbidden, got an array"),
        (["--capacity", "0"], "capacity must be an integer >= 1 or null, got 0"),
    ],
)  # fmt: skip
def test_bad_server_rule_options_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [EMULATOR, *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert result.stderr.endswith(f"pi-emulator: error: {message}\n")


def test_a_seeded_editor_signs_in_and_updates_over_http(start: type[Server]) -> None:
    """examples/seed.json's DPATEL: an administrator with editUsers, not the super admin."""
    server = start("--seed", str(EXAMPLE))
    with httpx.Client(base_url=server.url, timeout=5) as client:
        token = client.post(f"{API}/tokens", headers={"Authorization": "Basic dpatel:dpatel-demo"})
        client.headers["Authorization"] = f"Bearer {token.json()['token']}"
        update = [{"user": {"usercode": "BWONG", "surname": "Wong-Li"}}]
        assert client.post(f"{API}/users/sync", json=update).json()[0]["user"]["surname"] == (
            "Wong-Li"
        )
        create = [{"user": {"usercode": "NEW1", "forenames": "N", "surname": "One"}}]
        refused = client.post(f"{API}/users/sync", json=create)
        assert (refused.status_code, refused.json()) == (
            403,
            {"message": "only the super admin can create users through POST /users/sync: "
                        "DPATEL cannot create NEW1"},
        )  # fmt: skip


def test_bad_shape_option_exits_2() -> None:
    result = subprocess.run(
        [EMULATOR, "--list-cap", "-1"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert result.stderr.endswith(
        "pi-emulator: error: list_cap must be an integer >= 0 or null, got -1\n"
    )


def _public_pem(tmp_path: Path, *, bare: bool = False) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if bare:  # as pasted into the product's admin screen: header and footer stripped
        pem = b"".join(pem.splitlines()[1:-1])
    path = tmp_path / "jwt-public.pem"
    path.write_bytes(pem)
    return key, path


def test_jwt_login_over_http(
    start: type[Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "process-test-secret-0123456789-abcdef"
    monkeypatch.setenv("PI_TEST_JWT_SECRET", secret)
    key, pem = _public_pem(tmp_path, bare=True)
    server = start(
        "--seed", str(EXAMPLE), "--jwt-public-key", str(pem),
        "--jwt-hs256-secret-env", "PI_TEST_JWT_SECRET", "--access-log", "--log-level", "info",
    )  # fmt: skip
    claim = {"https://www.panintelligence.com/claims/usercode": "bwong"}
    rs256 = jwt.encode(claim, key, algorithm="RS256")
    hs256 = jwt.encode(claim, secret, algorithm="HS256")
    with httpx.Client(base_url=server.url, timeout=5) as client:
        posted = client.post("/pi/auth/jwtLogin", json={"jwt": rs256})
        assert posted.status_code == 200, posted.text
        token = posted.json()["token"]
        own = client.get(
            f"{API}/users/syncPayload",
            params={"usercode": "BWONG"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert own.json()[0]["user"]["usercode"] == "BWONG"
        assert client.get("/pi/", params={"jwt": hs256}).status_code == 200
        refused = client.post("/pi/auth/jwtLogin", content=hs256[:-3] + "abc")
        assert (refused.status_code, refused.json()) == (401, {"message": "JWT login failed"})
        log = client.get("/_emulator/requests").json()
        assert [(e["path"], e["status"], e["usercodes"], e["detail"]) for e in log] == [
            ("/pi/auth/jwtLogin", 200, ["BWONG"], None),
            ("/pi/api/v2/users/syncPayload", 200, [], None),
            ("/pi/", 200, ["BWONG"], None),
            ("/pi/auth/jwtLogin", 401, [], "the JWT signature does not verify"),
        ]
    assert server.stop() == 0
    printed = "".join(server.output)
    assert '"GET /pi/?jwt=(redacted) HTTP/1.1" 200' in printed
    for secret_text in (secret, rs256, hs256, token):
        assert secret_text not in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jwt-public-key", "/nonexistent/key.pem"],
         "pi-emulator: --jwt-public-key /nonexistent/key.pem: [Errno 2] No such file or "
         "directory: '/nonexistent/key.pem'\n"),
        (["--jwt-hs256-secret-env", "PI_TEST_UNSET_VARIABLE"],
         "pi-emulator: --jwt-hs256-secret-env: the environment variable PI_TEST_UNSET_VARIABLE "
         "is not set or empty\n"),
    ],
)  # fmt: skip
def test_bad_jwt_options_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [EMULATOR, "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (2, message)


def test_a_key_that_is_not_pem_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    result = subprocess.run(
        [EMULATOR, "--jwt-public-key", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"pi-emulator: --jwt-public-key {path}: not a PEM public key\n",
    )


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_dropped_connections_under_either_http_parser(start: type[Server], http: str) -> None:
    server = start("--http", http, "--log-level", "info")
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for phase in ("before", "after"):
            client.put("/_emulator/faults", json={"script": ["drop"], "fault_phase": phase})
            with pytest.raises(httpx.RemoteProtocolError):
                client.post(f"{API}/tokens", headers={"Authorization": "Basic admin:dashboard"})
        again = client.post(f"{API}/tokens", headers={"Authorization": "Basic admin:dashboard"})
        assert again.status_code == 200
    assert server.stop() == 0
    printed = "".join(server.output)
    assert "ERROR" not in printed, printed


def test_a_missing_http_package_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pi_emulator import __main__ as cli

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "uvloop" else real(name)
    )
    assert cli.main(["--loop", "uvloop"]) == 2
    assert capsys.readouterr().err == (
        "pi-emulator: --loop uvloop: the uvloop package is not installed\n"
    )


def test_a_port_in_use_says_so_and_exits_1_without_a_ready_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [EMULATOR, "--port", str(port), "--seed", str(EXAMPLE)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"pi-emulator: cannot listen on 127.0.0.1:{port} (Address already in use): another "
        f"process listens on that port: stop it, or choose another port with --port "
        f"(--port 0 picks a free one)\n",
    )


def test_an_address_this_machine_lacks_exits_1() -> None:
    result = subprocess.run(
        [EMULATOR, "--host", "192.0.2.1", "--port", "0"],  # TEST-NET-1: never local
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        1,
        "pi-emulator: cannot listen on 192.0.2.1:0 (Cannot assign requested address): this "
        "machine has no such address: check --host (127.0.0.1 is this machine only)\n",
    )


def test_port_0_picks_a_free_port_and_the_ready_line_comes_once_it_listens() -> None:
    proc = subprocess.Popen(
        [EMULATOR, "--port", "0", "--seed", str(EXAMPLE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        ready = re.fullmatch(
            rf"pi-emulator: http://127\.0\.0\.1:(\d+)/pi/api/v2 \(10 users, seed "
            rf"{re.escape(str(EXAMPLE))}; fault seed \d+\)\n",
            line,
        )
        assert ready is not None, line
        # no retry: once the line is out, the server answers
        health = httpx.get(f"http://127.0.0.1:{ready[1]}/_emulator/health", timeout=5)
        assert (health.status_code, health.json()["users"]) == (200, 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
