"""The desired state a command needs valid (plan, apply, claims, review): loaded, checked,
and for a plan over ``--changed-since`` only what changed since a git ref."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.core.desired.build import canonical_defaults, with_idp_login
from reconciler.core.desired.rules import RoleRef
from reconciler.core.diff.planning import deleted_files_note
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import DesiredState
from reconciler.errors import InvalidStateError
from reconciler.shell import memory
from reconciler.shell.repo.changed_files import changes_since
from reconciler.shell.repo.desired_files import find_config, limits_from, load, load_config
from reconciler.shell.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    config: Config
    desired: DesiredState
    defaults: Mapping[str, Any]
    warnings: tuple[Issue, ...]
    undeclared_roles: tuple[RoleRef, ...] = ()  # role references no file declares
    files: tuple[str, ...] = ()  # the desired-state files read (display paths)
    partial: bool = False  # PATHs (or --changed-since) named only a part of the desired state
    changed_since: str | None = None  # the git ref of --changed-since
    removed: frozenset[str] = frozenset()  # users removed since that ref
    deleted: tuple[str, ...] = ()  # desired-state files deleted since that ref
    notes: tuple[str, ...] = ()  # what the plan should say about how it was loaded


def load_desired(
    paths: Sequence[str], settings: Settings, *, exactly: Sequence[Path] | None = None
) -> Loaded:
    """Load and validate the desired state (``exactly`` these files, when given); any error
    raises InvalidStateError (exit 3). Users in ``users.login_via_idp`` come with the login
    flags the server forces (:func:`~reconciler.core.desired.build.with_idp_login`)."""
    result = load(
        paths,
        find_config(settings.config),
        exactly=exactly,
        cache=settings.cache,
        limits=limits_from(settings.env),
    )
    memory.release()  # what parsing freed, before the live state is read
    errors = [i for i in result.issues if i.severity == "error"]
    if errors or result.desired is None:
        raise InvalidStateError("the desired state is invalid", result.issues, result.stats)
    return Loaded(
        config=result.config,
        # users who sign in through the IdP: the login the server forces, everywhere after this
        desired=with_idp_login(result.desired, result.config),
        defaults=canonical_defaults(result.config.defaults),
        warnings=tuple(i for i in result.issues if i.severity == "warning"),
        undeclared_roles=result.undeclared_roles,
        files=result.files,
        partial=result.partial,
    )


def load_changed(paths: Sequence[str], changed_since: str | None, settings: Settings) -> Loaded:
    """The desired state a plan covers: PATHs (or the sources), or with ``changed_since`` only
    the files changed since that git ref (and the users removed since, in ``removed``)."""
    if changed_since is None:
        return load_desired(paths, settings)
    config_path = find_config(settings.config)
    config = load_config(config_path)
    base = config_path.parent if config_path is not None else Path()
    changes = changes_since(
        changed_since, base=base, sources=config.sources, config_path=config_path
    )
    if changes.config_changed:  # everything may be planned differently: plan everything
        loaded = load_desired((), settings)
        note = (
            f"pisync.yaml changed since {changed_since}, so this plan covers the whole"
            " desired state, not only the changed files"
        )
        return replace(loaded, notes=(*loaded.notes, note))
    loaded = load_desired((), settings, exactly=changes.changed)
    # only what the change changed: entries exactly as they were at REF are left out
    desired = replace(
        loaded.desired,
        users=tuple(u for u in loaded.desired.users if u.usercode not in changes.unchanged_users),
        roles=tuple(
            r for r in loaded.desired.roles if r.name.casefold() not in changes.unchanged_roles
        ),
    )
    refs = tuple(r for r in loaded.undeclared_roles if r.usercode not in changes.unchanged_users)
    notes = loaded.notes
    if changes.deleted:
        note = deleted_files_note(
            changes.ref, changes.deleted, changes.deleted_users, config.users_prune
        )
        notes = (*notes, note)
    return replace(
        loaded,
        desired=desired,
        undeclared_roles=refs,
        changed_since=changes.ref,
        removed=changes.removed,
        deleted=changes.deleted,
        notes=notes,
    )
