"""Offline checks of desired state (SPEC §2.3): JSON Schema, then the cross-file rules. Pure.

:func:`validate_files` and :func:`validate_config` return *every* problem as an
:class:`~reconciler.core.model.issues.Issue`, sorted, each at the line and column of the key (or
list item) it is about, with a message that says what is wrong and what is allowed. The schema
engine is :mod:`reconciler.core.desired.schema` (worded by
:mod:`reconciler.core.desired.schema_messages`); the cross-file rules are
:mod:`reconciler.core.desired.rules`; checks that need the live server are
:mod:`reconciler.core.desired.references`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.desired.analysis import FileResult, analyse, undeclared_refs
from reconciler.core.desired.build import VAR_KEYS, var_uses
from reconciler.core.desired.rules import (
    RoleRef,
    duplicate_issues,
    fleet_syntax_issues,
    idp_login_issues,
    role_ref_issues,
    user_rules,
)
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.model.config import Config, RolePrune
from reconciler.core.model.issues import Issue, error, sort_issues
from reconciler.core.yamlfile.positions import PosDict
from reconciler.core.yamlfile.read import ParsedFile


def validate_files(files: Sequence[ParsedFile], *, file_schema: Mapping[str, Any]) -> list[Issue]:
    """Every problem of the desired-state files: YAML, schema and cross-file; sorted."""
    checker = SchemaChecker(file_schema)
    return all_issues([analyse(parsed, checker) for parsed in files])


def all_issues(results: Sequence[FileResult], config: Config | None = None) -> list[Issue]:
    """The files' own problems and the cross-file ones (those that depend on ``config`` too,
    when given), sorted."""
    return cross_file(results, config).issues


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossFile:
    """What the files say together: every problem (sorted), and the references to roles no
    file declares that only the server can settle (plan checks them; validate notes them)."""

    issues: list[Issue]
    unchecked_roles: tuple[RoleRef, ...]


def cross_file(
    results: Sequence[FileResult], config: Config | None = None, *, whole: bool = True
) -> CrossFile:
    """:func:`all_issues` and the role references left to the server. ``whole``: the results
    are every desired-state file (``roles.prune: delete`` then requires every role a user
    holds to be declared)."""
    ordered = sorted(results, key=lambda r: r.file)
    issues = [i for r in ordered for i in r.issues]
    issues += duplicate_issues(k for r in ordered for k in r.keys)
    if config is not None:
        issues += idp_login_issues((k for r in ordered for k in r.keys), config)
    if config is not None and not config.fleet:
        issues += fleet_syntax_issues(k for r in ordered for k in r.keys)
    every = whole and config is not None and config.roles_prune is RolePrune.DELETE
    wrong, unchecked = role_ref_issues(
        undeclared_refs(ordered),
        (name for r in ordered for name in r.role_names),
        every_role_declared=every,
    )
    return CrossFile(issues=sort_issues([*issues, *wrong]), unchecked_roles=tuple(unchecked))


def validate_config(parsed: ParsedFile, *, config_schema: Mapping[str, Any]) -> list[Issue]:
    """Every problem of ``pisync.yaml``: YAML, schema, and the user rules run on ``defaults``."""
    issues = list(parsed.issues)
    if parsed.data is not None:
        issues.extend(SchemaChecker(config_schema).check(parsed.data))
        defaults = parsed.data.get("defaults")
        if isinstance(defaults, PosDict):
            issues.extend(user_rules(defaults, ("defaults",)))
            issues.extend(defaults_var_issues(defaults))
    return sort_issues(issues)


def defaults_var_issues(defaults: PosDict) -> list[Issue]:
    """A ``{var: NAME}`` in ``defaults:``: the defaults are every server's, so they hold plain
    values (a value per server goes in the users' entries, where each server puts its own)."""
    return [
        error(
            use.pos,
            f"defaults cannot hold {{var: {use.var}}}: defaults are the same on every server;"
            " write the value here, or write {var: " + use.var + "} in the users' entries",
            "defaults",
        )
        for key in VAR_KEYS
        if key in defaults
        for use in var_uses(defaults[key])
    ]
