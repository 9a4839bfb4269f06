"""``pisync apply``: plan (or read a saved plan), check guards and staleness, confirm, execute,
report.

The run is split around the confirmation prompt (one event loop, :class:`asyncio.Runner`,
kept between the steps): while a person is asked, no loop runs, so Ctrl-C cancels at once.
The report is written whatever happens once changes have started, interrupts included.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING, Any

from reconciler.core.governance.policies import as_issue
from reconciler.core.model.config import Config, ServerEntry
from reconciler.core.model.issues import Issue, format_issue, sort_issues
from reconciler.core.model.values import LiveState
from reconciler.core.plans.fleet import FleetPlan, most_severe
from reconciler.core.plans.plan import Action, Plan
from reconciler.core.render import plan_text
from reconciler.core.render.sentences import NO_CHANGES
from reconciler.errors import (
    ApplyFailed,
    AuthenticationFailed,
    GuardError,
    InvalidStateError,
    PisyncError,
    StalePlanError,
    UsageError,
)
from reconciler.shell.bundle import is_bundle, read_bundle
from reconciler.shell.console import (
    ProgressReporter,
    error,
    make_console,
    print_plain,
    print_segments,
)
from reconciler.shell.files import write_atomic
from reconciler.shell.fleet import (
    ServerChoice,
    choose_servers,
    credentials_problem,
    server_settings,
)
from reconciler.shell.loop import run_in
from reconciler.shell.loop import runner as loop_runner
from reconciler.shell.planfile import read_plan_file
from reconciler.shell.planning import (
    PlanOptions,
    policy_refusal,
    prove_saved_plan,
    read_and_diff,
    touched_users,
)
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.repo.desired_state import Loaded, load_desired
from reconciler.shell.repo.fleet_files import FleetFiles, fleet_config, load_fleet, server_loaded
from reconciler.shell.secrets import desired_needs, gather_secrets, plan_needs, read_secrets
from reconciler.shell.server.connect import Server, open_server
from reconciler.shell.server.executor import (
    NOT_ATTEMPTED,
    ApplyResult,
    Outcome,
    Stop,
    execute,
    stopped_message,
)
from reconciler.shell.settings import Settings, server_url
from reconciler.shell.signals import confirm, exit_code, interrupts, is_interactive

if TYPE_CHECKING:
    from rich.console import Console

#: 2: outcomes are applied / failed / not_attempted / abandoned (1 had ok / failed / not_started)
REPORT_FORMAT_VERSION = 2
EXIT_CANCELLED = 1  # "no" at the prompt, as Terraform does
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyOptions:
    planfile: str | None = None
    plan: PlanOptions = field(default_factory=PlanOptions)
    auto_approve: bool = False
    parallelism: int | None = None
    report: str | None = None
    verify: bool = True  # prove each write stored as sent (--no-verify: do not)


def apply_command(
    settings: Settings, options: ApplyOptions, servers: ServerChoice | None = None
) -> int:
    choice = servers or ServerChoice()
    bundle = options.planfile is not None and is_bundle(options.planfile)
    config = fleet_config(settings)
    if bundle or config is not None or choice.given:
        config = config or load_config(find_config(settings.config))
        return _apply_fleet(settings, options, choice, config)
    with loop_runner() as runner:
        return _Apply(settings, options, runner).run()


class _Apply:
    def __init__(
        self,
        settings: Settings,
        options: ApplyOptions,
        runner: asyncio.Runner,
        *,
        server: ServerSource | None = None,
    ) -> None:
        """``server``: one server of a fleet (its desired state and config, and the plan of
        a bundle when one is applied), instead of what the repository and PLANFILE hold."""
        self.settings = settings
        self.options = options
        self.runner = runner
        self.server = server
        self.out = make_console(no_color=settings.no_color)
        self.err = make_console(stderr=True, no_color=settings.no_color)
        self.progress = ProgressReporter(self.err, quiet=settings.quiet)

    def run(self) -> int:
        options = self.options
        source = self.server
        # the desired state of the checked-out commit: a saved plan is proved against it
        loaded = (
            load_desired(options.plan.paths, self.settings) if source is None else source.loaded()
        )
        config = loaded.config
        url = server_url(self.settings, config)
        saved = None
        if options.planfile is not None:
            saved = read_plan_file(options.planfile) if source is None else source.saved_plan()
            if saved.server.rstrip("/") != url:
                raise StalePlanError(
                    f"the plan was made against {saved.server}, not {url}; plan again for this"
                    " server"
                )
            touched = replace(loaded.desired, users=touched_users(loaded.desired, saved))
            secrets = read_secrets(
                chain(plan_needs(saved), desired_needs(touched)), self.settings.env
            )
            unset: list[Issue] = []
        else:
            # unset variables are reported with the plan's other problems (read_and_diff)
            secrets, unset = gather_secrets(desired_needs(loaded.desired), self.settings.env)
        concurrency = options.parallelism or config.server.concurrency
        server = open_server(self.settings, config, url, options.parallelism)
        try:
            if saved is not None:
                plan, live = run_in(self.runner, self._saved_plan(server, saved, loaded, secrets))
            else:
                plan, live = run_in(self.runner, self._fresh_plan(server, loaded, secrets, unset))
            if plan.policy_errors and saved is not None:  # the findings were not shown yet
                raise InvalidStateError(
                    "the saved plan breaks the policies of pisync.yaml; nothing was applied",
                    [as_issue(f) for f in plan.policy_errors],
                )
            if plan.policy_errors:
                raise InvalidStateError(f"{policy_refusal(plan)}; nothing was applied")
            if plan.empty:
                if options.planfile is not None or self._quiet:
                    print_plain(self.out, NO_CHANGES)
                if options.report:  # the job's evidence that the apply ran and had nothing to do
                    self._report(plan, ApplyResult(outcomes=()), interrupted=False)
                return 0
            if plan.blocked:
                raise GuardError(_blocked_message(plan))
            if options.planfile is None and not options.auto_approve:
                cancelled = self._confirm()
                if cancelled is not None:
                    return cancelled
            return self._execute(server, plan, live, secrets, concurrency)
        finally:
            run_in(self.runner, server.__aexit__(None, None, None))

    async def _saved_plan(
        self, server: Server, plan: Plan, loaded: Loaded, secrets: dict[str, str]
    ) -> tuple[Plan, LiveState]:
        with self.progress.task("Reading users"):
            return await prove_saved_plan(
                plan,
                loaded,
                server,
                secrets,
                self.settings,
                concurrency=self.options.parallelism or loaded.config.server.concurrency,
                force=self.options.plan.force,
            )

    async def _fresh_plan(
        self, server: Server, loaded: Loaded, secrets: dict[str, str], unset: list[Issue]
    ) -> tuple[Plan, LiveState]:
        with self.progress.task("Reading users"):
            plan, live = await read_and_diff(
                loaded,
                server,
                secrets,
                self.options.plan,
                self.settings,
                progress=self.progress.update,
                for_apply=True,
                unresolved=unset,
            )
        if not self._quiet:
            print_segments(self.out, plan_text.text_lines(plan))
        return plan, live

    @property
    def _quiet(self) -> bool:
        """``-q``: only the result line and errors; the plan is still shown before a prompt
        (nobody confirms what they have not seen)."""
        planned = self.options.planfile is None
        return self.settings.quiet and (not planned or self.options.auto_approve)

    def _confirm(self) -> int | None:
        """None to go on; otherwise the exit code (nothing was written)."""
        if not is_interactive():
            raise UsageError(
                "apply needs confirmation but there is no terminal; pass --auto-approve, or"
                " apply a saved plan (pisync plan --out plan.json; pisync apply plan.json)"
            )
        try:
            answer = confirm("Apply these changes?")
        except (KeyboardInterrupt, EOFError):
            sys.stderr.write("\nApply cancelled; nothing was changed.\n")
            return EXIT_INTERRUPTED
        if not answer:
            sys.stderr.write("Apply cancelled; nothing was changed.\n")
            return EXIT_CANCELLED
        return None

    def _execute(
        self, server: Server, plan: Plan, live: LiveState, secrets: dict[str, str], concurrency: int
    ) -> int:
        stop = Stop()
        result = ApplyResult(outcomes=())
        signals: list[int] = []

        def first() -> None:
            stop.stop.set()
            server.stop()
            self.err.file.write(
                "\nStopping: no new changes will start; the ones in flight finish. Press"
                " Ctrl-C again to abandon them.\n"
            )

        def second() -> None:
            stop.abandon.set()
            self.err.file.write("\nAbandoning the changes in flight.\n")

        async def go() -> ApplyResult:
            with (
                interrupts(asyncio.get_running_loop(), first, second, signals),
                self.progress.task("Applying"),
            ):
                return await execute(
                    plan,
                    server.api,
                    live,
                    secrets=secrets,
                    concurrency=concurrency,
                    report=lambda o, done, total: self.progress.update(done, total),
                    stop=stop,
                    verify=self.options.verify,
                )

        try:
            result = run_in(self.runner, go())
        finally:
            if self.options.report:
                self._report(plan, result, interrupted=bool(signals))
        _print_result(self.out, result, interrupted=bool(signals))
        if signals:
            return exit_code(signals)
        raise_for_failures(result)
        return 0

    def _report(self, plan: Plan, result: ApplyResult, *, interrupted: bool) -> None:
        """The report: written to ``--report``, or handed to a fleet's apply."""
        body = report_body(plan, result, interrupted=interrupted)
        if self.server is not None:
            self.server.report(body)
        elif self.options.report:
            write_atomic(self.options.report, _json_text(body), what="the report")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSource:
    """One server of a fleet, for :class:`_Apply`: its config and desired state, the plan
    a bundle holds for it, and where its report goes."""

    config: Config
    loaded: Callable[[], Loaded]
    saved_plan: Callable[[], Plan]
    report: Callable[[dict[str, Any]], None]


def _json_text(body: Mapping[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _blocked_message(plan: Plan) -> str:
    return (
        "apply refused by safety guard(s); nothing was changed:\n  "
        + "\n  ".join(str(g) for g in plan.guards)
        + "\nRe-run with --force if this is intended."
    )


def _print_result(out: Console, result: ApplyResult, *, interrupted: bool) -> None:
    for o in result.failed:
        print_plain(out, f"  ! {o.change.label} ({o.change.action.value}) failed: {o.message}")
    print_plain(out, apply_summary(result, interrupted=interrupted))
    if interrupted:
        print_plain(out, "Run pisync apply again to converge: it changes only what still differs.")


def apply_summary(result: ApplyResult, *, interrupted: bool = False) -> str:
    head = "Apply interrupted" if interrupted else "Apply complete"
    if result.tripped is not None and not interrupted:
        head = "Apply stopped"
    line = (
        f"{head}: {result.count(Action.CREATE)} created, {result.count(Action.UPDATE)}"
        f" updated, {result.count(Action.DISABLE)} disabled, {result.count(Action.DELETE)}"
        f" deleted, {len(result.failed)} failed"
    )
    if result.not_attempted:
        line += f", {len(result.not_attempted)} not attempted"
    if result.abandoned:
        line += f", {len(result.abandoned)} abandoned (result unknown)"
    return line + "."


def raise_for_failures(result: ApplyResult) -> None:
    if result.tripped is not None:
        raise ApplyFailed(stopped_message(result.tripped, len(result.not_attempted)))
    if result.failed:
        raise ApplyFailed(
            f"{len(result.failed)} change(s) failed; the rest were applied. Fix the causes above"
            " (the server's messages) and run pisync apply again: it changes only what still"
            " differs"
        )


def write_report(path: str, plan: Plan, result: ApplyResult, *, interrupted: bool) -> None:
    """The JSON report (:func:`report_body`), written atomically."""
    body = report_body(plan, result, interrupted=interrupted)
    write_atomic(path, _json_text(body), what="the report")


def report_body(plan: Plan, result: ApplyResult, *, interrupted: bool) -> dict[str, Any]:
    """The JSON report: every change of the plan with its outcome (no secrets: plans hold
    none). Changes the run never reached are "not_attempted"."""
    done = {id(o.change): o for o in result.outcomes}
    rows = [
        (done.get(id(c)) or Outcome(change=c, status=NOT_ATTEMPTED, message="not attempted"))
        for c in plan.changes
    ]
    counts = ApplyResult(outcomes=tuple(rows))
    body = {
        "format_version": REPORT_FORMAT_VERSION,
        "server": plan.server,
        "interrupted": interrupted,
        "summary": {
            "created": counts.count(Action.CREATE),
            "updated": counts.count(Action.UPDATE),
            "disabled": counts.count(Action.DISABLE),
            "deleted": counts.count(Action.DELETE),
            "failed": len(counts.failed),
            "not_attempted": len(counts.not_attempted),
            "abandoned": len(counts.abandoned),
        },
        "changes": [o.to_dict() for o in rows],
    }
    return body


# --- a fleet ---------------------------------------------------------------------------------


def _apply_fleet(
    settings: Settings, options: ApplyOptions, choice: ServerChoice, config: Config
) -> int:
    """Several servers, one after the other, each exactly as one server is applied (its own
    stale check, guards, policies, prompt or saved plan, and report); one server's failure
    never stops the next. The exit code is the most severe of the servers'; ``--report``
    writes one report with a section per server."""
    out = make_console(no_color=settings.no_color)
    if options.plan.paths:
        raise UsageError(
            "with servers: in pisync.yaml, apply covers whole servers (--server NAME, or a"
            " bundle): give no PATH"
        )
    saved: FleetPlan | None = None
    if options.planfile is not None:
        saved = read_bundle(options.planfile) if is_bundle(options.planfile) else None
        if saved is None:
            raise UsageError(
                f"{options.planfile} is the plan of one server, but pisync.yaml has servers:;"
                " apply the bundle that pisync plan --server/--all-servers --out wrote"
            )
        if not config.fleet:
            raise UsageError(
                f"{options.planfile} holds the plans of several servers, but pisync.yaml has no"
                " servers:; apply it in the repository it was planned in"
            )
        named = {s.name for s in saved.servers}
        chosen = choose_servers(config, choice, settings, command="apply", default_all=True)
        unknown = sorted(named - {e.name for e in config.servers})
        entries = [e for e in chosen if e.name in named]
    else:
        chosen = choose_servers(config, choice, settings, command="apply", default_all=False)
        unknown, entries = [], list(chosen)
    files = load_fleet(settings, lambda _: [e.name for e in entries])
    results: list[dict[str, Any]] = []
    codes = [1 for _ in unknown]
    for name in unknown:
        print_plain(out, f"=== {name}: not applied: pisync.yaml has no server of this name")
        results.append(
            {
                "name": name,
                "url": None,
                "exit_code": 1,
                "error": "not in pisync.yaml",
                "report": None,
            }
        )
    with loop_runner() as runner:
        for index, entry in enumerate(entries):
            code, result = _apply_one(settings, options, runner, entry, files, saved, out)
            codes.append(code)
            results.append(result)
            if code in (EXIT_INTERRUPTED, 143):
                for rest in entries[index + 1 :]:
                    results.append(
                        {
                            "name": rest.name,
                            "url": rest.url,
                            "exit_code": code,
                            "error": "not attempted: interrupted",
                            "report": None,
                        }
                    )
                break
    if options.report:
        body = {"format_version": REPORT_FORMAT_VERSION, "kind": "bundle", "servers": results}
        write_atomic(options.report, _json_text(body), what="the report")
    interrupted = [c for c in codes if c in (EXIT_INTERRUPTED, 143)]
    final = interrupted[0] if interrupted else most_severe(codes)
    troubled = [r["name"] for r in results if r["exit_code"] not in (0,)]
    line = f"Fleet apply: {len(results) - len(troubled)} of {len(results)} servers succeeded"
    print_plain(out, line + (f"; not: {', '.join(troubled)}." if troubled else "."))
    return final


def _apply_one(
    settings: Settings,
    options: ApplyOptions,
    runner: asyncio.Runner,
    entry: ServerEntry,
    files: FleetFiles,
    saved: FleetPlan | None,
    out: Console,
) -> tuple[int, dict[str, Any]]:
    """One server of a fleet's apply: its exit code and its section of the report."""
    result: dict[str, Any] = {"name": entry.name, "url": entry.url, "error": None, "report": None}
    print_plain(out, f"=== {entry.name}: {entry.url}")
    server_plan = None if saved is None else next(s for s in saved.servers if s.name == entry.name)

    def saved_plan() -> Plan:
        assert server_plan is not None
        if server_plan.plan is None:
            raise PisyncError(
                f"its plan in the bundle failed, so there is none to apply: {server_plan.error}"
            )
        return server_plan.plan

    def keep(body: dict[str, Any]) -> None:
        result["report"] = body

    source = ServerSource(
        config=entry.config,
        loaded=lambda: server_loaded(files, entry.name),
        saved_plan=saved_plan,
        report=keep,
    )
    mine = server_settings(settings, entry)
    missing = credentials_problem(entry, settings.env)
    wanted = {t.upper() for t in options.plan.targets}
    if wanted:  # each server applies the targets it declares, never a prune of another's
        declared = {u.usercode for u in server_loaded(files, entry.name).desired.users}
        if not wanted & declared:
            print_plain(out, "Not applied: it declares none of the --target users.")
            result.update(exit_code=0, error="it declares none of the --target users")
            return 0, result
        plan = replace(options.plan, targets=sorted(wanted & declared))
        options = replace(options, plan=plan)
    try:
        if missing is not None:
            raise AuthenticationFailed(missing)
        code = _Apply(mine, options, runner, server=source).run()
    except InvalidStateError as exc:
        code = exc.exit_code
        result["error"] = str(exc)
        error(make_console(stderr=True, no_color=settings.no_color), f"server {entry.name}: {exc}")
        for issue in sort_issues(exc.issues):
            print_plain(out, "  " + format_issue(issue))
    except PisyncError as exc:
        code = 3 if isinstance(exc, UsageError) else exc.exit_code
        result["error"] = str(exc)
        error(make_console(stderr=True, no_color=settings.no_color), f"server {entry.name}: {exc}")
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        result["error"] = "interrupted"
    result["exit_code"] = code
    return code, result
