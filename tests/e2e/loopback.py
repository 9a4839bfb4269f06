"""Purpose-built loopback servers for the network tests: what a real network does that the
emulator does not (redirects, proxies' HTML pages, TLS certificates, a server that never
answers), each in a thread of the test process on 127.0.0.1, each recording what it received.

- :class:`HttpServer`: answers each request with a function (or forwards it to an upstream,
  e.g. a real emulator: :func:`forward`), and records every request with its arrival time;
  ``tls=`` serves it over TLS.
- :class:`Certificates`: a certificate authority of its own and the server certificates it
  signs (right, wrong host, expired), or a self-signed one.
- :class:`TlsHandshakeServer`: completes or fails TLS handshakes and nothing else; counts them.
- :class:`SilentServer`: accepts connections, reads, never answers; counts them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# --- plain HTTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    method: str
    path: str  # with its query
    headers: Mapping[str, str]
    body: bytes
    at: float  # time.monotonic() when its headers had arrived


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Received], Answer]


class HttpServer:
    """An HTTP/1.1 server (keep-alive) on 127.0.0.1 answering with ``handler``."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _any(self) -> None:
                at = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, dict(self.headers.items()), body, at)
                with owner._lock:
                    owner.received.append(got)
                answer = handler(got)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.scheme = "http" if tls is None else "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}/pi/api/v2"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def busiest_second(times: list[float]) -> int:
    """The most of ``times`` in any one-second window ``[t, t + 1)`` (the windows that start
    at one of them are the ones that can hold the most)."""
    ordered = sorted(times)
    ends = 0
    most = 0
    for start, t in enumerate(ordered):
        while ends < len(ordered) and ordered[ends] < t + 1.0:
            ends += 1
        most = max(most, ends - start)
    return most


def forward(upstream: str) -> Handler:
    """A handler that forwards each request to ``upstream`` (a base such as
    ``http://127.0.0.1:PORT``) and answers with what it answered."""
    parts = urlsplit(upstream)

    def handler(got: Received) -> Answer:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        try:
            skip = {"host", "content-length", "connection"}
            headers = {k: v for k, v in got.headers.items() if k.lower() not in skip}
            conn.request(got.method, got.path, body=got.body or None, headers=headers)
            response = conn.getresponse()
            body = response.read()
            kept = {
                k: v
                for k, v in response.getheaders()
                if k.lower() in ("content-type", "retry-after", "location")
            }
            return Answer(response.status, body, kept)
        finally:
            conn.close()

    return handler


# --- TLS -----------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Certificates:
    """A certificate authority of its own (``ca_file``: trust it with ``SSL_CERT_FILE``) and
    server certificates, each written as ``<name>.pem`` and ``<name>.key`` under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self._ca = (
            x509.CertificateBuilder()
            .subject_name(_name("pisync test CA"))
            .issuer_name(_name("pisync test CA"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self._ca.public_bytes(serialization.Encoding.PEM))

    def server(
        self,
        name: str,
        *,
        host: str = "localhost",
        expired: bool = False,
        self_signed: bool = False,
    ) -> ssl.SSLContext:
        """A server context with a certificate for ``host`` (signed by this authority unless
        ``self_signed``; ``expired``: its validity ended yesterday)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=3), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=1))
        )
        issuer, signer = (_name(host), key) if self_signed else (self._ca.subject, self._key)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(signer, hashes.SHA256())
        )
        pem, key_file = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem, key_file)
        return context


class _Listener:
    """A listening socket served by a thread: ``serve(conn)`` for each connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.first_at: float | None = None  # time.monotonic() of the first connection
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.first_at is None:
                self.first_at = time.monotonic()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def url(self, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}/pi/api/v2"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TlsHandshakeServer(_Listener):
    """Completes (or fails) the TLS handshake of each connection, then closes it."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError, ssl.SSLError):
                self._context.wrap_socket(conn, server_side=True).close()


class SilentServer(_Listener):
    """Accepts every connection, reads what comes, and never answers (until closed)."""

    def serve(self, conn: socket.socket) -> None:
        self._held.append(conn)
        conn.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return
