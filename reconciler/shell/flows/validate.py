"""``pisync validate`` and the one way problems (Issues) are printed, by any command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from reconciler.core.desired.rules import unchecked_roles_note
from reconciler.core.model import issues as issues_mod
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, Stats
from reconciler.core.render import issues as issue_report
from reconciler.errors import InvalidStateError, UsageError
from reconciler.shell import output
from reconciler.shell.fleet import ServerChoice, choose_servers
from reconciler.shell.repo.desired_files import find_config, limits_from, load, load_config
from reconciler.shell.repo.fleet_files import fleet_config, read_fleet
from reconciler.shell.settings import Settings, today


def validate_command(
    settings: Settings,
    *,
    paths: Sequence[str],
    fmt: str,
    strict: bool,
    servers: ServerChoice | None = None,
) -> int:
    """Exit 0 when valid (warnings allowed unless ``strict``), else 3. The config's
    ``policies:`` are checked too, on what the files declare, as of today (``PISYNC_TODAY``).
    With ``servers:`` in pisync.yaml, every chosen server's effective state is checked."""
    choice = servers or ServerChoice()
    config = fleet_config(settings)
    if config is not None or choice.given:
        config = config or load_config(find_config(settings.config))
        return _validate_fleet(settings, config, paths, fmt, strict, choice)
    # validate never builds the desired state: ~1.2 s saved at 100,000 users
    result = load(
        paths,
        find_config(settings.config),
        build=False,
        cache=settings.cache,
        policies_today=today(settings.env),
        limits=limits_from(settings.env),
    )
    note = unchecked_roles_note(result.undeclared_roles)
    write_issues(
        result.issues,
        result.stats,
        fmt,
        quiet=settings.quiet and not strict,
        notes=() if note is None else (note,),
    )
    errors, warnings = issues_mod.count(result.issues)
    return 3 if errors or (strict and warnings) else 0


def _validate_fleet(
    settings: Settings,
    config: Config,
    paths: Sequence[str],
    fmt: str,
    strict: bool,
    choice: ServerChoice,
) -> int:
    """The base, every chosen server's overlay and every chosen server's effective state."""
    if paths:
        raise UsageError(
            "with servers: in pisync.yaml, validate checks each server's whole effective"
            " state (the base and its overlay): give no PATH (--server NAME chooses servers)"
        )
    entries = choose_servers(config, choice, settings, command="validate", default_all=True)
    files = read_fleet(
        settings, lambda _: [e.name for e in entries], policies_today=today(settings.env)
    )
    notes = []
    if files.state is not None:
        unchecked = {r for s in files.state.servers for r in s.unchecked_roles}
        note = unchecked_roles_note(sorted(unchecked))
        notes = [] if note is None else [note]
        notes.append(
            f"{len(files.state.servers)} server{'s' if len(files.state.servers) != 1 else ''}"
            " checked: "
            + ", ".join(
                f"{s.name} ({len(s.desired.users)} users, {len(s.desired.roles)} roles)"
                for s in files.state.servers
            )
        )
    write_issues(files.issues, files.stats, fmt, quiet=settings.quiet and not strict, notes=notes)
    errors, warnings = issues_mod.count(files.issues)
    return 3 if errors or (strict and warnings) else 0


def write_issues(
    issues: Sequence[Issue],
    stats: Stats,
    fmt: str,
    *,
    quiet: bool = False,
    notes: Sequence[str] = (),
) -> None:
    """The issues in ``fmt`` on stdout, with ``notes`` (what the check could not settle);
    ``quiet`` (``-q``, text and github): the errors and the summary line only (the JSON report
    stays whole). ``github``: the annotations as pisync's own workflow commands, every other
    line as text the runner never acts on."""
    if fmt == "json":
        sys.stdout.write(issue_report.render_json(issues, stats, notes=notes))
    elif fmt == "github":
        write_github(issue_report.github_lines(issues, stats, quiet=quiet, notes=notes))
    else:
        sys.stdout.write(issue_report.render_text(issues, stats, quiet=quiet, notes=notes))


def write_github(lines: Sequence[issue_report.GithubLine]) -> None:
    for is_command, line in lines:
        if is_command:
            output.command(line)
        else:
            sys.stdout.write(line + "\n")


def write_invalid_state(exc: InvalidStateError, fmt: str) -> None:
    """Issues found while loading (with file counts) or at plan time (against live state)."""
    if exc.stats is not None:
        write_issues(exc.issues, exc.stats, "github" if fmt == "github" else "text")
        return
    ordered = issues_mod.sort_issues(exc.issues)
    errors, _ = issues_mod.count(ordered)
    last = f"{errors} error{'s' if errors != 1 else ''}; nothing was planned or applied."
    if fmt == "github":
        write_github([*((True, issue_report.github_annotation(i)) for i in ordered), (False, last)])
    else:
        sys.stdout.write("".join(issue_report.issue_line(i) + "\n" for i in ordered) + last + "\n")
