"""``pisync import``: write a desired-state repository from the live server.

Reads every user (list, then payload concurrently) and every role, renders files with
:mod:`reconciler.core.desired.export`, and writes them — refusing to overwrite existing files unless
``force``. Writes are all-or-nothing per file (:func:`~reconciler.shell.files.write_atomic`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.core.desired.export import Export, Layout, export
from reconciler.errors import UsageError
from reconciler.pi import wire
from reconciler.schemas import SCHEMA_NAMES, schema_text
from reconciler.shell.console import ProgressReporter, make_console, print_plain
from reconciler.shell.files import write_atomic
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
    layout: Layout,
    include: Sequence[str],
    exclude: Sequence[str],
    with_roles: bool,
    force: bool,
) -> int:
    config = load_config(find_config(settings.config))
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
    planned = {root / f.path: f.text for f in result.files}
    for name in SCHEMA_NAMES:
        planned[root / "schemas" / name] = schema_text(name)  # as shipped, byte for byte
    config_path = root / "pisync.yaml"
    if not config_path.exists():
        planned[config_path] = CONFIG_TEMPLATE
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
    _summary(settings, result, root, super_admins)
    return 0


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
