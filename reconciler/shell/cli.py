"""The ``pisync`` command line: parse options, delegate, map errors to exit codes (SPEC §4).

Nothing else in pisync exits or decides an exit code. Heavy libraries are imported inside
the commands so that ``pisync --help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from typer.exceptions import TyperException

from reconciler.errors import InvalidStateError, PisyncError, UsageError
from reconciler.shell import output
from reconciler.shell.settings import Settings, parse_server_urls
from reconciler.shell.usage import PisyncCommand, option_names, single_dash_hint

if TYPE_CHECKING:
    from reconciler.shell.fleet import ServerChoice

EXIT_USAGE = 64
SUMMARY_HELP = "Counts, guards, policies, notes, escalations and one line per change only."

TargetOption = Annotated[
    list[str] | None,
    typer.Option("--target", metavar="USERCODE", help="Only this usercode (repeatable)."),
]

ServerOption = Annotated[
    list[str] | None,
    typer.Option(
        "--server",
        metavar="NAME",
        help="Only this server of servers: in pisync.yaml (repeatable, globs: 'prod-*').",
    ),
]
AllServersOption = Annotated[
    bool, typer.Option("--all-servers", help="Every server of servers: in pisync.yaml.")
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Only shard I of N of the chosen servers (by name), for a CI matrix.",
    ),
]


def _choice(server: list[str] | None, all_servers: bool, shard: str | None = None) -> ServerChoice:
    from reconciler.shell.fleet import ServerChoice

    return ServerChoice(names=tuple(server or ()), all=all_servers, shard=shard)


app = typer.Typer(
    name="pisync",
    help="Panintelligence users and roles as code: validate, plan and apply from YAML.",
    no_args_is_help=True,
    add_completion=True,
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
    server_urls: Annotated[
        str | None,
        typer.Option(
            "--server-urls",
            metavar="NAME=URL...",
            envvar="PISYNC_SERVER_URLS",
            help="With servers: in pisync.yaml, each server's URL (what --url is for one"
            " server): NAME=URL pairs; a server it does not name is refused.",
        ),
    ] = None,
    max_rps: Annotated[
        float | None,
        typer.Option(
            "--max-rps",
            metavar="N",
            min=0,
            help="At most N requests per second (retries count); 0 = no cap.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Parse every file; do not use .pisync-cache/ (also PISYNC_CACHE=off).",
        ),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            help="Print each request (method, path, status, time); -vv adds its query.",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print only the summary line and errors.")
    ] = False,
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
        max_rps=max_rps,
        cache=not no_cache,
        server_urls=None if server_urls is None else parse_server_urls(server_urls),
    )
    output.install(ctx.obj.env)  # no secret and no workflow command from user data gets out
    if ctx.obj.env.get("GITHUB_ACTIONS") == "true":
        output.enable_actions()


# --- validate ----------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
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
    server: ServerOption = None,
    all_servers: AllServersOption = False,
) -> None:
    """Check desired-state files offline (schema and cross-file rules)."""
    settings: Settings = ctx.obj
    chosen = _format(fmt, {"text", "json", "github"}, settings)

    def run() -> int:
        from reconciler.shell.flows.validate import validate_command

        return validate_command(
            settings,
            paths=paths or [],
            fmt=chosen,
            strict=strict,
            servers=_choice(server, all_servers),
        )

    _exit(_guarded(run, settings))


def _format(
    fmt: str | None, allowed: set[str], settings: Settings, default: str | None = None
) -> str:
    if fmt is None:
        if default is not None:
            return default
        fmt = "github" if settings.env.get("GITHUB_ACTIONS") == "true" else "text"
    if fmt not in allowed:
        raise typer.BadParameter(
            f"{fmt!r} is not one of {', '.join(sorted(allowed))}", param_hint="--format"
        )
    if fmt == "github":
        output.enable_actions()
    return fmt


# --- plan --------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
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
    target: TargetOption = None,
    brief: Annotated[
        bool,
        typer.Option("--summary", help=SUMMARY_HELP),
    ] = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="REF",
            help="Only the files changed since git REF (users removed since get the prune action).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Show the safety guards as overridden; exit 0.")
    ] = False,
    server: ServerOption = None,
    all_servers: AllServersOption = False,
    shard: ShardOption = None,
) -> None:
    """Read the live server and show what apply would change. Never writes to the server.

    PATHs, --target or --changed-since make a partial plan that prunes nothing it cannot see.
    """
    settings: Settings = ctx.obj
    chosen = _format(fmt, {"text", "markdown", "json", "github"}, settings)

    def run() -> int:
        from reconciler.shell.flows.plan import plan_command
        from reconciler.shell.planning import PlanOptions

        if changed_since is not None and paths:
            raise UsageError("--changed-since chooses the files itself: give no PATH with it")
        options = PlanOptions(
            paths=paths or [], targets=target or [], changed_since=changed_since, force=force
        )
        return plan_command(
            settings,
            options,
            fmt=chosen,
            out=out,
            detailed_exitcode=detailed_exitcode,
            brief=brief,
            servers=_choice(server, all_servers, shard),
        )

    _exit(_guarded(run, settings, fmt=chosen))


# --- show-desired --------------------------------------------------------------------------


@app.command("show-desired", cls=PisyncCommand)
def show_desired(
    ctx: typer.Context,
    server: ServerOption = None,
    all_servers: AllServersOption = False,
    fmt: Annotated[
        str | None, typer.Option("--format", metavar="FORMAT", help="yaml | json.")
    ] = None,
) -> None:
    """Print a server's effective desired state (the base with its overlay), offline.

    Each entry comes under a comment naming the file and line it comes from, so a reviewer
    sees what an overlay does.
    """
    settings: Settings = ctx.obj
    chosen = _format(fmt, {"yaml", "json"}, settings, default="yaml")

    def run() -> int:
        from reconciler.shell.flows.show_desired import show_desired_command

        return show_desired_command(settings, choice=_choice(server, all_servers), fmt=chosen)

    _exit(_guarded(run, settings))


# --- show --------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def show(
    ctx: typer.Context,
    planfile: Annotated[
        str,
        typer.Argument(
            metavar="PLANFILE",
            help="A plan saved by plan --out, a bundle of several servers' plans, or a folder"
            " of shard bundles (joined into one).",
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="text | markdown | json."),
    ] = None,
    brief: Annotated[
        bool,
        typer.Option("--summary", help=SUMMARY_HELP),
    ] = False,
    out: Annotated[
        str | None,
        typer.Option("--out", metavar="FILE", help="Write the bundle the PLANFILEs join into."),
    ] = None,
) -> None:
    """Render a saved plan without a server (checked as apply checks it).

    A folder of bundles (the shards of a --shard I/N matrix) is joined into one plan of the
    fleet, refused when a shard is missing or a server is in two; --out writes it.
    """
    settings: Settings = ctx.obj
    chosen = _format(fmt, {"text", "markdown", "json"}, settings, default="text")

    def run() -> int:
        from reconciler.shell.flows.show import show_command

        return show_command(settings, planfile=planfile, fmt=chosen, brief=brief, out=out)

    _exit(_guarded(run, settings))


# --- apply -------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def apply(
    ctx: typer.Context,
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[PLANFILE | PATH...]",
            help="A plan saved by plan --out (a .json file), or desired-state files or folders.",
        ),
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
    no_verify: Annotated[
        bool,
        typer.Option(
            "--no-verify",
            help="Do not prove each write stored as sent, nor run a canary first"
            " (unsafe on a server pisync has not been checked against).",
        ),
    ] = False,
    target: TargetOption = None,
    paths: Annotated[
        list[str] | None,
        typer.Option("--path", metavar="PATH", help="Desired-state files or folders."),
    ] = None,
    server: ServerOption = None,
    all_servers: AllServersOption = False,
    shard: ShardOption = None,
) -> None:
    """Make the changes of a plan. Without PLANFILE: plan, show, ask (or --auto-approve).

    With servers: in pisync.yaml, PLANFILE may be a bundle (plan --all-servers --out): each
    server's plan is applied with its own checks; one server's failure never stops another's.
    """
    settings: Settings = ctx.obj
    given = list(args or [])
    plans = [a for a in given if a.endswith(".json")]
    if plans and len(given) > 1:
        raise UsageError(
            f"apply takes one saved plan or desired-state paths, not both: {plans[0]} is a plan"
            " file (.json); apply it alone (pisync apply PLANFILE), or give only PATHs"
        )
    planfile = plans[0] if plans else None
    if planfile is not None and (target or paths):
        raise typer.BadParameter(
            "a saved plan is applied exactly as it was made: --target and --path do not apply"
        )

    def run() -> int:
        from reconciler.shell.flows.apply import ApplyOptions, apply_command
        from reconciler.shell.planning import PlanOptions

        options = ApplyOptions(
            planfile=planfile,
            plan=PlanOptions(
                paths=[] if planfile else [*given, *(paths or [])],
                targets=target or [],
                force=force,
            ),
            auto_approve=auto_approve,
            parallelism=parallelism,
            report=report,
            verify=not no_verify,
        )
        return apply_command(settings, options, _choice(server, all_servers, shard))

    _exit(_guarded(run, settings))


# --- import ------------------------------------------------------------------------------


@app.command("import", cls=PisyncCommand)
def import_(
    ctx: typer.Context,
    out: Annotated[
        str, typer.Option("--out", metavar="DIR", help="Folder to write the repository into.")
    ],
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            metavar="LAYOUT",
            help="per-user | per-role-file | single | per-letter (default: a file per user"
            " up to 1,000 users, per-letter files of up to 500 above).",
            show_default=False,
        ),
    ] = None,
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
    server: ServerOption = None,
    all_servers: AllServersOption = False,
) -> None:
    """Write desired-state YAML from the live server; a plan right after is empty.

    With servers: in pisync.yaml: what the chosen servers share is written once (users/), each
    server's differences in its overlay (servers/NAME/), and pisync.yaml names them.
    """
    from reconciler.core.desired.export import Layout

    settings: Settings = ctx.obj
    try:
        chosen = None if layout is None else Layout(layout)
    except ValueError:
        raise typer.BadParameter(
            f"{layout!r} is not one of per-user, per-role-file, single, per-letter",
            param_hint="--layout",
        ) from None

    def run() -> int:
        from reconciler.shell.flows.import_ import import_flow
        from reconciler.shell.loop import run as run_loop

        return run_loop(
            import_flow(
                settings,
                out=out,
                layout=chosen,
                include=include or [],
                exclude=exclude or [],
                with_roles=with_roles,
                force=force,
                servers=_choice(server, all_servers),
            )
        )

    _exit(_guarded(run, settings))


# --- doctor ------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def doctor(
    ctx: typer.Context,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="text | json (json holds no names, values or host names).",
        ),
    ] = None,
    server: ServerOption = None,
    all_servers: AllServersOption = False,
    write_check: Annotated[
        bool,
        typer.Option(
            "--write-check",
            help="Also write, read back, update and delete one scratch user (PISYNC-DOCTOR-…)"
            " to check how the server stores each shape pisync writes. Asks first.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before --write-check writes.")
    ] = False,
) -> None:
    """Check every assumption pisync makes about your server's API.

    Read-only, unless --write-check (best on a test server first).
    """
    settings: Settings = ctx.obj
    chosen = _format(fmt, {"text", "json"}, settings, default="text")

    def run() -> int:
        from reconciler.shell.flows.doctor import doctor_command

        return doctor_command(
            settings,
            fmt=chosen,
            write=write_check,
            yes=yes,
            servers=_choice(server, all_servers),
        )

    _exit(_guarded(run, settings))


# --- claims ------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def claims(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="Files or folders (default: sources)."),
    ] = None,
    target: TargetOption = None,
    out: Annotated[
        str | None, typer.Option("--out", metavar="FILE", help="Write the claims to FILE.")
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--offline",
            help="Base each user on its live payload and the live category tree, as apply"
            " does (the default); --offline reads no server, and its claims are incomplete.",
        ),
    ] = True,
    include_secure: Annotated[
        bool,
        typer.Option(
            "--include-secure",
            help="Put secure variables in (a JWT is signed, not encrypted: readable by anyone).",
        ),
    ] = False,
    server: ServerOption = None,
    all_servers: AllServersOption = False,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="Write the claims even where one would wipe live values at sign-in (offline,"
            " or a secure variable left out); they are then warnings, not errors.",
        ),
    ] = False,
) -> None:
    """Print each declared user's JWT sync-payload claim (JSON), for an identity provider.

    Reads the declared users from the server (--offline: no server, no credentials). A claim
    that cannot be complete is an error (exit 3) unless --allow-incomplete. Secure variables
    are left out unless --include-secure.
    """
    settings: Settings = ctx.obj

    def run() -> int:
        from reconciler.shell.flows.claims import ClaimsOptions, claims_command

        options = ClaimsOptions(
            paths=paths or [],
            targets=target or [],
            out=out,
            live=live,
            include_secure=include_secure,
            allow_incomplete=allow_incomplete,
        )
        return claims_command(settings, options, _choice(server, all_servers))

    _exit(_guarded(run, settings))


# --- review ------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def review(
    ctx: typer.Context,
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="markdown | csv | json | html."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="FILE|DIR",
            help="Write the report to FILE, or a bundle of every format with manifest.json to"
            " DIR (a folder, or a name without a suffix).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="PREVIOUS",
            help="Also show what changed since a previous review (its JSON or bundle).",
        ),
    ] = None,
    apply_report: Annotated[
        list[str] | None,
        typer.Option(
            "--apply-report",
            metavar="FILE",
            help="An apply --report of this server: the outcome of earlier decisions (repeatable).",
        ),
    ] = None,
    decisions_template: Annotated[
        str | None,
        typer.Option(
            "--decisions-template",
            metavar="FILE",
            help="Also write the reviewer's worksheet, one row per grant (.csv or .json).",
        ),
    ] = None,
    verify: Annotated[
        str | None,
        typer.Option(
            "--verify",
            metavar="DIR",
            help="Re-check a stored bundle instead; exit 1 if it differs.",
        ),
    ] = None,
    server: ServerOption = None,
    all_servers: AllServersOption = False,
) -> None:
    """Access-review report: every live user's grants, why, and the change that made each.

    Reads the server (never writes), the repository with its git history and, with
    GITHUB_TOKEN, who approved each pull request.
    """
    settings: Settings = ctx.obj
    chosen = None if fmt is None else _format(fmt, {"markdown", "csv", "json", "html"}, settings)

    def run() -> int:
        from reconciler.shell.flows.review import ReviewOptions, review_command

        if verify is not None and (fmt or out or since or apply_report or decisions_template):
            raise UsageError("--verify checks a bundle: give it alone")
        options = ReviewOptions(
            fmt=chosen,
            out=out,
            since=since,
            apply_reports=tuple(apply_report or ()),
            decisions_template=decisions_template,
            verify=verify,
        )
        return review_command(settings, options, _choice(server, all_servers))

    _exit(_guarded(run, settings))


# --- revoke ------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def revoke(
    ctx: typer.Context,
    decisions: Annotated[
        str,
        typer.Option(
            "--decisions",
            metavar="FILE",
            help="The reviewer's worksheet (review --decisions-template), filled in.",
        ),
    ],
    branch: Annotated[
        str | None,
        typer.Option("--branch", metavar="NAME", help="The new branch (default pisync/revoke-…)."),
    ] = None,
) -> None:
    """Turn the Deny decisions of a review into YAML edits, committed on a new branch.

    Removes each denied role, privilege or category from the user's entry (or disables the
    user), keeping the files' comments and order; the commit cites every decision.
    """
    settings: Settings = ctx.obj

    def run() -> int:
        from reconciler.shell.flows.revoke import revoke_command

        return revoke_command(settings, decisions=decisions, branch=branch)

    _exit(_guarded(run, settings))


# --- schema ------------------------------------------------------------------------------


@app.command(cls=PisyncCommand)
def schema(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            "--name", metavar="NAME", help="file | config | plan | claims (and others pisync has)."
        ),
    ] = "file",
    out: Annotated[
        str | None, typer.Option("--out", metavar="DIR", help="Write every schema into DIR.")
    ] = None,
) -> None:
    """Print one JSON Schema (the desired-state file's by default), or write them all."""
    from reconciler.shell.flows.schema import schema_command

    _exit(_guarded(lambda: schema_command(name=name, out=out), ctx.obj))


# --- errors and exit codes ---------------------------------------------------------------


def _guarded(run: Callable[[], int], settings: Settings, fmt: str = "text") -> int:
    """Run a command body, turning pisync errors into a message on stderr and an exit code."""
    from reconciler.shell.console import error, make_console

    err = make_console(stderr=True, no_color=settings.no_color)
    try:
        return int(run())
    except InvalidStateError as exc:
        if exc.issues:
            from reconciler.shell.flows.validate import write_invalid_state

            write_invalid_state(exc, fmt)
        else:
            error(err, str(exc))
        return exc.exit_code
    except PisyncError as exc:
        error(err, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error(err, "interrupted")
        return 130
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if settings.verbose:
            import traceback

            traceback.print_exc()
        error(
            err,
            f"internal error: {type(exc).__name__}: {exc}"
            + ("" if settings.verbose else " (run with -v for the traceback)"),
        )
        return 1
    finally:
        output.finish()


def _exit(code: int) -> None:
    raise typer.Exit(code)


#: Global options and whether each takes a value: they may also follow the subcommand.
GLOBAL_OPTIONS = {
    "--config": True,
    "--url": True,
    "--server-urls": True,
    "--max-rps": True,
    "--no-cache": False,
    "--no-color": False,
    "--verbose": False,
    "-v": False,
    "-vv": False,
    "-vvv": False,
    "--quiet": False,
    "-q": False,
}


#: Short global flags written together (``-vq``): every one of them a global option.
_COMBINED_FLAGS = re.compile(r"-[vq]{2,}")


def hoist_global_options(args: list[str]) -> list[str]:
    """``pisync plan -v`` as ``pisync -v plan``: global options found after the subcommand
    are moved in front of it (up to a ``--``), so they work in either place."""
    commands = set(app_commands())
    at = next((i for i, a in enumerate(args) if a in commands), None)
    if at is None:
        return args
    before, after, moved = args[:at], [args[at]], []
    rest = iter(args[at + 1 :])
    for arg in rest:
        if arg == "--":
            after += [arg, *rest]
            break
        name = arg.split("=", 1)[0]
        if _COMBINED_FLAGS.fullmatch(arg):  # -vq, -qv, -vvq: only global flags combine
            moved.append(arg)
        elif name in GLOBAL_OPTIONS:
            moved.append(arg)
            if GLOBAL_OPTIONS[name] and "=" not in arg:
                moved.append(next(rest, ""))
        else:
            after.append(arg)
    return [*before, *moved, *after]


def app_commands() -> list[str]:
    return [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]


def main() -> None:
    """Console entry point: usage errors exit 64 (2 means "changes present")."""
    args = sys.argv[1:]
    hint = single_dash_hint(args, lambda: option_names(typer.main.get_command(app)))
    if hint is not None:
        sys.stderr.write(f"Error: {hint}\n")
        sys.exit(EXIT_USAGE)
    try:
        code = _run_app(args)
    finally:
        output.finish()
    sys.exit(code)


def _run_app(args: list[str]) -> int:
    try:
        code = app(args=hoist_global_options(args), standalone_mode=False, prog_name="pisync")
    except TyperException as exc:  # click usage errors live here since typer vendored click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"Error: {exc}\n")
        status = getattr(exc, "exit_code", 2)
        return EXIT_USAGE if status == 2 else int(status)
    except UsageError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return EXIT_USAGE
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return 130
    return code if isinstance(code, int) else 0
