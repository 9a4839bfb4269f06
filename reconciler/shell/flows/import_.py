"""``pisync import``: write a desired-state repository from the live server.

Reads every user (list, then payload concurrently) and every role, renders files with
:mod:`reconciler.core.desired.export`, and writes them — refusing to overwrite existing files unless
``force``. Writes are all-or-nothing per file (:func:`~reconciler.shell.files.write_atomic`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.core.desired.export import Export, Layout, export, export_documents
from reconciler.core.desired.fleet_import import (
    fleet_files,
    per_server_secrets,
    servers_block,
    split,
)
from reconciler.core.model.config import Config, ServerEntry, credential_variable
from reconciler.core.model.values import LiveState
from reconciler.errors import AuthenticationFailed, UsageError
from reconciler.pi import wire
from reconciler.schemas import REPOSITORY_SCHEMAS, schema_text
from reconciler.shell.console import FleetProgress, ProgressReporter, make_console, print_plain
from reconciler.shell.files import write_atomic
from reconciler.shell.fleet import (
    ServerChoice,
    choose_servers,
    credentials_problem,
    server_settings,
)
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.server.connect import open_server
from reconciler.shell.server.live import read_live
from reconciler.shell.settings import Settings, server_url

CONFIG_TEMPLATE = """\
# yaml-language-server: $schema=schemas/pisync-config.schema.json
# Written by pisync import. Every key has a default; the values below are the defaults
# unless a comment says otherwise. The YAML reference in pisync's docs lists every key.
sources: ["users/**/*.y*ml"]   # the desired-state files, relative to this file
server:
  # url: https://pi.example.com/pi/api/v2   # or PISYNC_URL; credentials only from the
  #                                         # environment (PISYNC_USERNAME/PASSWORD or TOKEN)
  timeout: 30                  # seconds per request
  concurrency: 8               # requests in flight
  max_requests_per_second: 0   # 0: no cap
users:
  prune: off          # off | disable | delete: what happens to live users not declared
  protected: [ADMIN]  # never changed, disabled or deleted
  ignore: []          # usercode globs pisync leaves alone, e.g. ["SVC_*"]
  login_via_idp: []   # usercode globs of users who sign in through your identity provider
roles:
  prune: off          # off | delete: roles not declared
safety:               # apply refuses a plan that prunes more than this (override: --force)
  max_prune_count: 25
  max_prune_percent: 10
  min_users_for_percent: 10
"""

#: Written by import beside the desired state (never over an existing one).
GITIGNORE = """\
# pisync: saved plans, apply reports and the validation cache are not desired state
plan.json
*.plan.json
apply-report.json
*.report.json
.pisync-cache/
"""


async def import_flow(
    settings: Settings,
    *,
    out: str,
    layout: Layout | None,
    include: Sequence[str],
    exclude: Sequence[str],
    with_roles: bool,
    force: bool,
    servers: ServerChoice | None = None,
) -> int:
    config = load_config(find_config(settings.config))
    choice = servers or ServerChoice()
    if config.fleet or choice.given:
        entries = choose_servers(config, choice, settings, command="import", default_all=False)
        return await _import_fleet(
            settings,
            config,
            entries,
            out=out,
            layout=layout,
            include=include,
            exclude=exclude,
            with_roles=with_roles,
            force=force,
        )
    url = server_url(settings, config)
    err = make_console(stderr=True, no_color=settings.no_color)
    progress = ProgressReporter(err, quiet=settings.quiet)
    async with open_server(settings, config, url) as server:
        with progress.task("Reading users"):
            live = await read_live(
                server,
                payload_for=lambda code: True,
                concurrency=config.server.concurrency,
                progress=progress.update,
            )
    super_admins = [u.usercode for u in live.users.values() if u.super_admin]
    result = export(
        live,
        defaults=wire.NEW_USER_DEFAULTS,
        layout=layout,
        include=include,
        exclude=exclude,
        with_roles=with_roles,
        skip=super_admins,
        header=f"Imported from {url} by pisync import; edit freely.",
        default_parent=settings.env.get("PISYNC_USERNAME"),
    )
    root = Path(out)
    _write(root, {f.path: f.text for f in result.files}, CONFIG_TEMPLATE, force=force)
    _summary(settings, result, root, super_admins)
    return 0


def _write(root: Path, texts: Mapping[str, str], config_text: str, *, force: bool) -> None:
    """The files, the schemas, pisync.yaml and .gitignore (these two never over existing
    ones); nothing is written when a file exists, unless ``force``."""
    planned = {root / path: text for path, text in texts.items()}
    for name in REPOSITORY_SCHEMAS:
        planned[root / "schemas" / name] = schema_text(name)  # as shipped, byte for byte
    config_path = root / "pisync.yaml"
    if not config_path.exists():
        planned[config_path] = config_text
    if not (root / ".gitignore").exists():
        planned[root / ".gitignore"] = GITIGNORE
    existing = sorted(str(p) for p in planned if p.exists() and p.parent.name != "schemas")
    if existing and not force:
        shown = ", ".join(existing[:5]) + (
            f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        )
        raise UsageError(
            f"{len(existing)} file(s) already exist ({shown}); pass --force to overwrite them"
        )
    for target, text in planned.items():
        write_atomic(target, text)


def _summary(settings: Settings, result: Export, root: Path, skipped: list[str]) -> None:
    out = make_console(no_color=settings.no_color)
    print_plain(
        out,
        f"Imported {result.users} users and {result.roles} roles into {root}"
        f" ({len(result.files)} files).",
    )
    if settings.quiet:
        return
    if skipped:
        print_plain(out, f"Not imported: the super admin {', '.join(sorted(skipped))}.")
    if result.secret_env:
        print_plain(out, "Secure variables are not written; set these environment variables:")
        for env, code, var in result.secret_env:
            print_plain(out, f"  {env}  (user {code}, variable {var})")
    print_plain(out, f"Next: cd {root} && pisync plan   # should show no changes")


async def _import_fleet(
    settings: Settings,
    config: Config,
    entries: Sequence[ServerEntry],
    *,
    out: str,
    layout: Layout | None,
    include: Sequence[str],
    exclude: Sequence[str],
    with_roles: bool,
    force: bool,
) -> int:
    """Several servers at once (one event loop, ``fleet.max_in_flight`` requests in flight in
    all): what they share in the base, each one's differences in its overlay
    (:mod:`reconciler.core.desired.fleet_import`), and a ``servers:`` block."""
    gate = asyncio.Semaphore(config.max_in_flight)
    progress = FleetProgress.for_settings(settings, [e.name for e in entries])

    async def read(entry: ServerEntry) -> LiveState:
        mine = server_settings(settings, entry)
        missing = credentials_problem(entry, settings.env)
        if missing is not None:
            raise AuthenticationFailed(missing)
        async with open_server(
            mine, entry.config, server_url(mine, entry.config), gate=gate
        ) as server:
            live = await read_live(
                server,
                payload_for=lambda code: True,
                concurrency=entry.config.server.concurrency,
                progress=progress.updater(entry.name),
            )
        progress.done(entry.name, "read")
        return live

    with progress:
        lives = await asyncio.gather(*(read(e) for e in entries))
    users: dict[str, list[dict[str, Any]]] = {}
    roles: dict[str, list[dict[str, Any]]] = {}
    secrets: list[tuple[str, str, str, str]] = []
    skipped: set[str] = set()
    for entry, live in zip(entries, lives, strict=True):
        admins = [u.usercode for u in live.users.values() if u.super_admin]
        skipped.update(admins)
        docs = export_documents(
            live,
            defaults=wire.NEW_USER_DEFAULTS,
            include=include,
            exclude=exclude,
            skip=admins,
            default_parent=server_settings(settings, entry).env.get("PISYNC_USERNAME"),
        )
        users[entry.name], found = per_server_secrets(entry.name, docs.users)
        secrets += found
        roles[entry.name] = list(docs.roles) if with_roles else []
    base_users, overlay_users = split(users, "usercode")
    base_roles, overlay_roles = split(roles, "name")
    names = ", ".join(e.name for e in entries)
    files = fleet_files(
        base_users,
        base_roles,
        overlay_users,
        overlay_roles,
        header=f"Imported from servers {names} by pisync import; edit freely.",
        per_user=layout is not Layout.SINGLE,  # per-letter files are a single server's layout
    )
    block = servers_block(
        [
            (
                e.name,
                e.url,
                {k: v for k, v in e.credentials.items() if v != credential_variable(e.name, k)},
            )
            for e in entries
        ]
    )
    root = Path(out)
    _write(root, {f.path: f.text for f in files}, CONFIG_TEMPLATE + block, force=force)
    console = make_console(no_color=settings.no_color)
    distinct_users = len({str(d["usercode"]) for docs in users.values() for d in docs})
    distinct_roles = len({str(d["name"]).casefold() for docs in roles.values() for d in docs})
    print_plain(
        console,
        f"Imported {distinct_users} users and {distinct_roles} roles of {len(entries)} servers"
        f" into {root} ({len(files)} files; what is not the same on every server is in"
        " servers/).",
    )
    if settings.quiet:
        return 0
    if skipped:
        print_plain(console, f"Not imported: the super admin {', '.join(sorted(skipped))}.")
    if secrets:
        print_plain(console, "Secure variables are not written; set these environment variables:")
        for env, server, code, var in secrets:
            print_plain(console, f"  {env}  (server {server}, user {code}, variable {var})")
    print_plain(console, f"Next: cd {root} && pisync plan --all-servers   # should show no changes")
    return 0
