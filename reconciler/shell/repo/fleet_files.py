"""Reading a fleet's desired state from disk: the base files, each chosen server's overlay
files, and each server's effective state (:mod:`reconciler.core.desired.overlay`).

Every file is read, parsed and checked once, whatever number of servers share it (the
validation cache serves unchanged files, as for one server); only the overlays of the
servers a command covers are read, so a plan of one server of fifty reads the base and one
overlay. Which files belong where is decided from the globs of every server, so a file two
places claim is an error whichever servers are planned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.core.desired.analysis import FileResult
from reconciler.core.desired.build import canonical_defaults, with_idp_login
from reconciler.core.desired.overlay import FleetState, ServerState, fleet_state, placement_issues
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, Stats, error, has_errors, sort_issues
from reconciler.core.yamlfile.read import DEFAULT_MAX_BYTES
from reconciler.errors import InvalidStateError
from reconciler.shell import memory
from reconciler.shell.repo.cache import FileCache
from reconciler.shell.repo.cache import enabled as cache_enabled
from reconciler.shell.repo.desired_files import (
    _analyse_all,
    _find_files,
    _gc_paused,
    _read_config,
    _too_many_users,
    find_config,
    limits_from,
)
from reconciler.shell.repo.desired_state import Loaded
from reconciler.shell.settings import Settings

#: Chooses, from the base's results, the servers whose overlays to read.
Choose = Callable[[Sequence[FileResult]], Sequence[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetFiles:
    """What a fleet command needs from the files: the config, every server's state that was
    asked for, every problem (sorted), the files of each place."""

    config: Config
    config_path: Path | None
    base_files: tuple[str, ...] = ()
    overlay_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    state: FleetState | None = None  # None when the config itself is invalid
    issues: tuple[Issue, ...] = ()
    stats: Stats = field(default_factory=Stats)
    #: the analysed files of the base, and of each overlay read (what ``--changed-since``
    #: reads the changed entries from)
    base: tuple[FileResult, ...] = ()
    overlays: Mapping[str, tuple[FileResult, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    def server(self, name: str) -> ServerState:
        assert self.state is not None
        return self.state.named(name)


def read_fleet(
    settings: Settings,
    choose: Choose,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    policies_today: dt.date | None = None,
) -> FleetFiles:
    """Read the base, then the overlays of the servers ``choose`` picks (given the base's
    results), and check them all (see the module docstring); problems are returned, not
    raised (``validate`` prints them; :func:`load_fleet` raises)."""
    config_path = find_config(settings.config)
    config, config_issues = _read_config(config_path, max_bytes)
    if has_errors(config_issues) or not config.fleet:
        return FleetFiles(config=config, config_path=config_path, issues=tuple(config_issues))
    root = config_path.parent if config_path is not None else Path()
    limits = limits_from(settings.env)
    base_found, looked, _, problems = _find_files((), config, root, config_path, limits.files)
    places: dict[str, list[str]] = {}
    for _, display in base_found:
        places.setdefault(display, []).append("the top-level sources (the base)")
    overlay_found: dict[str, list[tuple[Path, str]]] = {}
    for entry in config.servers:
        found, _, _, more = _find_files(
            (), replace(config, sources=entry.sources), root, config_path, limits.files
        )
        problems += more
        found = found if entry.sources else []
        overlay_found[entry.name] = found
        for _, display in found:
            places.setdefault(display, []).append(f"servers.{entry.name}.sources")
    issues = [*config_issues, *problems, *placement_issues(places)]
    if not base_found and not problems:
        issues.append(error(None, f"no desired-state files found: {looked}"))
    store = FileCache(root) if settings.cache and cache_enabled() else None
    with _gc_paused():
        base = _analyse_all(base_found, max_bytes, None, True, store)
        chosen = list(dict.fromkeys(choose(base)))
        overlay_pairs = [p for name in chosen for p in overlay_found[name]]
        results = {r.file: r for r in _analyse_all(overlay_pairs, max_bytes, None, True, store)}
        overlays = {name: [results[d] for _, d in overlay_found[name]] for name in chosen}
        state = fleet_state(config, base, overlays, policies_today=policies_today)
    memory.release()
    if store is not None and len(chosen) == len(config.servers):
        store.prune()  # every source was read: what no file uses now is stale
    issues += state.issues
    every = [*base, *(r for name in chosen for r in overlays[name])]
    issues += _too_many_users(every, limits.users)
    return FleetFiles(
        config=config,
        config_path=config_path,
        base_files=tuple(d for _, d in base_found),
        overlay_files={name: tuple(d for _, d in overlay_found[name]) for name in chosen},
        state=state,
        issues=tuple(sort_issues(issues)),
        stats=Stats(
            files=len(every) + (1 if config_path is not None else 0),
            users=sum(r.user_entries for r in every),
            roles=sum(r.role_entries for r in every),
        ),
        base=tuple(base),
        overlays={name: tuple(results) for name, results in overlays.items()},
    )


def load_fleet(settings: Settings, choose: Choose) -> FleetFiles:
    """:func:`read_fleet`, raising (exit 3) when anything is invalid."""
    files = read_fleet(settings, choose)
    if not files.ok or files.state is None:
        raise InvalidStateError("the desired state is invalid", files.issues, files.stats)
    return files


def server_loaded(files: FleetFiles, name: str) -> Loaded:
    """One server's desired state as a single-server command loads it (its effective config,
    ``users.login_via_idp`` applied), for the single-server planning step."""
    config = files.config.server_named(name).config
    state = files.server(name)
    return Loaded(
        config=config,
        desired=with_idp_login(state.desired, config),
        defaults=canonical_defaults(config.defaults),
        warnings=state.warnings,
        undeclared_roles=state.unchecked_roles,
        files=(*files.base_files, *files.overlay_files.get(name, ())),
    )


def fleet_config(settings: Settings) -> Config | None:
    """The configuration when it is valid and has ``servers:``; None otherwise (an invalid
    one is then reported by the single-server path, exactly as before)."""
    config, issues = _read_config(find_config(settings.config), DEFAULT_MAX_BYTES)
    return config if config.fleet and not has_errors(issues) else None
