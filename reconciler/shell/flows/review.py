"""``pisync review``: the access-review report of the live server, joined with the repository
and its git history (:mod:`reconciler.core.review`, :mod:`reconciler.shell.repo.provenance`).

Reads every live user with its payload (the whole server, whatever the repository declares),
loads the desired state (it must be valid: exit 3 otherwise), asks git which commit last
changed each declared user's entry, and writes the report in one format to stdout or
``--out FILE`` (written whole or not at all). Never writes to the server. Secure variables'
values are read from the environment only to tell drift, and appear nowhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from reconciler.core.model.values import LiveState
from reconciler.core.review import formats
from reconciler.core.review.build import build_review
from reconciler.core.review.html import render_html
from reconciler.core.review.model import Review
from reconciler.errors import AuthenticationFailed, UsageError
from reconciler.shell.console import ProgressReporter, make_console
from reconciler.shell.files import per_server_path, write_atomic
from reconciler.shell.fleet import (
    ServerChoice,
    choose_servers,
    credentials_problem,
    server_settings,
)
from reconciler.shell.loop import run
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.repo.desired_state import Loaded, load_desired
from reconciler.shell.repo.fleet_files import fleet_config, load_fleet, server_loaded
from reconciler.shell.repo.provenance import history_of
from reconciler.shell.secrets import desired_needs
from reconciler.shell.server.connect import open_server
from reconciler.shell.server.live import read_live
from reconciler.shell.settings import Settings, server_url, today

FORMATS: Final[dict[str, Callable[[Review], str]]] = {
    "markdown": formats.render_markdown,
    "csv": formats.render_csv,
    "json": formats.render_json,
    "html": render_html,
}


def review_command(
    settings: Settings, *, fmt: str, out: str | None, servers: ServerChoice | None = None
) -> int:
    """Write the review in ``fmt`` (:data:`FORMATS`) to ``out`` or stdout; exit 0. With
    ``servers:`` in pisync.yaml, a review per chosen server: with several, ``--out FILE``
    writes one file each, its name with the server's (``review-prod.html``)."""
    choice = servers or ServerChoice()
    config = fleet_config(settings)
    if config is not None or choice.given:
        config = config or load_config(find_config(settings.config))
        entries = choose_servers(config, choice, settings, command="review", default_all=False)
        if len(entries) > 1 and out is None and fmt != "markdown":
            raise UsageError(
                f"a {fmt} review of {len(entries)} servers needs --out FILE: one file is written"
                " per server, named after it"
            )
        files = load_fleet(settings, lambda _: [e.name for e in entries])
        for entry in entries:
            mine = server_settings(settings, entry)
            missing = credentials_problem(entry, settings.env)
            if missing is not None:
                raise AuthenticationFailed(missing)
            where = out if out is None or len(entries) == 1 else per_server_path(out, entry.name)
            if out is None and len(entries) > 1:
                sys.stdout.write(f"<!-- server {entry.name} -->\n")
            _review(mine, server_loaded(files, entry.name), fmt, where)
        return 0
    return _review(settings, load_desired((), settings), fmt, out)


def _review(settings: Settings, loaded: Loaded, fmt: str, out: str | None) -> int:
    url = server_url(settings, loaded.config)
    live = run(_read(settings, loaded, url))
    env = settings.env
    report = build_review(
        live,
        loaded.desired,
        loaded.config,
        server=url,
        today=today(env),
        history=history_of(loaded.desired, repo=_repository(settings)),
        secrets={n.env: env[n.env] for n in desired_needs(loaded.desired) if n.env in env},
    )
    text = FORMATS[fmt](report)
    if out:
        write_atomic(out, text, what="the review")
        if not settings.quiet:
            s = report.summary
            sys.stderr.write(
                f"Wrote the access review of {s.users} users to {out} ({len(s.unmanaged)}"
                f" unmanaged, {len(s.drifted)} drifted, {s.violations['error']} policy errors,"
                f" {s.violations['warning']} warnings).\n"
            )
    else:
        sys.stdout.write(text)
    return 0


def _repository(settings: Settings) -> Path | None:
    """Where git runs: the folder of ``pisync.yaml`` (``--config`` may name one elsewhere)."""
    config = find_config(settings.config)
    return config.resolve().parent if config is not None else None


async def _read(settings: Settings, loaded: Loaded, url: str) -> LiveState:
    config = loaded.config
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with open_server(settings, config, url) as server:
        with progress.task("Reading users"):
            return await read_live(
                server,
                payload_for=lambda code: True,  # the review shows every user's access
                declared={u.usercode for u in loaded.desired.users},
                concurrency=config.server.concurrency,
                progress=progress.update,
            )
