"""``pisync review``: the access-review report of the live server, joined with the
repository, its git history and the forge (:mod:`reconciler.core.review`).

Loads the desired state (it must be valid: exit 3 otherwise); starts tracing each declared
grant through git (:mod:`reconciler.shell.repo.provenance`) while it reads every live user with
its payload (the whole server, whatever the repository declares) and the server's own user
count; asks the forge who approved the pull requests found
(:mod:`reconciler.shell.server.forge`), and git which decisions earlier reviews had enacted;
then makes the rows one by one, each written out at once to every output
(:mod:`.outputs`), and finally the head (summary, manifest, privileged track, what changed
``--since`` a previous review, the decisions). A manifest whose counts do not reconcile fails
the review (exit 1) and writes nothing. Never writes to the server. Secure variables' values
are read from the environment only to tell drift, and appear nowhere.

``--out DIR`` writes a bundle (every format, ``manifest.json`` with the SHA-256 of each);
``--verify DIR`` checks one later (:mod:`.verify`).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.core.model.config import Config
from reconciler.core.model.values import DesiredState, LiveState, LiveUser
from reconciler.core.review.build import Inputs, Rows, Tally
from reconciler.core.review.decisions import outcomes_of
from reconciler.core.review.formats import TEMPLATE_CSV, TEMPLATE_JSON, Context, manifest_csv
from reconciler.core.review.manifest import ReadFacts
from reconciler.core.review.model import Approvals, History, Review
from reconciler.errors import IncompleteRead, UsageError
from reconciler.shell.console import ProgressReporter, make_console
from reconciler.shell.files import write_atomic
from reconciler.shell.fleet import ServerChoice, choose_servers, one_by_one
from reconciler.shell.flows.review.evidence import (
    digest,
    origin,
    read_apply_reports,
    read_previous,
    remote_repository,
    repository_root,
    shown_path,
    utc_now,
)
from reconciler.shell.flows.review.outputs import (
    BUNDLE,
    FORMATS,
    MANIFEST_CSV,
    MANIFEST_JSON,
    Sink,
    bundle_sinks,
    check_bundle_folder,
    finish_bundle,
    is_bundle,
    manifest_beside,
)
from reconciler.shell.flows.review.verify import verify_bundle
from reconciler.shell.loop import run
from reconciler.shell.repo.decisions import enacted_decisions
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.repo.desired_state import Loaded, load_desired
from reconciler.shell.repo.fleet_files import fleet_config, load_fleet, server_loaded
from reconciler.shell.repo.provenance import history_of
from reconciler.shell.secrets import desired_needs
from reconciler.shell.server.connect import open_server
from reconciler.shell.server.forge import Forge, approvals, forge_of
from reconciler.shell.server.live import read_live
from reconciler.shell.settings import Settings, server_url, today

__all__ = ["ReviewOptions", "review_command"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewOptions:
    fmt: str | None = None  # None: markdown (a single file or stdout)
    out: str | None = None  # a file, or a bundle folder
    since: str | None = None  # a previous review: its JSON, or its bundle
    apply_reports: tuple[str, ...] = ()
    decisions_template: str | None = None  # the worksheet to write (.csv or .json)
    verify: str | None = None  # a bundle to check instead of reviewing


def review_command(
    settings: Settings, options: ReviewOptions, servers: ServerChoice | None = None
) -> int:
    """Write the review (see the module docstring); exit 0. With ``servers:`` in
    pisync.yaml, a review of each chosen server: with several, ``--out`` is required and
    names a file (or folder) per server, the server's name added (``review-prod.html``)."""
    if options.verify is not None:
        return verify_bundle(settings, Path(options.verify))
    choice = servers or ServerChoice()
    fleet = fleet_config(settings)
    if fleet is not None or choice.given:
        return _review_fleet(settings, options, choice, fleet)
    return _review(settings, options, None)


def _review_fleet(
    settings: Settings, options: ReviewOptions, choice: ServerChoice, config: Config | None
) -> int:
    config = config or load_config(find_config(settings.config))
    entries = choose_servers(config, choice, settings, command="review", default_all=False)
    if len(entries) > 1 and options.out is None:
        raise UsageError(
            f"a review of {len(entries)} servers needs --out FILE (or a folder): one is written"
            " per server, named after it"
        )
    files = load_fleet(settings, lambda _: [e.name for e in entries])
    for entry, mine, out in one_by_one(settings, entries, options.out):
        source = (entry.config, lambda name=entry.name: server_loaded(files, name))
        _review(mine, replace(options, out=out), source)
    return 0


def _review(
    settings: Settings,
    options: ReviewOptions,
    source: tuple[Config, Callable[[], Loaded]] | None,
) -> int:
    """One server's review; ``source``: a fleet's server (its config and desired state)."""
    bundle = options.out is not None and is_bundle(options.out)
    if bundle and options.fmt is not None:
        raise UsageError("--out names a folder: a bundle holds every format; give no --format")
    if bundle and options.out is not None:
        check_bundle_folder(Path(options.out))
    config = load_config(find_config(settings.config)) if source is None else source[0]
    url = server_url(settings, config)
    repo = _repository(settings)
    root = repository_root(repo)
    previous = None if options.since is None else read_previous(Path(options.since))
    reports = read_apply_reports((Path(p) for p in options.apply_reports), url)
    enacted = enacted_decisions(repo) if root is not None and repo is not None else []
    env = settings.env
    base = Inputs(
        live=LiveState(users={}, roles={}, categories={}),
        desired=DesiredState(),  # until it is loaded, while the server is read
        config=config,
        server=url,
        today=today(env),
        previous=previous,
        enacted=enacted,
        outcomes=outcomes_of(reports),
    )
    made = _Pass(base, _sinks(options, bundle), env)
    started = utc_now()
    try:
        load = source[1] if source is not None else None
        loaded, live, count = run(
            _read(settings, config, url, made, forge_of(env, remote_repository(repo)), repo, load)
        )
        finished = utc_now()
        paths = _inputs(settings, loaded, options)
        final = replace(
            made.inputs,
            live=live,
            facts=ReadFacts(
                read_started=started,
                read_finished=finished,
                server_count=count,
                origin=origin(repo, root, paths),
                inputs=tuple(digest(p, shown_path(p, root)) for p in paths),
            ),
        )
        review = made.head(final)
    except BaseException:
        made.discard()
        raise
    made.finish(review)
    if bundle and options.out is not None:
        template = options.decisions_template
        folder = Path(options.out)
        extra = [Path(template)] if template is not None and _inside(Path(template), folder) else []
        finish_bundle(folder, review, extra)
    elif options.fmt == "csv" and options.out is not None and review.manifest is not None:
        # a CSV holds rows only: its manifest goes beside it, as in a bundle
        write_atomic(
            manifest_beside(Path(options.out)),
            manifest_csv(review.manifest.to_dict()),
            what="the review's manifest",
        )
    if not settings.quiet and options.out:
        _said(review, options.out, bundle)
    return 0


class _Pass:
    """The rows, made as the users arrive from the server once provenance and approvals are
    known (the users that arrive before wait), each written at once to every output."""

    def __init__(
        self, inputs: Inputs, sinks: Callable[[Context], list[Sink]], env: Mapping[str, str]
    ) -> None:
        self.inputs = inputs
        self.settings_env = env
        self.make_sinks = sinks
        self.tally = Tally(inputs)
        self.rows: Rows | None = None
        self.sinks: list[Sink] = []
        self.waiting: list[LiveUser] = []

    def ready(
        self, loaded: Loaded, history: History, approvals: Approvals, catalog: LiveState
    ) -> None:
        """The desired state, provenance, approvals and the server's roles and categories are
        known: make the rows of the users that came so far, and of the rest as they come."""
        env = self.settings_env
        self.inputs = replace(
            self.inputs,
            desired=loaded.desired,
            config=loaded.config,
            secrets={n.env: env[n.env] for n in desired_needs(loaded.desired) if n.env in env},
            history=history,
            approvals=approvals,
        )
        inputs = self.inputs
        review_id = (
            f"{inputs.today.isoformat()}-"
            + hashlib.sha256(f"{inputs.server}\n{utc_now()}".encode()).hexdigest()[:8]
        )
        self.sinks = self.make_sinks(
            Context(today=inputs.today, approvals=approvals, review_id=review_id)
        )
        self.rows = Rows(inputs, catalog)
        self.flush()

    def add(self, user: LiveUser) -> None:
        """One more user read; its row is made with the next few (a batch shares the
        policies' preparation)."""
        self.waiting.append(user)
        if self.rows is not None and len(self.waiting) >= Rows.BATCH:
            self.flush()

    def flush(self) -> None:
        """Make the rows of the users waiting (provenance and approvals being known)."""
        assert self.rows is not None
        waiting, self.waiting = self.waiting, []
        for at in range(0, len(waiting), Rows.BATCH):
            for row in self.rows.rows(waiting[at : at + Rows.BATCH]):
                self.tally.add(row)
                for sink in self.sinks:
                    sink.add(row)

    def head(self, final: Inputs) -> Review:
        """The head, once every user is read; a manifest whose counts do not reconcile
        fails (nothing is written)."""
        assert self.rows is not None
        self.flush()
        review = self.tally.head(self.rows.server_findings(), final=final)
        if review.manifest is not None and not review.manifest.ok:
            failed = [f"{c.name}: {c.detail}" for c in review.manifest.checks if c.ok is False]
            raise IncompleteRead(
                "the review's counts do not reconcile (" + "; ".join(failed) + "): the server"
                " changed while pisync read it, or answered inconsistently; nothing was"
                " written; run the review again"
            )
        return review

    def finish(self, review: Review) -> None:
        for sink in self.sinks:
            sink.finish(review)

    def discard(self) -> None:
        for sink in self.sinks:
            sink.discard()


def _sinks(options: ReviewOptions, bundle: bool) -> Callable[[Context], list[Sink]]:
    """What makes the outputs asked for, given the rows' context."""

    def make(context: Context) -> list[Sink]:
        if bundle and options.out is not None:
            sinks = bundle_sinks(Path(options.out), context)
        else:
            target = Path(options.out) if options.out else None
            sinks = [Sink(FORMATS[options.fmt or "markdown"], target, context)]
        template = options.decisions_template
        if template is not None:
            fmt = TEMPLATE_JSON if template.lower().endswith(".json") else TEMPLATE_CSV
            sinks.append(Sink(fmt, Path(template), context))
        return sinks

    return make


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _said(review: Review, out: str, bundle: bool) -> None:
    s = review.summary
    where = out
    if bundle:
        names = ", ".join([name for name, _ in BUNDLE] + [MANIFEST_CSV, MANIFEST_JSON])
        where = f"{out.rstrip('/')}/ ({names})"
    sys.stderr.write(
        f"Wrote the access review of {s.users} users to {where} ({len(s.unmanaged)}"
        f" unmanaged, {len(s.drifted)} drifted, {s.violations['error']} policy errors,"
        f" {s.violations['warning']} warnings).\n"
    )


def _inputs(settings: Settings, loaded: Loaded, options: ReviewOptions) -> list[Path]:
    """Every file the review read: pisync.yaml, the desired-state files, the apply reports,
    the previous review."""
    config = find_config(settings.config)
    paths = [] if config is None else [config]
    paths += [Path(f) for f in loaded.files]
    paths += [Path(p) for p in options.apply_reports]
    if options.since is not None:
        since = Path(options.since)
        paths.append(since / "review.json" if since.is_dir() else since)
    return paths


def _repository(settings: Settings) -> Path | None:
    """Where git runs: the folder of ``pisync.yaml`` (``--config`` may name one elsewhere)."""
    config = find_config(settings.config)
    return config.resolve().parent if config is not None else Path.cwd()


async def _read(
    settings: Settings,
    config: Config,
    url: str,
    made: _Pass,
    forge: Forge,
    repo: Path | None,
    load: Callable[[], Loaded] | None = None,
) -> tuple[Loaded, LiveState, int | None]:
    """The desired state; every live user (each made into its row as it arrives); the
    server's own count of its users (None: it gives none).

    While the server is read, a thread loads the desired state (the read needs it only when
    the user list is over, to look up declared users it left out) and then git traces the
    grants (git runs in processes of its own), after which the forge is asked who approved
    their pull requests; the rows wait for all three. The roles and categories the rows are
    made with are read first, and must be the ones the read ends with (or the rows could be
    wrong: the read fails, run it again). An invalid desired state is the error reported,
    whatever the server did meanwhile.
    """
    progress = ProgressReporter(
        make_console(stderr=True, no_color=settings.no_color), quiet=settings.quiet
    )
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as background:
        loading = (
            background.submit(load_desired, (), settings)
            if load is None
            else background.submit(load)
        )

        def trace() -> tuple[Loaded, History]:
            loaded = loading.result()
            idp = loaded.config.is_login_via_idp
            return loaded, history_of(loaded.desired, repo=repo, idp=idp)

        traced = loop.run_in_executor(background, trace)
        try:
            async with open_server(settings, config, url) as server:
                await server.sign_in()
                roles, categories = await asyncio.gather(
                    server.api.list_roles(), server.api.list_categories()
                )
                catalog = LiveState(
                    users={},
                    roles={r.name.casefold(): r for r in roles},
                    categories={c.name.casefold(): c for c in categories},
                )

                async def prepare() -> None:
                    loaded, history = await traced
                    numbers = {c.pull_request for c in history.commits.values()}
                    numbers |= {e.pull_request for _, e in made.inputs.enacted}
                    asked = await approvals(forge, {n for n in numbers if n is not None})
                    made.ready(loaded, history, asked, catalog)

                prepared = asyncio.create_task(prepare())
                try:
                    with progress.task("Reading users"):
                        live = await read_live(
                            server,
                            payload_for=lambda code: True,  # every user's access is shown
                            declared=_Declared(loading),
                            concurrency=config.server.concurrency,
                            progress=progress.update,
                            keep_payload=_no_copy,  # a review writes nothing: no copy kept
                            on_user=made.add,
                        )
                    count = await server.api.count_users()
                finally:
                    await asyncio.gather(prepared, return_exceptions=True)
                prepared.result()
        except Exception:
            loading.exception()  # wait for the load: its error, if any, is the one to report
            loading.result()
            raise
    if _catalog(live) != _catalog(catalog):
        raise IncompleteRead(
            "the server's roles or categories changed while pisync read its users; run the"
            " review again"
        )
    return loading.result(), live, count


class _Declared(Collection[str]):
    """The usercodes the desired state declares, once it is loaded (the read asks only at
    the end of the user list; it waits for the load then)."""

    def __init__(self, loading: Future[Loaded]) -> None:
        self.loading = loading

    def _codes(self) -> set[str]:
        return {u.usercode for u in self.loading.result().desired.users}

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes())

    def __len__(self) -> int:
        return len(self._codes())

    def __contains__(self, code: object) -> bool:
        return code in self._codes()


def _no_copy(categories: object) -> Callable[[LiveUser], bool]:
    """Keep no user's server copy (only a write is merged onto one)."""
    return _never


def _never(user: LiveUser) -> bool:
    return False


def _catalog(live: LiveState) -> tuple[object, object]:
    """The roles and categories, as comparable values."""
    return (
        {k: (r.name, r.id, dict(r.fields)) for k, r in live.roles.items()},
        {k: (c.name, c.id, c.parent_id) for k, c in live.categories.items()},
    )
