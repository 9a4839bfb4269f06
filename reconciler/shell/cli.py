"""The ``pisync`` command line: parse options, delegate, map errors to exit codes (SPEC §4).

Nothing else in pisync exits or decides an exit code. Heavy libraries are imported inside
the commands so that ``pisync --help`` and shell completion stay fast.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated, Any

import typer

from reconciler.errors import InvalidStateError, PisyncError, UsageError
from reconciler.shell.run import Settings

EXIT_USAGE = 64

app = typer.Typer(
    name="pisync",
    help="Panintelligence users and roles as code: validate, plan and apply from YAML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version as dist_version

        sys.stdout.write(f"pisync {dist_version('pisync')}\n")
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", metavar="FILE", envvar="PISYNC_CONFIG", help="pisync.yaml to use."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            envvar="PISYNC_URL",
            help="API base URL, e.g. https://host:8224/pi/api/v2.",
        ),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")
    ] = False,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="More detail.")] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors and results.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    ctx.obj = Settings(
        config=config,
        url=url,
        no_color=no_color or bool(os.environ.get("NO_COLOR")),
        verbose=verbose,
        quiet=quiet,
    )


# --- validate ----------------------------------------------------------------------------


@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="Files or folders (default: sources in pisync.yaml)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="text | json | github (default: github under GitHub Actions).",
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Check desired-state files offline (schema and cross-file rules). Exit 0 or 3."""
    settings: Settings = ctx.obj
    chosen = _issue_format(fmt, {"text", "json", "github"})

    def run() -> int:
        from reconciler.core import issues as issues_mod
        from reconciler.shell.load import find_config, load

        # validate never builds the desired state: ~1.2 s saved at 100,000 users
        result = load(paths or [], find_config(settings.config), build=False)
        text = _render_issues(issues_mod, chosen, result.issues, result)
        sys.stdout.write(text)
        errors = sum(1 for i in result.issues if i.severity == "error")
        warnings = len(result.issues) - errors
        return 3 if errors or (strict and warnings) else 0

    _exit(_guarded(run, settings))


def _issue_format(fmt: str | None, allowed: set[str]) -> str:
    if fmt is None:
        return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    if fmt not in allowed:
        raise typer.BadParameter(
            f"{fmt!r} is not one of {', '.join(sorted(allowed))}", param_hint="--format"
        )
    return fmt


def _render_issues(issues_mod: Any, fmt: str, issues: Any, result: Any) -> str:
    if fmt == "json":
        return str(issues_mod.render_json(issues, result.stats))
    if fmt == "github":
        return str(issues_mod.render_github(issues, result.stats))
    return str(issues_mod.render_text(issues, result.stats))


# --- plan --------------------------------------------------------------------------------


@app.command()
def plan(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="Files or folders (default: sources)."),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", metavar="FILE", help="Also write the JSON plan to FILE.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="text | markdown | json | github."),
    ] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes.")
    ] = False,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", metavar="USERCODE", help="Only this usercode (repeatable)."),
    ] = None,
) -> None:
    """Read the live server and show what apply would change. Never writes to the server."""
    settings: Settings = ctx.obj
    chosen = _issue_format(fmt, {"text", "markdown", "json", "github"})

    def run() -> int:
        plan_, _live = asyncio.run(_plan(settings, paths or [], target or []))
        _show_plan(settings, plan_, chosen)
        if out:
            from reconciler.shell.run import write_plan_file

            write_plan_file(plan_, out)
        return 2 if detailed_exitcode and not plan_.empty else 0

    _exit(_guarded(run, settings, fmt=chosen))


async def _plan(settings: Settings, paths: list[str], targets: list[str]) -> Any:
    from reconciler.shell import run as flows
    from reconciler.shell.console import ProgressReporter, make_console

    loaded = flows.load_desired(paths, settings)
    url = flows.server_url(settings, loaded.config)
    secrets = flows.read_secrets(loaded.desired, settings.env)
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    async with flows.make_client(settings, loaded.config, url) as client:
        with progress.task("Reading users"):
            plan_, live = await flows.read_and_diff(
                loaded,
                client,
                secrets,
                targets=targets,
                progress=progress.update,
                settings_env=settings.env,
            )
    return plan_, live


def _show_plan(settings: Settings, plan_: Any, fmt: str) -> None:
    from reconciler.core import render
    from reconciler.shell.console import make_console, print_plain, print_segments

    console = make_console(no_color=settings.no_color)
    if fmt == "json":
        print_plain(console, render.render_json(plan_))
    elif fmt == "markdown":
        print_plain(console, render.render_markdown(plan_))
    else:
        print_segments(console, render.text_lines(plan_))
        if fmt == "github":
            _github_summary(render.render_markdown(plan_))


def _github_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown)


# --- apply -------------------------------------------------------------------------------


@app.command()
def apply(
    ctx: typer.Context,
    planfile: Annotated[
        str | None, typer.Argument(metavar="PLANFILE", help="A plan saved by plan --out.")
    ] = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Do not ask for confirmation.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Override the safety guards.")] = False,
    parallelism: Annotated[
        int | None,
        typer.Option("--parallelism", metavar="N", min=1, max=64, help="Requests in flight."),
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", metavar="FILE", help="Write a JSON report to FILE.")
    ] = None,
    paths: Annotated[
        list[str] | None,
        typer.Option("--path", metavar="PATH", help="Desired-state files or folders."),
    ] = None,
) -> None:
    """Make the changes of a plan. Without PLANFILE: plan, show, ask (or --auto-approve)."""
    settings: Settings = ctx.obj

    def run() -> int:
        from reconciler.shell.apply_flow import apply_flow

        return asyncio.run(
            apply_flow(
                settings,
                planfile=planfile,
                paths=paths or [],
                auto_approve=auto_approve,
                force=force,
                parallelism=parallelism,
                report=report,
            )
        )

    _exit(_guarded(run, settings))


# --- import ------------------------------------------------------------------------------


@app.command("import")
def import_(
    ctx: typer.Context,
    out: Annotated[
        str, typer.Option("--out", metavar="DIR", help="Folder to write the repository into.")
    ],
    layout: Annotated[
        str, typer.Option("--layout", metavar="LAYOUT", help="per-user | per-role-file | single.")
    ] = "per-user",
    include: Annotated[
        list[str] | None,
        typer.Option("--include", metavar="GLOB", help="Only usercodes matching GLOB."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="GLOB", help="Skip usercodes matching GLOB."),
    ] = None,
    with_roles: Annotated[
        bool, typer.Option("--with-roles/--no-roles", help="Also write users/roles.yaml.")
    ] = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write desired-state YAML from the live server; a plan right after is empty."""
    from reconciler.core.export import Layout

    settings: Settings = ctx.obj
    try:
        chosen = Layout(layout)
    except ValueError:
        raise typer.BadParameter(
            f"{layout!r} is not one of per-user, per-role-file, single", param_hint="--layout"
        ) from None

    def run() -> int:
        from reconciler.shell.import_flow import import_flow

        return asyncio.run(
            import_flow(
                settings,
                out=out,
                layout=chosen,
                include=include or [],
                exclude=exclude or [],
                with_roles=with_roles,
                force=force,
            )
        )

    _exit(_guarded(run, settings))


# --- schema ------------------------------------------------------------------------------


@app.command()
def schema(
    out: Annotated[
        str | None, typer.Option("--out", metavar="DIR", help="Write the schemas into DIR.")
    ] = None,
) -> None:
    """Print the JSON Schemas (or write them into a folder)."""
    import json
    from pathlib import Path

    from reconciler.schemas import SCHEMA_NAMES, load_schema

    if out is None:
        for name in SCHEMA_NAMES:
            sys.stdout.write(json.dumps(load_schema(name), indent=2) + "\n")
        raise typer.Exit(0)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name in SCHEMA_NAMES:
        (folder / name).write_text(json.dumps(load_schema(name), indent=2) + "\n", encoding="utf-8")
        sys.stdout.write(f"wrote {folder / name}\n")
    _exit(0)


# --- errors and exit codes ---------------------------------------------------------------


def _guarded(run: Any, settings: Settings, fmt: str = "text") -> int:
    """Run a command body, turning pisync errors into a message on stderr and an exit code."""
    from reconciler.shell.console import error, make_console

    err = make_console(stderr=True, no_color=settings.no_color)
    try:
        return int(run())
    except InvalidStateError as exc:
        if exc.issues:
            sys.stdout.write(_invalid_state_report(exc, fmt))
        else:
            error(err, str(exc))
        return exc.exit_code
    except PisyncError as exc:
        error(err, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error(err, "interrupted")
        return 130


def _invalid_state_report(exc: InvalidStateError, fmt: str) -> str:
    """Issues found while loading (with file counts) or at plan time (against live state)."""
    from reconciler.core import issues as issues_mod

    if exc.stats is not None:
        render = issues_mod.render_github if fmt == "github" else issues_mod.render_text
        return str(render(exc.issues, exc.stats))
    ordered = issues_mod.sort_issues(exc.issues)
    if fmt == "github":
        lines = [issues_mod.github_annotation(i) for i in ordered]
    else:
        lines = [issues_mod.format_issue(i) for i in ordered]
    errors, _ = issues_mod.count(ordered)
    lines.append(f"{errors} error{'s' if errors != 1 else ''}; nothing was planned or applied.")
    return "\n".join(lines) + "\n"


def _exit(code: int) -> None:
    raise typer.Exit(code)


def main() -> None:
    """Console entry point: usage errors exit 64 (2 means "changes present")."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False, prog_name="pisync")
    except TyperException as exc:  # click usage errors live here since typer vendored click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"Error: {exc}\n")
        sys.exit(EXIT_USAGE if getattr(exc, "exit_code", 2) == 2 else getattr(exc, "exit_code", 1))
    except UsageError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
