"""The code forge: who approved the pull requests the grants came in by (GitHub's REST API).

Asked only with a token (``GITHUB_TOKEN``, else ``GH_TOKEN``) and a repository
(``GITHUB_REPOSITORY``, else the ``origin`` remote on github.com, which the flow passes in);
the API's address is ``GITHUB_API_URL`` (GitHub Actions sets it; GitHub Enterprise and the
tests point it elsewhere), else ``https://api.github.com``. Without them nothing is asked and
the review says so: approvals are never guessed. Per pull request: ``GET
/repos/{repo}/pulls/{n}`` (who opened and merged it) and its reviews, a few pull requests at
a time, through the same aiohttp backend as the server (no redirect followed, timeouts, the
proxy from the environment). A pull request GitHub cannot show gets a note; a failure to reach
GitHub at all, or a refused token, becomes the note of every approval. The token is never
printed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from reconciler.core.review.github import pull_request_of, valid_repository
from reconciler.core.review.model import Approvals, PullRequest
from reconciler.shell.server.http import AiohttpBackend, Backend, Limits, SendFailed, host_port

GITHUB_API: Final = "https://api.github.com"
#: Pull requests asked about at once.
CONCURRENCY: Final = 8
#: Pages of reviews read per pull request (100 each).
MAX_PAGES: Final = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Forge:
    api: str
    repository: str | None
    token: str | None

    def __repr__(self) -> str:
        return f"Forge(api={self.api!r}, repository={self.repository!r}, token=***)"


def forge_of(env: Mapping[str, str], remote_repository: str | None) -> Forge:
    """Where to ask, from the environment (see the module docstring)."""
    api = (env.get("GITHUB_API_URL") or GITHUB_API).rstrip("/")
    repository = env.get("GITHUB_REPOSITORY") or remote_repository
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None
    return Forge(api=api, repository=repository, token=token)


async def approvals(
    forge: Forge, numbers: Iterable[int], backend: Backend | None = None
) -> Approvals:
    """The approvals of pull requests ``numbers`` (see the module docstring)."""
    wanted = sorted(set(numbers))
    if forge.token is None or forge.repository is None:
        missing = " and ".join(
            what
            for what, value in (
                ("GITHUB_TOKEN", forge.token),
                ("GITHUB_REPOSITORY (or an origin remote on github.com)", forge.repository),
            )
            if value is None
        )
        return Approvals(
            asked=False,
            note=f"the approvers of pull requests were not asked for: set {missing} to read"
            " each pull request's approvals from GitHub",
        )
    if not valid_repository(forge.repository):
        return Approvals(asked=False, note=f"{forge.repository!r} is not an owner/name repository")
    parts = urlsplit(forge.api)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Approvals(asked=False, note=f"GITHUB_API_URL {forge.api!r} is not an http(s) URL")
    where = f"{parts.hostname}/{forge.repository}"
    own = backend is None
    client = backend or AiohttpBackend(Limits(url=forge.api, timeout=30, connections=CONCURRENCY))
    gate = asyncio.Semaphore(CONCURRENCY)
    try:

        async def one(number: int) -> PullRequest:
            async with gate:
                return await _pull(client, forge, number)

        pulls = await asyncio.gather(*(one(n) for n in wanted))
    except _Refused as exc:
        return Approvals(asked=False, forge=where, note=str(exc))
    except SendFailed as exc:
        return Approvals(
            asked=False,
            forge=where,
            note=f"GitHub could not be asked ({exc.reason}); approvals are not known",
        )
    finally:
        if own:
            await client.close()
    return Approvals(asked=True, forge=where, pulls={p.number: p for p in pulls})


class _Refused(Exception):
    """GitHub refused the token or the repository: no pull request can be read."""


async def _pull(client: Backend, forge: Forge, number: int) -> PullRequest:
    base = f"{forge.api}/repos/{forge.repository}/pulls/{number}"
    status, pull = await _get(client, forge, base)
    if status == 404:
        return PullRequest(number=number, note=f"GitHub has no pull request #{number} here")
    if status != 200:
        return PullRequest(number=number, note=f"GitHub answered {status} for this pull request")
    reviews: list[Any] = []
    for page in range(1, MAX_PAGES + 1):
        status, items = await _get(client, forge, f"{base}/reviews?per_page=100&page={page}")
        if status != 200 or not isinstance(items, list):
            return PullRequest(number=number, note=f"GitHub answered {status} for its reviews")
        reviews += items
        if len(items) < 100:
            break
    return pull_request_of(number, pull, reviews)


async def _get(client: Backend, forge: Forge, url: str) -> tuple[int, Any]:
    headers = {
        "Authorization": f"token {forge.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    reply = await client.send("GET", url, headers, None)
    if reply.status in (401, 403):
        raise _Refused(
            f"GitHub refused the token ({reply.status}) for {forge.repository} at"
            f" {host_port(forge.api)}: give it read access to pull requests; approvals are not"
            " known"
        )
    if reply.status != 200:
        return reply.status, None
    try:
        return 200, json.loads(reply.body)
    except ValueError:
        return 502, None
