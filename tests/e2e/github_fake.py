"""A small fake of GitHub's REST API on 127.0.0.1 for the review's end-to-end tests: a pull
request and its reviews (``GET /repos/{repo}/pulls/{n}`` and ``…/reviews``, paged), behind a
token; every request recorded (method, path, the Authorization header as received)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "ghp_fake_token_that_must_never_print_0123"
REPO = "acme/pi-users"


@dataclass
class FakeGitHub:
    url: str = ""
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def pull(
        self,
        number: int,
        author: str,
        merged_by: str,
        *verdicts: tuple[str, str],
    ) -> None:
        """Pull request ``number`` with its reviews (login, state), in order."""
        self.pulls[number] = {
            "number": number,
            "user": {"login": author},
            "merged_by": {"login": merged_by},
            "merged_at": f"2026-0{number % 9 + 1}-15T12:00:00Z",
        }
        self.reviews[number] = [
            {
                "user": {"login": login},
                "state": state,
                "submitted_at": f"2026-01-{i + 10}T00:00:00Z",
            }
            for i, (login, state) in enumerate(verdicts)
        ]

    def answer(self, path: str, auth: str) -> tuple[int, Any]:
        self.requests.append(("GET", path, auth))
        if auth != f"token {TOKEN}":
            return 401, {"message": "Bad credentials"}
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        prefix = f"/repos/{REPO}/pulls/"
        if not parts.path.startswith(prefix):
            return 404, {"message": "Not Found"}
        rest = parts.path[len(prefix) :].split("/")
        if not rest[0].isdigit() or int(rest[0]) not in self.pulls:
            return 404, {"message": "Not Found"}
        number = int(rest[0])
        if rest[1:] == []:
            return 200, self.pulls[number]
        if rest[1:] == ["reviews"]:
            size, page = int(query.get("per_page", "30")), int(query.get("page", "1"))
            return 200, self.reviews[number][(page - 1) * size : page * size]
        return 404, {"message": "Not Found"}


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.removeprefix("/api/v3")
            status, body = fake.answer(path, self.headers.get("Authorization", ""))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/v3"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
