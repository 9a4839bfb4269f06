"""A fleet from one repository: which servers a command covers, each server's settings, and
planning several servers at once.

Everything here is a layer above the single-server code: each server is planned by the same
step ``pisync plan`` uses (:func:`reconciler.shell.planning.read_and_diff`), given that
server's desired state (:func:`reconciler.shell.repo.fleet_files.server_loaded`) and its own
:class:`~reconciler.shell.settings.Settings` (its URL, and its credentials under the standard
names, read from the variables its entry names). All servers run in ONE event loop; a shared
semaphore (``fleet.max_in_flight``) bounds the requests in flight across them, in front of
each server's own ``concurrency`` and rate budget. One server's failure is that server's
result, never another's.

- ``--server NAME`` (repeatable, globs) and ``--all-servers`` choose; with neither, commands
  that only read everything (``plan``, ``validate``) cover every server, the others refuse.
- ``--shard I/N`` keeps every N-th of the chosen servers sorted by name (server k, counted
  from 0, goes to shard ``k mod N + 1``): deterministic, so a CI matrix of N jobs covers each
  server once. Adding a server may move others to another shard; a plan does not mind.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.core.model.config import STANDARD_CREDENTIALS, Config, ServerEntry
from reconciler.core.model.suggest import did_you_mean
from reconciler.core.plans.fleet import FleetPlan, ServerPlan
from reconciler.core.plans.plan import Plan
from reconciler.errors import AuthenticationFailed, InvalidStateError, PisyncError, UsageError
from reconciler.shell import output
from reconciler.shell.console import FleetProgress
from reconciler.shell.files import per_server_path
from reconciler.shell.loop import run
from reconciler.shell.planning import PlanOptions, read_and_diff
from reconciler.shell.repo.desired_files import find_config
from reconciler.shell.repo.desired_state import Loaded
from reconciler.shell.repo.fleet_changes import fleet_changes, scoped, touched_servers
from reconciler.shell.repo.fleet_files import load_fleet, server_loaded
from reconciler.shell.secrets import desired_needs, gather_secrets
from reconciler.shell.server.connect import open_server
from reconciler.shell.settings import Settings, server_url

#: The most shards a CI matrix may have: GitHub Actions runs at most 256 jobs per matrix.
MAX_SHARDS = 256
EXIT_CHANGES = 2
EXIT_INVALID = 3
EXIT_BLOCKED = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerChoice:
    """``--server`` (names or globs), ``--all-servers`` and ``--shard I/N`` as given."""

    names: tuple[str, ...] = ()
    all: bool = False
    shard: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.names or self.all or self.shard)


def choose_servers(
    config: Config, choice: ServerChoice, settings: Settings, *, command: str, default_all: bool
) -> tuple[ServerEntry, ...]:
    """The servers ``choice`` names, in name order (see the module docstring); a usage error
    (64) for options that do not fit this repository or name no server."""
    if not config.fleet:
        if choice.given:
            raise UsageError(
                "--server, --all-servers and --shard choose among the servers: of pisync.yaml,"
                " which has none: this repository manages one server (server.url or --url)"
            )
        if settings.server_urls is not None:
            raise UsageError(
                "--server-urls (or PISYNC_SERVER_URLS) gives the urls of the servers: of"
                " pisync.yaml, which has none: use --url (or PISYNC_URL) for one server"
            )
        return ()
    if settings.url:
        raise UsageError(
            "--url (or PISYNC_URL) names one server, but pisync.yaml has servers:, each with"
            " its own url: unset PISYNC_URL (and drop --url), and choose with --server NAME or"
            " --all-servers"
        )
    if choice.names and choice.all:
        raise UsageError("--all-servers covers every server: give it or --server, not both")
    names = [e.name for e in config.servers]
    if choice.names:
        chosen = set()
        for glob in choice.names:
            hits = [n for n in names if fnmatch.fnmatchcase(n, glob)]
            if not hits:
                hint = did_you_mean(glob, names)
                raise UsageError(
                    f"--server {glob}: no server of pisync.yaml has this name"
                    + (f'; did you mean "{hint}"?' if hint else "")
                    + f" (servers: {', '.join(names)})"
                )
            chosen.update(hits)
        entries = tuple(e for e in config.servers if e.name in chosen)
    elif choice.all or default_all or choice.shard:
        entries = config.servers
    else:
        raise UsageError(
            f"pisync.yaml has {len(names)} servers ({', '.join(names)}): choose which this"
            f" {command} covers with --server NAME (repeatable, globs) or --all-servers"
        )
    if choice.shard is not None:
        index, count = parse_shard(choice.shard)
        entries = tuple(e for k, e in enumerate(entries) if k % count + 1 == index)
    return tuple(pinned(e, settings) for e in entries)


def pinned(entry: ServerEntry, settings: Settings) -> ServerEntry:
    """``entry`` with its URL from ``--server-urls`` when that is given (every server must be
    named then: a URL from pisync.yaml is what a pull request could point elsewhere)."""
    pins = settings.server_urls
    if pins is None:
        return entry
    url = pins.get(entry.name)
    if url is None:
        raise UsageError(
            f"--server-urls (or PISYNC_SERVER_URLS) names no url for server {entry.name}; add"
            f" {entry.name}=URL to it (servers.{entry.name}.url of pisync.yaml is not used"
            " while it is set)"
        )
    server = replace(entry.config.server, url=url)
    return replace(entry, url=url, config=replace(entry.config, server=server))


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), 1 <= I <= N <= :data:`MAX_SHARDS`; a usage error otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    index, count = (int(found[1]), int(found[2])) if found else (0, 0)
    if not found or not 1 <= index <= count or count > MAX_SHARDS:
        raise UsageError(
            f"--shard {text!r}: write I/N with 1 <= I <= N <= {MAX_SHARDS}, e.g. --shard 2/8"
            " (shard 2 of 8)"
        )
    return index, count


#: One environment variable with every server's credentials, for CI (where each secret must
#: be named in the workflow): ``{"prod": {"username": "…", "password": "…"}, …}``.
FLEET_CREDENTIALS = "PISYNC_FLEET_CREDENTIALS"


def server_settings(settings: Settings, entry: ServerEntry) -> Settings:
    """The settings a single-server step uses for ``entry``: its URL, and its credentials
    under the standard names (read from :data:`FLEET_CREDENTIALS` when it is set, else from
    the variables its entry names; nothing else)."""
    env = {k: v for k, v in settings.env.items() if k not in STANDARD_CREDENTIALS.values()}
    found = _credentials(entry, settings.env)
    # never printed, whatever variable they came from (servers.NAME.credentials, the JSON)
    output.REDACTOR.add_credentials(v for k, v in found.items() if k in ("password", "token"))
    for key, standard in STANDARD_CREDENTIALS.items():
        value = found.get(key)
        if value:
            env[standard] = value
    return replace(settings, url=entry.url, env=env, server_urls=None)


def credentials_problem(entry: ServerEntry, env: Mapping[str, str]) -> str | None:
    """Why pisync cannot sign in to ``entry`` (its credentials unset), or None."""
    found = _credentials(entry, env)
    if (found.get("username") and found.get("password")) or found.get("token"):
        return None
    if FLEET_CREDENTIALS in env:
        return (
            f"no credentials for server {entry.name}: {FLEET_CREDENTIALS} has no"
            f' "{entry.name}": {{"username": …, "password": …}} (or {{"token": …}})'
        )
    names = entry.credentials
    return (
        f"no credentials for server {entry.name}: set {names['username']} and"
        f" {names['password']}, or {names['token']}"
    )


def _credentials(entry: ServerEntry, env: Mapping[str, str]) -> dict[str, str]:
    """The credentials of ``entry`` by key (``username``, ``password``, ``token``…)."""
    shared = env.get(FLEET_CREDENTIALS)
    if shared is None:
        return {k: env[v] for k, v in entry.credentials.items() if env.get(v)}
    try:
        every = json.loads(shared)
    except ValueError:
        every = None
    mine = every.get(entry.name) if isinstance(every, dict) else None
    if not isinstance(every, dict) or not isinstance(mine, (dict, type(None))):
        raise UsageError(
            f'{FLEET_CREDENTIALS} must be a JSON object: server name -> {{"username": …,'
            ' "password": …} or {"token": …} (its content is not shown)'
        )
    return {k: v for k, v in (mine or {}).items() if isinstance(v, str) and v}


def one_by_one(
    settings: Settings, entries: Sequence[ServerEntry], out: str | None, *, signs_in: bool = True
) -> Iterator[tuple[ServerEntry, Settings, str | None]]:
    """Each server with its settings and its output file (``out`` with the server's name
    added when there are several: ``review.html`` -> ``review-prod.html``); a server whose
    credentials are not set stops it (when the command ``signs_in``)."""
    for entry in entries:
        missing = credentials_problem(entry, settings.env)
        if missing is not None and signs_in:
            raise AuthenticationFailed(missing)
        path = out if out is None or len(entries) == 1 else per_server_path(out, entry.name)
        yield entry, server_settings(settings, entry), path


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One server to plan: its entry, its desired state, and why it is planned."""

    entry: ServerEntry
    loaded: Loaded
    reasons: tuple[str, ...] = ()
    #: this server's ``--target`` usercodes, when they are not the command line's
    targets: tuple[str, ...] | None = None


async def plan_servers(
    targets: Sequence[Target],
    options: PlanOptions,
    settings: Settings,
    config: Config,
    *,
    detailed_exitcode: bool = False,
) -> tuple[ServerPlan, ...]:
    """Plan every target at once, in one event loop, at most ``fleet.max_in_flight``
    requests in flight in all; a progress line per server on a terminal."""
    gate = asyncio.Semaphore(config.max_in_flight)
    progress = FleetProgress.for_settings(settings, [t.entry.name for t in targets])
    with progress:
        plans = await asyncio.gather(
            *(
                _plan_one(t, options, settings, gate, progress, detailed_exitcode=detailed_exitcode)
                for t in targets
            )
        )
    return tuple(sorted(plans, key=lambda p: p.name))


async def _plan_one(
    target: Target,
    options: PlanOptions,
    settings: Settings,
    gate: asyncio.Semaphore,
    progress: FleetProgress,
    *,
    detailed_exitcode: bool,
) -> ServerPlan:
    entry = target.entry
    mine = server_settings(settings, entry)
    loaded = target.loaded
    base = ServerPlan(name=entry.name, url=entry.url, reasons=target.reasons)
    try:
        url = server_url(mine, loaded.config)
        missing = credentials_problem(entry, settings.env)
        if missing is not None:
            raise AuthenticationFailed(missing)
        secrets, unset = gather_secrets(desired_needs(loaded.desired), settings.env)
        async with open_server(mine, loaded.config, url, gate=gate) as server:
            mine_options = (
                options if target.targets is None else replace(options, targets=target.targets)
            )
            plan, _ = await read_and_diff(
                loaded,
                server,
                secrets,
                mine_options,
                mine,
                progress=progress.updater(entry.name),
                unresolved=unset,
            )
    except InvalidStateError as exc:
        progress.done(entry.name, "invalid")
        return replace(base, exit_code=EXIT_INVALID, error=str(exc), issues=exc.issues)
    except UsageError as exc:  # the server's entry in pisync.yaml (its url, its variables)
        progress.done(entry.name, "invalid")
        return replace(base, exit_code=EXIT_INVALID, error=str(exc))
    except PisyncError as exc:
        progress.done(entry.name, "failed")
        return replace(base, exit_code=exc.exit_code, error=str(exc))
    progress.done(entry.name, "no changes" if plan.empty else "planned")
    return replace(base, plan=plan, exit_code=plan_exit_code(plan, detailed_exitcode))


def plan_exit_code(plan: Plan, detailed_exitcode: bool) -> int:
    """What ``pisync plan`` exits with for this plan alone (SPEC §4)."""
    if plan.policy_errors:
        return EXIT_INVALID
    if plan.blocked:
        return EXIT_BLOCKED
    return EXIT_CHANGES if detailed_exitcode and not plan.empty else 0


def fleet_plan(
    settings: Settings,
    config: Config,
    options: PlanOptions,
    choice: ServerChoice,
    *,
    detailed_exitcode: bool = False,
) -> FleetPlan:
    """Plan the chosen servers (with ``--changed-since``: those a change touches, each as
    far as it is touched) as one :class:`~reconciler.core.plans.fleet.FleetPlan`."""
    if options.paths:
        raise UsageError(
            "with servers: in pisync.yaml, a plan covers whole servers (--server NAME), or"
            " what changed since a git ref (--changed-since REF): give no PATH"
        )
    entries = choose_servers(config, choice, settings, command="plan", default_all=True)
    shard = parse_shard(choice.shard) if choice.shard is not None else None
    skipped: list[tuple[str, str]] = []
    if options.changed_since is None:
        files = load_fleet(settings, lambda _: [e.name for e in entries])
        targets = [Target(entry=e, loaded=server_loaded(files, e.name)) for e in entries]
        if options.targets:
            targets, skipped = _by_target(targets, options)
    else:
        config_path = find_config(settings.config)
        changes = fleet_changes(options.changed_since, config, config_path, entries)
        files = load_fleet(settings, lambda base: touched_servers(changes, base, entries))
        targets = []
        for entry in entries:
            found = scoped(changes, files, entry.name) if entry.name in files.overlays else None
            if found is None:
                skipped.append((entry.name, f"no change since {changes.ref} touches it"))
            else:
                targets.append(Target(entry=entry, loaded=found.loaded, reasons=found.reasons))
    plans = run(
        plan_servers(targets, options, settings, config, detailed_exitcode=detailed_exitcode)
    )
    return FleetPlan(
        servers=plans,
        skipped=tuple(skipped),
        changed_since=options.changed_since,
        shard=shard,
    )


def _by_target(
    targets: Sequence[Target], options: PlanOptions
) -> tuple[list[Target], list[tuple[str, str]]]:
    """``--target`` on a fleet: each server plans the targets it declares; a server that
    declares none is left out (when every target is declared somewhere: one declared nowhere
    goes to every server, where it is pruned or refused as on one server)."""
    wanted = {t.upper() for t in options.targets}
    declared = {t.entry.name: {u.usercode for u in t.loaded.desired.users} for t in targets}
    anywhere = set().union(*declared.values()) if declared else set()
    if wanted - anywhere:
        return list(targets), []
    kept = [
        replace(t, targets=tuple(sorted(wanted & declared[t.entry.name])))
        for t in targets
        if wanted & declared[t.entry.name]
    ]
    skipped = [
        (t.entry.name, "it declares none of the --target users")
        for t in targets
        if not wanted & declared[t.entry.name]
    ]
    return kept, skipped
