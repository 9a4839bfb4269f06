"""A fake GitHub REST API on 127.0.0.1 for the kit's tests (imported by name: pytest puts this
directory on sys.path).

It implements the endpoints the scripts call, with GitHub's shapes: issue comments (with their
author), issue labels, issues, commit statuses, the pull requests of a commit, open pull
requests by head, the reviews of a pull request, a team's members (readable only with a token
that may read the organization, as GITHUB_TOKEN may not), workflow runs, the repository's
artifacts (filtered by ``name``) and an artifact's zip (a 302 to a storage URL that needs no
token, as GitHub's does); list endpoints page with ``per_page``/``page`` and a ``Link`` header.
It keeps state, records every request (method, path with query, JSON body, headers) and can be
told to fail a request.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "ghs_fake_token_never_printed_0123456789"
TEAMS_TOKEN = "github_pat_fake_teams_reader_0123456789"
REPO = "acme/pi-users"
BOT = {"login": "github-actions[bot]", "type": "Bot"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query, as sent
    body: Any
    headers: dict[str, str]

    @property
    def line(self) -> tuple[str, str]:
        return (self.method, self.path)


@dataclass
class Failure:
    status: int
    body: Any
    times: int | None = None  # None: every time


@dataclass
class FakeGitHub:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    commit_pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # workflow file -> runs
    artifacts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # run id -> list
    #: every artifact of the repository (each with ``workflow_run.id``), and their zip bytes
    repo_artifacts: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[int, bytes] = field(default_factory=dict)
    run_by_id: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> newest first
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # pr -> oldest first
    pulls: list[dict[str, Any]] = field(default_factory=list)
    teams: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    failures: dict[tuple[str, str], Failure] = field(default_factory=dict)  # (method, path)
    #: a Link "next" URL to hand out instead of our own (to test that it is refused)
    foreign_next: str | None = None
    next_id: int = 9000
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- seeding --------------------------------------------------------------------------

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(
        self, issue: int, body: str, login: str = "someone", user_type: str = "User"
    ) -> dict[str, Any]:
        comment = {"id": self.new_id(), "body": body, "user": {"login": login, "type": user_type}}
        self.comments.setdefault(issue, []).append(comment)
        return comment

    def add_issue(
        self,
        title: str,
        body: str,
        labels: list[str],
        user: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        number = max([0, *self.issues, *self.comments, *self.labels]) + 1
        issue = {
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": [{"name": n} for n in labels],
            "user": dict(user or {"login": "someone", "type": "User"}),
            **extra,
        }
        self.issues[number] = issue
        return issue

    def fail(
        self, method: str, path: str, status: int, body: Any, times: int | None = None
    ) -> None:
        self.failures[(method, path)] = Failure(status, body, times)

    def add_artifact(
        self, name: str, run: dict[str, Any], blob: bytes, *, expired: bool = False
    ) -> dict[str, Any]:
        """An artifact of ``run`` (also registered as a run), served as ``blob``."""
        self.run_by_id[int(run["id"])] = run
        artifact = {
            "id": self.new_id(),
            "name": name,
            "expired": expired,
            "created_at": run.get("created_at", ""),
            "workflow_run": {"id": run["id"], "head_sha": run.get("head_sha")},
        }
        self.repo_artifacts.append(artifact)
        self.blobs[int(artifact["id"])] = blob
        return artifact

    def status_states(self, sha: str, context: str) -> list[str]:
        """The states set for ``context`` on ``sha``, oldest first."""
        return [s["state"] for s in reversed(self.statuses.get(sha, [])) if s["context"] == context]

    def lines(self) -> list[tuple[str, str]]:
        return [r.line for r in self.requests]

    def writes(self) -> list[tuple[str, str, Any]]:
        return [(r.method, r.path, r.body) for r in self.requests if r.method != "GET"]

    # --- serving --------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(Request(method, raw_path, body, headers))
            parsed = urllib.parse.urlsplit(raw_path)
            path = urllib.parse.unquote(parsed.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            if path.startswith("/blob/"):
                return self._blob(path)  # storage: no token, and none must be sent
            auth = headers.get("authorization")
            if path.startswith("/orgs/") and auth == f"Bearer {TEAMS_TOKEN}":
                pass
            elif auth != f"Bearer {TOKEN}":
                return 401, {"message": "Bad credentials"}, {}
            failure = self.failures.get((method, parsed.path))
            if failure is not None and failure.times != 0:
                if failure.times is not None:
                    failure.times -= 1
                return failure.status, failure.body, {}
            for pattern, verb, handler in self._routes():
                match = re.fullmatch(pattern, path)
                if match and verb == method:
                    return handler(query, body, *match.groups())
            return 404, {"message": "Not Found"}, {}

    def _routes(self) -> Iterator[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]]:
        repo = re.escape(f"/repos/{REPO}")
        yield rf"{repo}/issues/(\d+)/comments", "GET", self._list_comments
        yield rf"{repo}/issues/(\d+)/comments", "POST", self._create_comment
        yield rf"{repo}/issues/comments/(\d+)", "PATCH", self._update_comment
        yield rf"{repo}/issues/(\d+)/labels", "GET", self._list_labels
        yield rf"{repo}/issues/(\d+)/labels", "POST", self._add_labels
        yield rf"{repo}/issues/(\d+)/labels/(.+)", "DELETE", self._remove_label
        yield rf"{repo}/issues", "GET", self._list_issues
        yield rf"{repo}/issues", "POST", self._create_issue
        yield rf"{repo}/issues/(\d+)", "PATCH", self._update_issue
        yield rf"{repo}/commits/([0-9a-f]+)/pulls", "GET", self._commit_pulls
        yield rf"{repo}/actions/workflows/([^/]+)/runs", "GET", self._workflow_runs
        yield rf"{repo}/actions/runs/(\d+)/artifacts", "GET", self._run_artifacts
        yield rf"{repo}/actions/runs/(\d+)", "GET", self._run
        yield rf"{repo}/actions/artifacts", "GET", self._artifacts
        yield rf"{repo}/actions/artifacts/(\d+)/zip", "GET", self._artifact_zip
        yield rf"{repo}/statuses/([0-9a-f]+)", "POST", self._create_status
        yield rf"{repo}/commits/([0-9a-f]+)/statuses", "GET", self._list_statuses
        yield rf"{repo}/pulls/(\d+)/reviews", "GET", self._list_reviews
        yield rf"{repo}/pulls", "GET", self._list_pulls
        yield r"/orgs/([^/]+)/teams/([^/]+)/members", "GET", self._team_members

    def _page(
        self, query: dict[str, str], items: list[Any], path: str, wrap: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        last = max(1, -(-len(items) // per_page))
        if page < last:
            nxt = urllib.parse.urlencode({**query, "page": str(page + 1)})
            end = urllib.parse.urlencode({**query, "page": str(last)})
            next_url = self.foreign_next or f"{self.url}{path}?{nxt}"
            headers["Link"] = f'<{next_url}>; rel="next", <{self.url}{path}?{end}>; rel="last"'
        body: Any = {"total_count": len(items), wrap: chunk} if wrap else chunk
        return 200, body, headers

    def _list_comments(
        self, query: dict[str, str], _body: Any, n: str
    ) -> tuple[int, Any, dict[str, str]]:
        return self._page(
            query, self.comments.get(int(n), []), f"/repos/{REPO}/issues/{n}/comments"
        )

    def _create_comment(
        self, _q: dict[str, str], body: Any, n: str
    ) -> tuple[int, Any, dict[str, str]]:
        comment = self.add_comment(int(n), body["body"], BOT["login"], BOT["type"])
        return 201, comment, {}

    def _update_comment(
        self, _q: dict[str, str], body: Any, cid: str
    ) -> tuple[int, Any, dict[str, str]]:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == int(cid):
                    comment["body"] = body["body"]
                    return 200, comment, {}
        return 404, {"message": "Not Found"}, {}

    def _list_labels(
        self, query: dict[str, str], _body: Any, n: str
    ) -> tuple[int, Any, dict[str, str]]:
        items = [{"name": name} for name in self.labels.get(int(n), [])]
        return self._page(query, items, f"/repos/{REPO}/issues/{n}/labels")

    def _add_labels(self, _q: dict[str, str], body: Any, n: str) -> tuple[int, Any, dict[str, str]]:
        current = self.labels.setdefault(int(n), [])
        current.extend(name for name in body["labels"] if name not in current)
        return 200, [{"name": name} for name in current], {}

    def _remove_label(
        self, _q: dict[str, str], _body: Any, n: str, name: str
    ) -> tuple[int, Any, dict[str, str]]:
        current = self.labels.get(int(n), [])
        if name not in current:
            return 404, {"message": "Label does not exist"}, {}
        current.remove(name)
        return 200, [{"name": x} for x in current], {}

    def _list_issues(self, query: dict[str, str], _body: Any) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        wanted = [x for x in query.get("labels", "").split(",") if x]
        items = [
            issue
            for issue in sorted(self.issues.values(), key=lambda i: -i["number"])  # newest first
            if (state == "all" or issue["state"] == state)
            and all(w in [lab["name"] for lab in issue["labels"]] for w in wanted)
        ]
        return self._page(query, items, f"/repos/{REPO}/issues")

    def _create_issue(self, _q: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        issue = self.add_issue(body["title"], body["body"], body.get("labels", []), BOT)
        return 201, issue, {}

    def _update_issue(
        self, _q: dict[str, str], body: Any, n: str
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self.issues.get(int(n))
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        issue.update(body)
        return 200, issue, {}

    def _commit_pulls(
        self, query: dict[str, str], _body: Any, sha: str
    ) -> tuple[int, Any, dict[str, str]]:
        return self._page(
            query, self.commit_pulls.get(sha, []), f"/repos/{REPO}/commits/{sha}/pulls"
        )

    def _workflow_runs(
        self, query: dict[str, str], _body: Any, workflow: str
    ) -> tuple[int, Any, dict[str, str]]:
        runs = [
            run
            for run in self.runs.get(workflow, [])
            if run["head_sha"] == query.get("head_sha", run["head_sha"])
            and query.get("status", run["conclusion"]) in (run["conclusion"], run["status"])
            and run["event"] == query.get("event", run["event"])
        ]
        runs.sort(key=lambda r: r["created_at"], reverse=True)
        path = f"/repos/{REPO}/actions/workflows/{workflow}/runs"
        return self._page(query, runs, path, wrap="workflow_runs")

    def _run_artifacts(
        self, query: dict[str, str], _body: Any, run_id: str
    ) -> tuple[int, Any, dict[str, str]]:
        items = [
            a
            for a in self.artifacts.get(int(run_id), [])
            if a["name"] == query.get("name", a["name"])
        ]
        path = f"/repos/{REPO}/actions/runs/{run_id}/artifacts"
        return self._page(query, items, path, wrap="artifacts")

    def _run(self, _q: dict[str, str], _body: Any, run_id: str) -> tuple[int, Any, dict[str, str]]:
        run = self.run_by_id.get(int(run_id))
        return (200, run, {}) if run is not None else (404, {"message": "Not Found"}, {})

    def _artifacts(self, query: dict[str, str], _body: Any) -> tuple[int, Any, dict[str, str]]:
        items = [a for a in self.repo_artifacts if a["name"] == query.get("name", a["name"])]
        items.sort(key=lambda a: (a["created_at"], a["id"]), reverse=True)  # newest first
        return self._page(query, items, f"/repos/{REPO}/actions/artifacts", wrap="artifacts")

    def _artifact_zip(
        self, _q: dict[str, str], _body: Any, artifact_id: str
    ) -> tuple[int, Any, dict[str, str]]:
        if int(artifact_id) not in self.blobs:
            return 404, {"message": "Not Found"}, {}
        return 302, None, {"Location": f"{self.url}/blob/{artifact_id}?sig=signed"}

    def _blob(self, path: str) -> tuple[int, Any, dict[str, str]]:
        blob = self.blobs.get(int(path.rsplit("/", 1)[1]))
        return (200, blob, {}) if blob is not None else (404, b"", {})

    def _create_status(
        self, _q: dict[str, str], body: Any, sha: str
    ) -> tuple[int, Any, dict[str, str]]:
        status = {"id": self.new_id(), "creator": BOT, **body}
        self.statuses.setdefault(sha, []).insert(0, status)
        return 201, status, {}

    def _list_statuses(
        self, query: dict[str, str], _body: Any, sha: str
    ) -> tuple[int, Any, dict[str, str]]:
        path = f"/repos/{REPO}/commits/{sha}/statuses"
        return self._page(query, self.statuses.get(sha, []), path)

    def _list_reviews(
        self, query: dict[str, str], _body: Any, n: str
    ) -> tuple[int, Any, dict[str, str]]:
        path = f"/repos/{REPO}/pulls/{n}/reviews"
        return self._page(query, self.reviews.get(int(n), []), path)

    def _list_pulls(self, query: dict[str, str], _body: Any) -> tuple[int, Any, dict[str, str]]:
        owner, _, branch = query.get("head", ":").partition(":")
        items = [
            pr
            for pr in self.pulls
            if pr["state"] == query.get("state", "open")
            and (
                not query.get("head")
                or (pr["head"]["user"]["login"], pr["head"]["ref"]) == (owner, branch)
            )
        ]
        return self._page(query, items, f"/repos/{REPO}/pulls")

    def _team_members(
        self, query: dict[str, str], _body: Any, org: str, team: str
    ) -> tuple[int, Any, dict[str, str]]:
        if self.requests[-1].headers.get("authorization") != f"Bearer {TEAMS_TOKEN}":
            return 403, {"message": "Resource not accessible by integration"}, {}
        members = self.teams.get((org, team))
        if members is None:
            return 404, {"message": "Not Found"}, {}
        items = [{"login": m, "type": "User"} for m in members]
        return self._page(query, items, f"/orgs/{org}/teams/{team}/members")


def serve(fake: FakeGitHub) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = fake.handle(self.command, self.path, body, headers)
            if isinstance(answer, bytes):
                data, kind = answer, "application/zip"
            else:
                data = b"" if answer is None else json.dumps(answer).encode()
                kind = "application/json; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
