"""Shared helpers of the pisync GitHub Actions scripts: a small GitHub REST client, plan reading,
the exit-code messages and Markdown that fits a comment. Standard library only (Python 3.11).

The scripts read ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` and ``GITHUB_API_URL`` (default
``https://api.github.com``) from the environment. The token is sent only to ``GITHUB_API_URL``
and never printed. Exit codes of every script: 0 done, 1 GitHub API or network error (for
``exit_status.py``: the check fails), 2 usage error (a missing variable, argument or file),
3 nothing to act on (``find_plan_artifact.py``: no reviewed plan).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

API_VERSION: Final = "2022-11-28"
DEFAULT_API_URL: Final = "https://api.github.com"
USER_AGENT: Final = "pisync-github-actions"
TIMEOUT_SECONDS: Final = 30
PER_PAGE: Final = 100

PLAN_MARKER: Final = "<!-- pisync-plan -->"
DRIFT_MARKER: Final = "<!-- pisync-drift -->"
ESCALATION_LABEL: Final = "access-escalation"
DRIFT_LABEL: Final = "pisync-drift"

#: GitHub refuses comment and issue bodies over 65,536 characters; stay below it, counted in
#: UTF-8 bytes (never fewer than characters) so that no counting rule can push us over.
BODY_LIMIT: Final = 65_000

EXIT_API: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3

_LINK_NEXT: Final = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class ApiError(Exception):
    """A GitHub API request that failed: its method, path (no host, no token), status, message."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"GitHub API {method} {path} failed ({where}): {message}")


class UsageError(Exception):
    """A missing environment variable, argument or file."""


class Stop(Exception):
    """Nothing to act on (for example no plan to apply): exit with ``code`` and ``message``."""

    def __init__(self, message: str, code: int = EXIT_NOT_FOUND) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


def error(message: str) -> None:
    """A GitHub error annotation (shown on the run page), on stderr."""
    print(f"::error::{_one_line(message)}", file=sys.stderr)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> NoReturn:
    """Run a script's ``main`` and turn the known failures into a message and an exit code."""
    try:
        code = main(argv)
    except ApiError as exc:
        error(str(exc))
        code = EXIT_API
    except UsageError as exc:
        error(str(exc))
        code = EXIT_USAGE
    except Stop as exc:
        error(exc.message)
        code = exc.code
    sys.exit(code)


def _one_line(text: str) -> str:
    """Workflow commands end at a newline: encode them the way the runner decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


# --- GitHub REST ----------------------------------------------------------------------------


class GitHub:
    """The few REST calls the scripts make, with the token only ever sent to ``api_url``."""

    def __init__(self, token: str, repository: str, api_url: str = DEFAULT_API_URL) -> None:
        self._token = token
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        parsed = urllib.parse.urlsplit(self.api_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"GITHUB_API_URL is not an http(s) URL: {api_url!r}")
        self._origin = (parsed.scheme, parsed.netloc)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitHub:
        env = os.environ if environ is None else environ
        token = env.get("GITHUB_TOKEN", "")
        repository = env.get("GITHUB_REPOSITORY", "")
        if not token:
            raise UsageError(
                "GITHUB_TOKEN is not set (pass env: GITHUB_TOKEN: ${{ github.token }})"
            )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
            raise UsageError(f"GITHUB_REPOSITORY must be OWNER/NAME; found {repository!r}")
        return cls(token, repository, env.get("GITHUB_API_URL") or DEFAULT_API_URL)

    def repo_path(self, *parts: str | int) -> str:
        """``/repos/OWNER/NAME/part/...`` with every part URL-quoted."""
        quoted = "/".join(urllib.parse.quote(str(p), safe="") for p in parts)
        return f"/repos/{self.repository}/{quoted}" if quoted else f"/repos/{self.repository}"

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        ok_statuses: Sequence[int] = (),
    ) -> Any:
        """One request; its decoded JSON answer (None when empty or in ``ok_statuses``)."""
        url = self.api_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data, _headers = self._send(method, url, body, ok_statuses)
        return data

    def paginate(self, path: str, query: Mapping[str, str | int] | None = None) -> Iterator[Any]:
        """Every element of a list endpoint, following ``Link: rel="next"`` (100 per page).

        A few endpoints wrap their list in an object (``{"total_count": …, "workflow_runs": […]}``);
        the one list-valued member is iterated then.
        """
        params: dict[str, str | int] = {"per_page": PER_PAGE, **(query or {})}
        url: str | None = f"{self.api_url}{path}?{urllib.parse.urlencode(params)}"
        while url is not None:
            data, headers = self._send("GET", url, None, ())
            yield from _elements(data, url)
            url = self._next_url(headers.get("Link", ""))

    def _next_url(self, link: str) -> str | None:
        match = _LINK_NEXT.search(link)
        if match is None:
            return None
        url = match.group(1)
        parsed = urllib.parse.urlsplit(url)
        if (parsed.scheme, parsed.netloc) != self._origin:
            # Never send the token anywhere but the API it was meant for.
            raise ApiError("GET", _path_of(url), None, "pagination link leaves GITHUB_API_URL")
        return url

    def _send(
        self, method: str, url: str, body: Any, ok_statuses: Sequence[int]
    ) -> tuple[Any, Mapping[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", USER_AGENT)
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        path = _path_of(url)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read()
                headers = {k: v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            if exc.code in ok_statuses:
                return None, dict(exc.headers.items())
            raise ApiError(method, path, exc.code, _message_of(raw, exc.reason)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(method, path, None, f"cannot reach {self.api_url}: {reason}") from None
        if not raw.strip():
            return None, headers
        try:
            return json.loads(raw), headers
        except ValueError:
            raise ApiError(method, path, response.status, "the answer is not JSON") from None


def _elements(data: Any, url: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise ApiError("GET", _path_of(url), 200, "expected a list in the answer")


def _path_of(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


def _message_of(raw: bytes, reason: object) -> str:
    """The API's own words: ``message`` (with the ``errors`` details of a 422), else the text."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300] or str(reason)
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return text[:300] or str(reason)
    message: str = data["message"]
    details = [
        e.get("message") or e.get("code")
        for e in data.get("errors") or []
        if isinstance(e, dict) and (e.get("message") or e.get("code"))
    ]
    return f"{message} ({'; '.join(map(str, details))})" if details else message


# --- workflow outputs -------------------------------------------------------------------------


def set_outputs(values: Mapping[str, str | int | bool]) -> None:
    """Print ``name=value`` lines and append them to ``$GITHUB_OUTPUT`` when it is set."""
    lines = []
    for name, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{name}={text.replace(chr(10), ' ').replace(chr(13), ' ')}")
    for line in lines:
        print(line)
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)


def read_text(path: str | None) -> str:
    """A file's text, or "" when no path is given or the file does not exist."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def short(sha: str) -> str:
    return sha[:7]


# --- the plan ---------------------------------------------------------------------------------


def load_plan(path: str | None) -> dict[str, Any] | None:
    """The JSON plan written by ``pisync plan --out``; None when there is no such file."""
    text = read_text(path)
    if not text.strip():
        return None
    try:
        plan = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if (
        not isinstance(plan, dict)
        or not isinstance(plan.get("summary"), dict)
        or not isinstance(plan.get("access", []), list)
    ):
        raise UsageError(f"{path} is not a pisync plan (no summary object)")
    return plan


def escalations(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The entries of the plan's ``access`` array flagged as a privilege escalation."""
    return [
        a for a in plan.get("access", []) if isinstance(a, dict) and a.get("escalation") is True
    ]


def summary_line(plan: Mapping[str, Any]) -> str:
    """``Plan: 1 to create, 4 to update, 0 to disable, 0 to delete.`` as pisync prints it."""
    counts = plan["summary"]
    parts = [f"{int(counts.get(k, 0))} to {k}" for k in ("create", "update", "disable", "delete")]
    return f"Plan: {', '.join(parts)}."


def change_count(plan: Mapping[str, Any]) -> int:
    return len(plan.get("changes", []))


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_BACKTICKS: Final = re.compile(r"`+")


def md_code(text: object) -> str:
    """A Markdown code span holding ``text`` literally (one line, any backticks inside)."""
    value = _CONTROL.sub(" ", str(text))
    longest = max((len(m) for m in _BACKTICKS.findall(value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _names(noun: str, plural: str, values: Sequence[Any]) -> str:
    return f"{noun if len(values) == 1 else plural} {', '.join(md_code(v) for v in values)}"


def escalation_sentence(entry: Mapping[str, Any]) -> str:
    """```GRANTED`` gains privileges ``editUsers``, ``exportToCsv``` (what the user gains)."""
    parts = []
    change = entry.get("type_change")
    if isinstance(change, list) and len(change) == 2 and change[1] is not None:
        old, new = change
        parts.append(
            f"becomes {md_code(new)}" + (f" (was {md_code(old)})" if old is not None else "")
        )
    for key, noun, plural in (
        ("gained_roles", "role", "roles"),
        ("gained_categories", "category", "categories"),
        ("gained_privileges", "privilege", "privileges"),
    ):
        values = entry.get(key) or []
        if values:
            parts.append(f"gains {_names(noun, plural, values)}")
    return f"{md_code(entry.get('usercode', '?'))} {'; '.join(parts) or 'gains access'}"


# --- exit codes -------------------------------------------------------------------------------

#: What each exit code of the command a workflow runs means for its check: (passes, message).
PLAN_EXITS: Final[Mapping[int, tuple[bool, str]]] = {
    0: (
        True,
        "No changes: Panintelligence already matches the desired state of this pull request.",
    ),
    2: (
        True,
        "The plan has changes: review them in the pull request comment or the job summary; "
        "they are applied when the pull request is merged.",
    ),
    1: (
        False,
        "pisync plan failed with a runtime error (network, server or unexpected); see the log "
        "of the plan step, then re-run this job.",
    ),
    3: (
        False,
        "The desired state or pisync.yaml is invalid; see the annotations on the changed lines "
        "and the log of the validate step, fix them and push again.",
    ),
    4: (
        False,
        "A safety guard would block apply (too many users pruned, an empty desired state, a "
        "protected user changed, the last administrator removed, or pisync's own account locked "
        "out); see the plan. Change the pull request, or, if the change is intended, an "
        "administrator merges it and runs the pisync apply workflow by hand with full_apply "
        "and force (pisync apply --force).",
    ),
}

APPLY_EXITS: Final[Mapping[int, tuple[bool, str]]] = {
    0: (True, "Applied: Panintelligence now has the changes of the reviewed plan."),
    1: (
        False,
        "pisync apply failed with a runtime error (network, server or unexpected); see the log "
        "and the apply-report artifact for what was applied. Writes are idempotent: converge "
        "with a full apply (run this workflow by hand with full_apply) once the cause is fixed.",
    ),
    3: (
        False,
        "The plan file or the configuration was refused (plan schema or integrity check, or "
        "an invalid pisync.yaml); nothing was applied.",
    ),
    4: (
        False,
        "A safety guard blocked the apply; nothing was applied. If the change is intended, run "
        "this workflow by hand with force (pisync apply --force).",
    ),
    5: (
        False,
        "The reviewed plan is stale: an object it touches changed on the server after it was "
        "planned, or an object it creates appeared meanwhile. Nothing was applied. To re-plan: "
        "run the pisync drift workflow to see how the server differs from the default branch "
        "now, then open a follow-up pull request that touches the affected files (its plan is "
        "reviewed and applied on merge), or run this workflow by hand with full_apply to plan "
        "and apply the whole desired state.",
    ),
    6: (
        False,
        "Some changes failed (listed in the log and in the apply-report artifact); the others "
        "were applied. Fix the cause, then converge with a full apply (run this workflow by "
        "hand with full_apply) or a follow-up pull request; re-running this job would find "
        "the plan stale.",
    ),
}

DRIFT_EXITS: Final[Mapping[int, tuple[bool, str]]] = {
    0: (True, "No drift: Panintelligence matches the desired state in git."),
    2: (
        True,
        f"Panintelligence has drifted from the desired state in git: see the open issue "
        f"labelled {DRIFT_LABEL}.",
    ),
    1: (
        False,
        "pisync plan failed with a runtime error (network, server or unexpected); drift could "
        "not be checked. See the log of the plan step.",
    ),
    3: (
        False,
        "The desired state or pisync.yaml on the default branch is invalid; drift could not "
        "be checked. Run pisync validate and fix it.",
    ),
    4: (
        False,
        "A safety guard would block applying the default branch's desired state (see the "
        "plan in the job summary): the drift is large or dangerous; look at it before anyone "
        "applies.",
    ),
}

EXITS: Final[Mapping[str, Mapping[int, tuple[bool, str]]]] = {
    "plan": PLAN_EXITS,
    "apply": APPLY_EXITS,
    "drift": DRIFT_EXITS,
}

USAGE_EXIT: Final = 64


def exit_meaning(command: str, code: int) -> tuple[bool, str]:
    """(passes, message) for ``code`` of the pisync command a workflow ran."""
    known = EXITS[command].get(code)
    if known is not None:
        return known
    if code == USAGE_EXIT:
        return False, "pisync was called with a wrong option (exit 64, usage error); see the log."
    what = "pisync apply" if command == "apply" else "pisync plan"
    return False, f"{what} exited with unexpected code {code}; see the log."


# --- bodies that fit --------------------------------------------------------------------------

TRUNCATED_NOTE: Final = (
    "\n\n_… truncated to fit a GitHub comment; the whole plan is in the job summary and the "
    "plan artifact._\n"
)


def fit(text: str, budget: int) -> str:
    """``text`` cut at a line so that it takes at most ``budget`` UTF-8 bytes with the note,
    with any code fence or ``<details>`` block it leaves open closed again."""
    if len(text.encode()) <= budget:
        return text
    room = budget - len(TRUNCATED_NOTE.encode()) - 64  # the closers added below
    kept: list[str] = []
    used = 0
    for line in text.splitlines(keepends=True):
        size = len(line.encode())
        if used + size > room:
            break
        kept.append(line)
        used += size
    body = "".join(kept).rstrip("\n")
    closers = ""
    if sum(1 for line in kept if line.lstrip().startswith("```")) % 2:
        closers += "\n```"
    opened = sum(line.count("<details") for line in kept) - sum(
        line.count("</details>") for line in kept
    )
    closers += "\n\n</details>" * max(opened, 0)
    return body + closers + TRUNCATED_NOTE
