"""Loading the desired state for a command that needs it valid (plan, apply)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.core.desired.build import canonical_defaults, with_idp_login
from reconciler.core.desired.rules import RoleRef
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue
from reconciler.core.model.values import DesiredState
from reconciler.errors import InvalidStateError
from reconciler.shell import memory
from reconciler.shell.load import find_config, load
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
    notes: tuple[str, ...] = ()  # what the plan should say about how it was loaded


def load_desired(
    paths: Sequence[str], settings: Settings, *, exactly: Sequence[Path] | None = None
) -> Loaded:
    """Load and validate the desired state (``exactly`` these files, when given); any error
    raises InvalidStateError (exit 3). Users in ``users.login_via_idp`` come with the login
    flags the server forces (:func:`~reconciler.core.desired.build.with_idp_login`)."""
    result = load(paths, find_config(settings.config), exactly=exactly, cache=settings.cache)
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
