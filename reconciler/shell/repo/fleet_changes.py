"""``--changed-since REF`` for a fleet: which servers a change touches, why, and what of each.

- a changed overlay file plans its own server only: the entries that changed there;
- a changed base file plans every server its changed entries go to (``pisync.servers``);
- a changed ``pisync.yaml`` plans, whole, each server whose effective configuration changed
  (its ``servers.NAME`` block changed, or it is new), and every server when the top level
  changed;
- users removed since REF (from the base: every chosen server; from an overlay: its server)
  get the prune action, as for one server; a user whose overlay entry was removed is planned
  again from the base.

The files that changed are found with one ``git diff`` over every place's globs; then each
place that changed (the base, an overlay) is compared with REF on its own
(:func:`reconciler.shell.repo.changed_files.changes_since`), so its entries are never
confused with another place's entries of the same user.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.core.desired.analysis import FileResult
from reconciler.core.desired.build import plain
from reconciler.core.desired.overlay import matches
from reconciler.core.diff.planning import deleted_files_note
from reconciler.core.model.config import Config, ServerEntry
from reconciler.core.yamlfile.read import parse_yaml
from reconciler.shell.repo.changed_files import Changes, _glob_regex, changes_since
from reconciler.shell.repo.desired_files import _display
from reconciler.shell.repo.desired_state import Loaded
from reconciler.shell.repo.fleet_files import FleetFiles, server_loaded
from reconciler.shell.repo.git import git, git_bytes

BASE = ""  # the base's key among the places
#: At most this many names in one reason.
_NAMED = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetChanges:
    """What changed since ``ref``, by place (:data:`BASE` or a server's name), and which
    servers must be planned whole (their configuration changed), with why."""

    ref: str
    places: Mapping[str, Changes] = field(default_factory=dict)
    whole: Mapping[str, str] = field(default_factory=dict)  # server -> why


def fleet_changes(
    ref: str, config: Config, config_path: Path | None, entries: Sequence[ServerEntry]
) -> FleetChanges:
    """What changed since ``ref`` in each place (module docstring)."""
    root = config_path.parent if config_path is not None else Path()
    globs: dict[str, tuple[str, ...]] = {BASE: config.sources}
    globs.update({e.name: e.sources for e in config.servers if e.sources})
    every = [g for place in globs.values() for g in place]
    overall = changes_since(ref, base=root, sources=every, config_path=config_path)
    prefix = _prefix(root)
    touched = [str(p.resolve().relative_to(root.resolve()).as_posix()) for p in overall.changed]
    touched += list(overall.deleted)
    places: dict[str, Changes] = {}
    for place, patterns in globs.items():
        regexes = [_glob_regex(g.lstrip("./")) for g in patterns]
        if any(r.fullmatch(p) for p in touched for r in regexes):
            places[place] = changes_since(ref, base=root, sources=patterns, config_path=config_path)
    whole: dict[str, str] = {}
    if overall.config_changed:
        whole = _config_changes(ref, root, prefix, config_path, config, entries)
    return FleetChanges(ref=overall.ref, places=places, whole=whole)


def touched_servers(
    changes: FleetChanges, base: Sequence[FileResult], entries: Sequence[ServerEntry]
) -> list[str]:
    """The chosen servers a change may touch (whose overlays must be read)."""
    base_changes = changes.places.get(BASE)
    return [
        e.name
        for e in entries
        if e.name in changes.whole
        or e.name in changes.places
        or (
            base_changes is not None
            and (bool(base_changes.removed) or _base_changed(base_changes, base, e.name))
        )
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scoped:
    """A server a change touches: its desired state as a plan covers it, and why."""

    loaded: Loaded
    reasons: tuple[str, ...]


def scoped(changes: FleetChanges, files: FleetFiles, name: str) -> Scoped | None:
    """Server ``name``'s partial desired state and why it is planned; None: untouched."""
    full = server_loaded(files, name)
    if name in changes.whole:
        note = f"{changes.whole[name]} since {changes.ref}, so this plan covers the whole server"
        return Scoped(loaded=replace(full, notes=(note,)), reasons=(changes.whole[name],))
    ref = changes.ref
    users: set[str] = set()
    roles: set[str] = set()
    removed: set[str] = set()
    reasons: list[str] = []
    files_read: list[str] = []
    deleted: list[str] = []
    deleted_users: set[str] = set()
    state = files.server(name)
    effective_users = {u.usercode for u in state.desired.users}
    effective_roles = {r.name.casefold() for r in state.desired.roles}
    base_changes = changes.places.get(BASE)
    if base_changes:
        changed_files = {_display(p) for p in base_changes.changed}
        for result in files.base:
            if result.file not in changed_files:
                continue
            codes = [
                u.usercode
                for u in result.users
                if u.usercode not in base_changes.unchanged_users
                and u.usercode in effective_users
                and (not u.marks.servers or matches(name, u.marks.servers))
            ]
            names = [
                x.name
                for x in result.roles
                if x.name.casefold() not in base_changes.unchanged_roles
                and x.name.casefold() in effective_roles
            ]
            if codes or names:
                users.update(codes)
                roles.update(n.casefold() for n in names)
                files_read.append(result.file)
                reasons.append(f"{result.file}: {_named([*codes, *names])} changed")
        gone = sorted(base_changes.removed - effective_users)
        if gone:
            removed.update(gone)
            reasons.append(f"removed from the base since {ref}: {_named(gone)}")
        deleted += base_changes.deleted
        deleted_users |= base_changes.deleted_users
    overlay = changes.places.get(name)
    if overlay is not None:
        for path in overlay.changed:
            display = _display(path)
            files_read.append(display)
            reasons.append(f"{display} changed")
        overlay_users = {
            u.usercode
            for result in _overlay_results(files, name, {_display(p) for p in overlay.changed})
            for u in result.users
        }
        overlay_roles = {
            x.name.casefold()
            for result in _overlay_results(files, name, {_display(p) for p in overlay.changed})
            for x in result.roles
        }
        users |= (overlay_users - overlay.unchanged_users) & effective_users
        roles |= (overlay_roles - overlay.unchanged_roles) & effective_roles
        back = overlay.removed & effective_users  # its overlay entry went: the base's again
        users |= back
        removed |= overlay.removed - effective_users
        if overlay.deleted:
            reasons += [f"{d} deleted" for d in overlay.deleted]
        deleted += overlay.deleted
        deleted_users |= overlay.deleted_users
        if overlay.removed and not overlay.changed and not overlay.deleted:
            reasons.append(
                f"entries removed from servers.{name}'s files: {_named(overlay.removed)}"
            )
    if not reasons:
        return None
    desired = replace(
        full.desired,
        users=tuple(u for u in full.desired.users if u.usercode in users),
        roles=tuple(r for r in full.desired.roles if r.name.casefold() in roles),
    )
    notes: tuple[str, ...] = ()
    if deleted:
        prune = files.config.server_named(name).config.users_prune
        notes = (deleted_files_note(ref, deleted, deleted_users & removed, prune),)
    return Scoped(
        loaded=replace(
            full,
            desired=desired,
            undeclared_roles=tuple(r for r in full.undeclared_roles if r.usercode in users),
            files=tuple(dict.fromkeys(files_read)),
            partial=True,
            changed_since=ref,
            removed=frozenset(removed),
            deleted=tuple(deleted),
            notes=notes,
        ),
        reasons=tuple(reasons),
    )


def _overlay_results(files: FleetFiles, name: str, changed: set[str]) -> Iterable[FileResult]:
    return (r for r in files.overlays.get(name, ()) if r.file in changed)


def _base_changed(changes: Changes, base: Sequence[FileResult], server: str) -> bool:
    """A changed entry of a changed base file goes to ``server``."""
    changed = {_display(p) for p in changes.changed}
    for result in base:
        if result.file not in changed:
            continue
        for u in result.users:
            if u.usercode in changes.unchanged_users:
                continue
            if not u.marks.servers or matches(server, u.marks.servers):
                return True
        for x in result.roles:
            if x.name.casefold() in changes.unchanged_roles:
                continue
            if not x.marks.servers or matches(server, x.marks.servers):
                return True
    return False


def _config_changes(
    ref: str,
    root: Path,
    prefix: str,
    config_path: Path | None,
    config: Config,
    entries: Sequence[ServerEntry],
) -> dict[str, str]:
    """The chosen servers whose effective configuration changed since ``ref``, with why."""
    everything = {e.name: "pisync.yaml changed" for e in entries}
    if config_path is None:
        return everything
    now = _document(config_path.read_bytes(), config_path.name)
    try:
        rel = prefix + config_path.name
        then = _document(git_bytes(root, "show", f"{ref}:{rel}"), config_path.name)
    except subprocess.CalledProcessError:
        then = None
    if now is None or then is None:
        return everything
    top = {k: v for k, v in now.items() if k not in ("servers", "fleet")}
    if top != {k: v for k, v in then.items() if k not in ("servers", "fleet")}:
        return {e.name: "pisync.yaml changed (its settings for every server)" for e in entries}
    before = then.get("servers") or {}
    out = {}
    for entry in entries:
        block = (now.get("servers") or {}).get(entry.name)
        old = before.get(entry.name) if isinstance(before, dict) else None
        if old is None:
            out[entry.name] = f"pisync.yaml: server {entry.name} is new"
        elif block != old:
            out[entry.name] = f"pisync.yaml: servers.{entry.name} changed"
    return out


def _document(data: bytes, name: str) -> dict[str, Any] | None:
    parsed = parse_yaml(data, name)
    if parsed.data is None:
        return None
    document = plain(parsed.data)
    return document if isinstance(document, dict) else None


def _prefix(root: Path) -> str:
    top = Path(git(root, "rev-parse", "--show-toplevel").strip())
    rel = root.resolve().relative_to(top.resolve()).as_posix()
    return "" if rel == "." else rel + "/"


def _named(names: Iterable[str]) -> str:
    ordered = sorted(names)
    if len(ordered) <= _NAMED:
        return ", ".join(ordered)
    return ", ".join(ordered[:_NAMED]) + f" and {len(ordered) - _NAMED} more"
