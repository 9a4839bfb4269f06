"""Shared helpers of the pisync GitHub Actions scripts: a small GitHub REST client, safe workflow
commands and Markdown, comments and issues the kit owns, commit statuses and the exit-code
messages. Standard library only (Python 3.11).

The scripts read ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` and ``GITHUB_API_URL`` (default
``https://api.github.com``) from the environment. The token is sent only to ``GITHUB_API_URL``
(never along a redirect) and never printed. Exit codes of every script: 0 done, 1 GitHub API or
network error, or the check fails; 2 usage error (a missing variable, argument or file); 3
nothing to act on, or the queue stopped (see each script).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO

API_VERSION: Final = "2022-11-28"
DEFAULT_API_URL: Final = "https://api.github.com"
USER_AGENT: Final = "pisync-github-actions"
TIMEOUT_SECONDS: Final = 30
PER_PAGE: Final = 100
#: The most bytes a download (a plan artifact) may take.
MAX_DOWNLOAD: Final = 64 * 1024 * 1024

PLAN_MARKER: Final = "<!-- pisync-plan -->"
DRIFT_MARKER: Final = "<!-- pisync-drift -->"
APPLY_MARKER: Final = "<!-- pisync-apply -->"
ESCALATION_LABEL: Final = "access-escalation"
DRIFT_LABEL: Final = "pisync-drift"
#: Who the kit's comments and issues are written by: the identity of ``GITHUB_TOKEN``.
DEFAULT_AUTHOR: Final = "github-actions[bot]"

#: Commit status contexts the kit sets (and the ones to make required).
PLAN_CONTEXT: Final = "pisync/plan"
APPROVAL_CONTEXT: Final = "pisync/escalation-approval"
APPLY_CONTEXT: Final = "pisync/apply"
#: GitHub refuses a commit status description over 140 characters.
STATUS_DESCRIPTION_LIMIT: Final = 140

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
    """Nothing to act on, or a stop that fails the job: exit with ``code`` and ``message``."""

    def __init__(self, message: str, code: int = EXIT_NOT_FOUND) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


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


# --- workflow commands: nothing from user data may start one --------------------------------

#: ``##[name]`` is the runner's legacy command form; a word joiner inside it keeps the text
#: readable and the runner blind to it.
_LEGACY: Final = re.compile(r"##(?=\[)")
_WORD_JOINER: Final = "\u2060"


def neutralise_legacy(text: str) -> str:
    """``##[`` anywhere in ``text`` made inert (``#\u2060#[``)."""
    return _LEGACY.sub("#" + _WORD_JOINER + "#", text)


def command_data(text: str) -> str:
    """The message of a workflow command: one line as the runner decodes it (``%``, CR, LF
    escaped), with ``##[`` made inert."""
    encoded = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return neutralise_legacy(encoded)


def command_property(text: str) -> str:
    """A property value of a workflow command (``title=…``): also ``:`` and ``,`` escaped."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(kind: str, message: str, title: str | None = None) -> str:
    """``::error title=…::message`` (or warning, notice) with both parts escaped."""
    props = f" title={command_property(title)}" if title else ""
    return f"::{kind}{props}::{command_data(message)}"


def error(message: str, title: str | None = None) -> None:
    """A GitHub error annotation (shown on the run page), on stderr."""
    print(annotation("error", message, title), file=sys.stderr)


def print_untrusted(text: str, file: TextIO | None = None) -> None:
    """Print ``text`` (which may hold anything a repository or a pull request wrote) to the log
    with workflow commands stopped around it: ``::stop-commands::TOKEN`` … ``::TOKEN::``, with
    a fresh random token the text cannot know; ``##[`` is made inert as well."""
    out = file if file is not None else sys.stdout
    token = secrets.token_hex(16)
    body = neutralise_legacy(text.replace("\r\n", "\n").replace("\r", "\n"))
    out.write(f"::stop-commands::{token}\n{body.rstrip(chr(10))}\n::{token}::\n")
    out.flush()


# --- Markdown: nothing from user data may become a mention, markup or a comment -------------

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_BACKTICKS: Final = re.compile(r"`+")


def md_code(text: object) -> str:
    """A Markdown code span holding ``text`` literally (one line, any backticks inside): no
    mention, link, HTML or comment inside a code span is live."""
    value = _CONTROL.sub(" ", str(text))
    longest = max((len(m) for m in _BACKTICKS.findall(value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]|~#!])")


def md_text(text: object) -> str:
    """``text`` as inert Markdown prose on one line: no HTML, comment or entity (``<``, ``>``,
    ``&`` escaped), no emphasis, link or table syntax (backslash-escaped), and no live
    ``@mention`` (a zero-width joiner after each ``@``: GitHub finds mentions in the rendered
    text, so a backslash would not stop them)."""
    value = _CONTROL.sub(" ", str(text))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return value.replace("@", "@\u200d")


def md_fence(text: str, info: str = "text") -> str:
    """A fenced code block holding ``text`` literally, with a fence longer than any run of
    backticks inside it."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


# --- GitHub REST ----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """API calls are never redirected: a 3xx is an answer (read as an error)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_API_OPENER: Final = urllib.request.build_opener(_NoRedirect)


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

    def with_token(self, token: str) -> GitHub:
        """The same API and repository with another token."""
        return GitHub(token, self.repository, self.api_url)

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

        A few endpoints wrap their list in an object (``{"total_count": …, "artifacts": […]}``);
        the one list-valued member is iterated then.
        """
        params: dict[str, str | int] = {"per_page": PER_PAGE, **(query or {})}
        url: str | None = f"{self.api_url}{path}?{urllib.parse.urlencode(params)}"
        while url is not None:
            data, headers = self._send("GET", url, None, ())
            yield from _elements(data, url)
            url = self._next_url(headers.get("Link", ""))

    def download(self, path: str) -> bytes:
        """The bytes behind an API path that redirects to storage (an artifact's zip). The
        token goes to the API only: the storage URL it redirects to is fetched without it."""
        url = self.api_url + path
        request = self._request("GET", url, None)
        try:
            with _API_OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
                return _read_limited(response, "GET", path)
        except urllib.error.HTTPError as exc:
            if exc.code not in (301, 302, 303, 307, 308):
                raise ApiError("GET", path, exc.code, _message_of(exc.read(), exc.reason)) from None
            location = exc.headers.get("Location") or ""
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ApiError(
                "GET", path, None, f"cannot reach {self.api_url}: {_reason(exc)}"
            ) from None
        target = urllib.parse.urljoin(url, location)
        if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
            raise ApiError("GET", path, None, "the download redirects to a non-http(s) address")
        plain = urllib.request.Request(target, method="GET")  # noqa: S310 - http(s) checked
        plain.add_header("User-Agent", USER_AGENT)
        try:
            with urllib.request.urlopen(plain, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return _read_limited(response, "GET", path)
        except urllib.error.HTTPError as exc:
            raise ApiError("GET", path, exc.code, f"the download failed: {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ApiError("GET", path, None, f"the download failed: {_reason(exc)}") from None

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

    def _request(self, method: str, url: str, data: bytes | None) -> urllib.request.Request:
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", USER_AGENT)
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        return request

    def _send(
        self, method: str, url: str, body: Any, ok_statuses: Sequence[int]
    ) -> tuple[Any, Mapping[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        request = self._request(method, url, data)
        path = _path_of(url)
        try:
            with _API_OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
                raw = response.read()
                headers = {k: v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            if exc.code in ok_statuses:
                return None, dict(exc.headers.items())
            raise ApiError(method, path, exc.code, _message_of(raw, exc.reason)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ApiError(
                method, path, None, f"cannot reach {self.api_url}: {_reason(exc)}"
            ) from None
        if not raw.strip():
            return None, headers
        try:
            return json.loads(raw), headers
        except ValueError:
            raise ApiError(method, path, response.status, "the answer is not JSON") from None


def _reason(exc: BaseException) -> object:
    return getattr(exc, "reason", exc)


def _read_limited(response: Any, method: str, path: str) -> bytes:
    data: bytes = response.read(MAX_DOWNLOAD + 1)
    if len(data) > MAX_DOWNLOAD:
        raise ApiError(method, path, None, f"the download is larger than {MAX_DOWNLOAD} bytes")
    return data


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


# --- what the kit owns on GitHub: its own comments, its own issue -----------------------------


def written_by(item: Mapping[str, Any], author: str) -> bool:
    """Whether a comment or issue was written by ``author`` (the token's own identity): the
    login matches (GitHub logins ignore case) and, for a ``…[bot]`` login, the account is a
    bot, so a person cannot take the name."""
    user = item.get("user")
    if not isinstance(user, dict):
        return False
    login = user.get("login")
    if not isinstance(login, str) or login.casefold() != author.casefold():
        return False
    return not author.endswith("[bot]") or user.get("type") == "Bot"


def own_comment(gh: GitHub, issue: int, marker: str, author: str) -> Mapping[str, Any] | None:
    """The oldest comment on ``issue`` that ``author`` wrote and that starts with ``marker``;
    anyone else's comment holding the marker is ignored."""
    for comment in gh.paginate(gh.repo_path("issues", issue, "comments")):
        if (comment.get("body") or "").startswith(marker) and written_by(comment, author):
            return dict(comment)
    return None


def upsert_comment(gh: GitHub, issue: int, marker: str, body: str, author: str) -> tuple[str, int]:
    """Create the kit's comment on ``issue`` or update it in place: (created|updated, id)."""
    existing = own_comment(gh, issue, marker, author)
    if existing is None:
        created = gh.call("POST", gh.repo_path("issues", issue, "comments"), body={"body": body})
        return "created", int(created["id"])
    comment_id = int(existing["id"])
    gh.call("PATCH", gh.repo_path("issues", "comments", comment_id), body={"body": body})
    return "updated", comment_id


# --- commit statuses --------------------------------------------------------------------------


def status_description(text: str) -> str:
    """A status description GitHub accepts: one line, at most 140 characters."""
    line = " ".join(text.split())
    limit = STATUS_DESCRIPTION_LIMIT
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def set_status(
    gh: GitHub, sha: str, context: str, state: str, description: str, target_url: str = ""
) -> None:
    """Set the commit status ``context`` of ``sha`` (success, failure, error or pending)."""
    body = {"state": state, "context": context, "description": status_description(description)}
    if target_url:
        body["target_url"] = target_url
    gh.call("POST", gh.repo_path("statuses", sha), body=body)


def latest_status(gh: GitHub, sha: str, context: str) -> Mapping[str, Any] | None:
    """The newest status ``context`` of ``sha`` (GitHub lists them newest first)."""
    for status in gh.paginate(gh.repo_path("commits", sha, "statuses")):
        if status.get("context") == context:
            return dict(status)
    return None


# --- workflow outputs -------------------------------------------------------------------------


def set_outputs(values: Mapping[str, str | int | bool]) -> None:
    """Print ``name=value`` lines and append them to ``$GITHUB_OUTPUT`` when it is set."""
    lines = []
    for name, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"{name}={text.replace(chr(10), ' ').replace(chr(13), ' ')}")
    for line in lines:
        print(neutralise_legacy(line))  # the name is ours: the line never starts with "::"
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)


#: The scripts' own GitHub tokens: never handed to pisync, whose desired state could name any
#: environment variable (``{env: NAME}``).
GITHUB_TOKENS: Final = ("GITHUB_TOKEN", "PISYNC_TEAMS_TOKEN")


def pisync_environment() -> dict[str, str]:
    """The environment to run pisync in: this one without the GitHub tokens."""
    return {k: v for k, v in os.environ.items() if k not in GITHUB_TOKENS}


def append_summary(markdown: str) -> None:
    """Append to the job summary (``$GITHUB_STEP_SUMMARY``) when there is one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown)


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


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


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

#: What an apply's exit code says happened; the apply queue adds what to do.
APPLY_EXITS: Final[Mapping[int, tuple[bool, str]]] = {
    0: (True, "Applied: Panintelligence now has the changes of the reviewed plan."),
    1: (
        False,
        "pisync apply failed with a runtime error (network, server or unexpected); see the log "
        "and the apply-report artifact for what was applied.",
    ),
    3: (
        False,
        "The plan file or the configuration was refused (plan schema or integrity check, or "
        "an invalid pisync.yaml); nothing was applied.",
    ),
    4: (False, "A safety guard blocked the apply; nothing was applied."),
    5: (
        False,
        "The reviewed plan is stale: the server changed after it was planned, or the merged "
        "commit no longer produces it (the default branch moved under the pull request); "
        "nothing of it was applied.",
    ),
    6: (
        False,
        "Some changes failed (listed in the log and in the apply-report artifact); the others "
        "were applied.",
    ),
}

#: The plan of the whole default branch that a full apply shows before it is approved.
FULL_EXITS: Final[Mapping[int, tuple[bool, str]]] = {
    0: (
        True,
        "No changes: Panintelligence already matches the default branch; the apply job marks "
        "it applied once the pisync-apply environment is approved.",
    ),
    2: (
        True,
        "The plan of the whole default branch is in the job summary: the apply job applies "
        "exactly this plan once the pisync-apply environment is approved.",
    ),
    1: (
        False,
        "pisync plan failed with a runtime error (network, server or unexpected); see the log "
        "of the plan step, then run again.",
    ),
    3: (
        False,
        "The desired state or pisync.yaml on the default branch is invalid; nothing was "
        "planned. Run pisync validate and fix it with a pull request.",
    ),
    4: (
        False,
        "A safety guard would block applying the default branch (see the plan in the job "
        "summary); if the change is intended, run again with force.",
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
        f"BLOCKED: a safety guard would refuse to apply the default branch's desired state; "
        f"the drift is large or dangerous (see the issue labelled {DRIFT_LABEL} and the plan "
        f"in the job summary). Look at it before anyone applies.",
    ),
}

EXITS: Final[Mapping[str, Mapping[int, tuple[bool, str]]]] = {
    "plan": PLAN_EXITS,
    "apply": APPLY_EXITS,
    "drift": DRIFT_EXITS,
    "full": FULL_EXITS,
}

USAGE_EXIT: Final = 64


def exit_meaning(command: str, code: int) -> tuple[bool, str]:
    """(passes, message) for ``code`` of the pisync command a workflow ran."""
    known = EXITS[command].get(code)
    if known is not None:
        return known
    if code == USAGE_EXIT:
        return False, "pisync was called with a wrong option (exit 64, usage error); see the log."
    what = "pisync apply" if command == "apply" else "pisync plan"  # full and drift plan
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
