"""Reading the desired state from disk: find, read, parse, validate, build.

The only part of loading with side effects (file system, worker processes, the garbage
collector); everything it calls is pure core code.

- :func:`find_config`: ``--config`` (or ``PISYNC_CONFIG``, which the caller resolves), else
  the nearest ``pisync.yaml`` here or above, up to the top of the git repository.
- :func:`load`: the files named on the command line (files, or folders searched for
  ``*.yaml``/``*.yml`` at any depth), or else the config's ``sources`` globs relative to the
  config file's folder (the current folder without a config). A PATH that does not exist is a
  command-line mistake and raises :class:`~reconciler.errors.UsageError` (exit 64); finding no
  files at all is an error Issue that says where pisync looked. Hidden files and folders (a
  name starting with ".") are skipped, and so is every ``pisync.yaml``: a configuration file is
  never desired state, even when a glob or a folder takes it in (an imported repository inside
  the sources).
- Files are read and parsed in sorted order of their display path. Large inputs are parsed by
  :data:`WORKERS` processes (libyaml parsing is CPU-bound and the GIL serialises it); the
  results are gathered in the same order, so they never depend on parallelism.
- The cyclic garbage collector is paused while the documents are built (CPython otherwise
  re-scans the growing heap again and again: 2-3x slower at 100,000 users); the loaded objects
  are then frozen out of future collections (``gc.freeze``): they hold no reference cycles.
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache as cache_function
from pathlib import Path

from reconciler.core.desired.analysis import FileResult, analyse, desired_state
from reconciler.core.desired.build import config_from_document
from reconciler.core.desired.rules import RoleRef
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.desired.schema_messages import show_value
from reconciler.core.desired.validate import cross_file, validate_config
from reconciler.core.governance.policies import desired_issues
from reconciler.core.governance.subjects import Subject, role_defs, subject_of_spec
from reconciler.core.model.config import Config
from reconciler.core.model.issues import Issue, Stats, error, has_errors, sort_issues
from reconciler.core.model.values import DesiredState, SourcePos
from reconciler.core.yamlfile.positions import PosDict, PosList
from reconciler.core.yamlfile.read import DEFAULT_MAX_BYTES, ParsedFile, parse_yaml
from reconciler.errors import InvalidStateError, UsageError
from reconciler.schemas import load_schema
from reconciler.shell.output import REDACTOR, SecretsState, env_values, note_env_values
from reconciler.shell.repo.cache import FileCache, write_entry
from reconciler.shell.repo.cache import enabled as cache_enabled
from reconciler.shell.repo.sources import (
    MAX_FILES,
    Found,
    inside,
    leaves,
    leaving_link,
    link_issue,
    search,
)

CONFIG_NAME = "pisync.yaml"
YAML_SUFFIXES = (".yaml", ".yml")
#: Worker processes for large inputs (the target machine has 2 cores).
WORKERS = 2
#: The most users one run reads (ten times the size pisync is built for).
MAX_USERS = 1_000_000
#: Below this many bytes in all, starting processes costs more than it saves.
PARALLEL_MIN_BYTES = 2_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The most a repository may make one run read: files, and users in all."""

    files: int = MAX_FILES
    users: int = MAX_USERS


DEFAULT_LIMITS = Limits()


def limits_from(env: Mapping[str, str]) -> Limits:
    """The limits, or the operator's own (``PISYNC_MAX_FILES``, ``PISYNC_MAX_USERS``; the
    environment of the run, never the repository's files)."""

    def number(name: str, default: int) -> int:
        raw = env.get(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"{name}={raw!r} is not a whole number") from None
        if value < 1:
            raise UsageError(f"{name}={raw!r} must be at least 1")
        return value

    return Limits(
        files=number("PISYNC_MAX_FILES", MAX_FILES), users=number("PISYNC_MAX_USERS", MAX_USERS)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadResult:
    """Everything ``validate``, ``plan`` and ``apply`` need from the files.

    - ``desired``: ``None`` when there is any error (in the config or the files), or when
      ``load(build=False)`` was told not to build it;
    - ``issues``: every problem, sorted;
    - ``files``: the display paths read (relative to the current folder when below it);
      ``pisync.yaml`` is not among them, but ``stats.files`` counts it;
    - ``undeclared_roles``: role references no file declares that the offline checks leave
      to the server (plan checks them against the live roles; validate says how many);
    - ``partial``: PATHs named only some of the desired state (a plan over them prunes
      nothing it cannot see).
    """

    config: Config
    config_path: Path | None
    files: tuple[str, ...]
    desired: DesiredState | None
    issues: tuple[Issue, ...]
    stats: Stats
    undeclared_roles: tuple[RoleRef, ...] = ()
    #: the files are a part of the desired state (PATHs that leave some sources out)
    partial: bool = False
    cache_hits: int = field(default=0, compare=False)  # analyses read from the cache

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not has_errors(self.issues)


def find_config(explicit: str | None, start: Path | None = None) -> Path | None:
    """The config file to use: ``explicit`` (which must exist), else the nearest
    ``pisync.yaml`` in the current folder or above it, as git finds ``.git``: the search stops
    at the top of the git repository (a folder holding ``.git``) or of the file system."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"config file {explicit} does not exist")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return Path(CONFIG_NAME) if start is None and folder == here else candidate
        if (folder / ".git").exists():
            return None
    return None


def load_config(config_path: Path | None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Config:
    """The configuration alone; ``InvalidStateError`` (with the issues) when it is invalid."""
    config, issues = _read_config(config_path, max_bytes)
    if has_errors(issues):
        raise InvalidStateError(f"{config_path} is invalid", sort_issues(issues))
    return config


def load(
    paths: Sequence[str],
    config_path: Path | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    workers: int | None = None,
    build: bool = True,
    exactly: Sequence[Path] | None = None,
    cache: bool = True,
    policies_today: dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Find, parse and validate the desired state; build it when there is no error.

    ``workers``: parser processes (``None``: :data:`WORKERS` for large inputs, else none).
    ``build=False`` skips building the desired state, which ``pisync validate`` does not
    need (about 15% of the time at 100,000 users). ``exactly``: read these files and no
    others, a part of the desired state (``--changed-since``); none at all is not an error.
    ``cache``: reuse the analysis of unchanged files (:mod:`reconciler.shell.repo.cache`).
    ``policies_today``: check the config's ``policies:`` on what the files declare, as of
    this date (``pisync validate``), each violation an Issue at its user's entry.
    ``limits``: the most files and users a repository may make pisync read (each an error
    at the file past it: a hostile repository cannot make a run cost without bound).
    """
    config, issues = _read_config(config_path, max_bytes)
    base = config_path.parent if config_path is not None else Path()
    if exactly is not None:
        links = [i for p in exactly if (i := leaving_link(p, base, _display(p))) is not None]
        issues += links
        kept = [p for p in exactly if not p.is_symlink() or inside(p, base)]
        found = sorted(((p, _display(p)) for p in kept), key=lambda pair: pair[1])
        partial = True
    else:
        found, looked, partial, problems = _find_files(
            paths, config, base, config_path, limits.files
        )
        issues += problems
        if not found and not problems:
            issues.append(error(None, f"no desired-state files found: {looked}"))
    store = FileCache(base) if cache and cache_enabled() else None
    subjects = policies_today is not None and bool(config.policies)
    with _gc_paused():
        results = _analyse_all(found, max_bytes, workers, build, store, subjects)
        # an invalid pisync.yaml is read as Config(): no rule that depends on it is checked
        settled = None if has_errors(issues) else config
        together = cross_file(results, settled, whole=not partial)
        issues += together.issues
        issues += _too_many_users(results, limits.users)
        if policies_today is not None and subjects:
            issues += _policy_issues(results, config, policies_today)
        desired = None if has_errors(issues) or not build else desired_state(results)
    if store is not None and not paths and exactly is None:
        store.prune()  # every source was read: what no file uses now is stale
    return LoadResult(
        config=config,
        config_path=config_path,
        files=tuple(display for _, display in found),
        desired=desired,
        issues=tuple(sort_issues(issues)),
        stats=_stats(results, config_path),
        undeclared_roles=together.unchecked_roles,
        partial=partial,
        cache_hits=0 if store is None else store.hits,
    )


# --- config ------------------------------------------------------------------------------


def _read_config(path: Path | None, max_bytes: int) -> tuple[Config, list[Issue]]:
    if path is None:
        return Config(), []
    if leaving_link(path, path.parent, _display(path)) is not None:
        return Config(), [link_issue(_display(path))]
    parsed = _read_one(path, _display(path), max_bytes, allow_empty=True)
    issues = validate_config(parsed, config_schema=load_schema("pisync-config"))
    issues += _source_issues(parsed)
    if has_errors(issues):
        return Config(), issues
    return config_from_document(parsed), issues


def _source_issues(parsed: ParsedFile) -> list[Issue]:
    """A source glob that is absolute or climbs out of the folder of pisync.yaml, at its item:
    the top level's ``sources`` and each server's (``servers.NAME.sources``)."""
    data = parsed.data
    if not isinstance(data, PosDict):
        return []
    lists: list[tuple[str, object]] = [("sources", data.get("sources"))]
    servers = data.get("servers")
    if isinstance(servers, PosDict):
        lists += [
            (f"servers.{name}.sources", entry.get("sources"))
            for name, entry in servers.items()
            if isinstance(entry, PosDict)
        ]
    return [
        error(
            sources.item_at(i),
            f"the source glob {show_value(glob)} leaves the folder of pisync.yaml; pisync reads"
            " nothing outside the repository: write globs relative to this folder, without ..",
            f"{where}[{i}]",
        )
        for where, sources in lists
        if isinstance(sources, PosList)
        for i, glob in enumerate(sources)
        if isinstance(glob, str) and leaves(glob)
    ]


# --- finding files -----------------------------------------------------------------------


def _find_files(
    paths: Sequence[str], config: Config, base: Path, config_path: Path | None, limit: int
) -> tuple[list[tuple[Path, str]], str, bool, list[Issue]]:
    """(path, display path) pairs sorted by display path, a note of where pisync looked,
    whether the files are only a part of the desired state (PATHs that leave some of the
    sources out), and the problems of the search (links that leave the repository, too many
    files: :mod:`reconciler.shell.repo.sources`)."""
    sources = search(base, config.sources, root=base, display=_display, limit=limit)
    issues = sources.issues
    if paths:
        named = _from_paths(paths, base, limit)
        candidates, issues = named.files, named.issues
        folders = [p for p in paths if Path(p).is_dir()]
        looked = "no *.yaml or *.yml file in " + ", ".join(folders or paths)
        full = named.full
    else:
        candidates, full = sources.files, sources.full
        origin = "the sources in pisync.yaml" if config_path is not None else "the default sources"
        where = base.resolve().as_posix()
        looked = f"no file in {where} matches {', '.join(config.sources)} ({origin})"
    if full:
        issues.append(_too_many(candidates[-1], limit))
        candidates = candidates[:limit]
    skip = config_path.resolve() if config_path is not None else None
    unique = {p.resolve(): p for p in candidates if p.name != CONFIG_NAME}
    if skip is not None:
        unique.pop(skip, None)
    pairs = [(p, _display(p)) for p in unique.values()]
    every = {p.resolve() for p in sources.files if p.name != CONFIG_NAME}
    partial = bool(paths) and set(unique) != every
    return sorted(pairs, key=lambda pair: pair[1]), looked, partial, issues


def _too_many(path: Path, limit: int) -> Issue:
    return error(
        SourcePos(file=_display(path), line=1, col=1),
        f"more than {limit:,} desired-state files, the most pisync reads in one run"
        " (PISYNC_MAX_FILES); this one is past it: merge files, or narrow the sources in"
        " pisync.yaml",
    )


def _too_many_users(results: Sequence[FileResult], limit: int) -> list[Issue]:
    """An error at the file whose users take the total past ``limit`` (files in order)."""
    total = 0
    for result in sorted(results, key=lambda r: r.file):
        total += result.user_entries
        if total > limit:
            return [
                error(
                    SourcePos(file=result.file, line=1, col=1),
                    f"more than {limit:,} users in the desired state, the most pisync reads"
                    " in one run (PISYNC_MAX_USERS); this file takes the count past it",
                )
            ]
    return []


_YAML_GLOBS = tuple(f"**/*{suffix}" for suffix in YAML_SUFFIXES)


def _from_paths(paths: Sequence[str], root: Path, limit: int) -> Found:
    """The files named on the command line: a file as named (whatever its suffix), a folder
    searched for YAML files at any depth (bounded by the repository ``root``, or by itself
    when it lies outside)."""
    found = Found()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            bound = root if inside(path, root) else path
            more = search(path, _YAML_GLOBS, root=bound, display=_display, limit=limit)
            found.files += more.files
            found.issues += more.issues
            found.full = found.full or more.full
        elif path.is_file():
            found.files.append(path)  # named explicitly: read whatever its suffix
        else:
            raise UsageError(f"{raw}: no such file or folder")
    return found


def _display(path: Path) -> str:
    """The path relative to the current folder when it is below it, else absolute. Its
    folders are resolved, its own name is not: a link is shown as itself, never as the
    place it points to."""
    absolute = path.absolute().parent.resolve() / path.name
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


# --- reading and parsing -----------------------------------------------------------------


def _read_one(path: Path, display: str, max_bytes: int, *, allow_empty: bool = False) -> ParsedFile:
    """One file, parsed; a file too large is refused before it is read."""
    at = SourcePos(file=display, line=1, col=1)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            message = (
                f"the file is {size:,} bytes, over the limit of {max_bytes:,} bytes; "
                "split it into smaller files"
            )
            return ParsedFile(file=display, data=None, issues=(error(at, message),))
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        issue = error(at, f"cannot read the file: {reason}")
        return ParsedFile(file=display, data=None, issues=(issue,))
    return parse_yaml(data, display, max_bytes=max_bytes, allow_empty=allow_empty)


#: (path, display, max_bytes, build, subjects, cache folder and key or None)
Job = tuple[str, str, int, bool, bool, tuple[str, str] | None]


@cache_function
def _checker() -> SchemaChecker:
    """The schema checker of this process (built once: compiling the schema costs)."""
    return SchemaChecker(load_schema("pisync-file"))


def _analyse_jobs(jobs: Sequence[Job]) -> list[FileResult]:
    """Read, parse and analyse a chunk of files (top level, so a worker process can run it),
    each result written to the cache where the job says, by the process that made it (the
    encoding is shared between the processes like the parsing)."""
    results = []
    for path, display, max_bytes, build, subjects, entry in jobs:
        parsed = _read_one(Path(path), display, max_bytes)
        result = analyse(parsed, _checker(), build=build, subjects=subjects)
        note_env_values(result.env_names)  # the entry never holds the file's own secrets
        if entry is not None:
            write_entry(Path(entry[0]), entry[1], result)
        results.append(result)
    return results


def _worker_init(secrets: SecretsState) -> None:
    gc.disable()  # the same reason as in the parent: building many objects
    REDACTOR.adopt(secrets)  # what the parent hides, the cache entries written here leave out


def _analyse_all(
    found: Sequence[tuple[Path, str]],
    max_bytes: int,
    workers: int | None,
    build: bool,
    store: FileCache | None,
    subjects: bool = False,
) -> list[FileResult]:
    """Every file's analysis, in the given order: from the cache when the file is unchanged,
    else parsed (by worker processes for large inputs)."""
    results: dict[str, FileResult] = {}
    keys: dict[str, str] = {}
    todo: list[tuple[Path, str]] = []
    for path, display in found:
        if store is not None:
            try:
                keys[display] = store.key(display, path.read_bytes())
            except OSError:
                todo.append((path, display))  # _read_one says why
                continue
            hit = store.get(keys[display], built=build, subjects=subjects)
            if hit is not None:
                note_env_values(hit.env_names)
                results[display] = hit
                continue
        todo.append((path, display))
    jobs: list[Job] = [
        (
            str(path),
            display,
            max_bytes,
            build,
            subjects,
            None if store is None or display not in keys else store.entry_for(keys[display]),
        )
        for path, display in todo
    ]
    n = _workers_for(todo) if workers is None else max(1, min(workers, len(jobs)))
    known = REDACTOR.values  # the secrets the parser processes start with
    made: list[FileResult] | None = None
    if n > 1:
        try:
            made = _analyse_shared(jobs, n - 1)
        except (OSError, RuntimeError):  # no processes here (sandbox, limits): go serial
            made = None
    if made is None:
        made = _analyse_jobs(jobs)
    for result in made:
        note_env_values(result.env_names)  # before anything can print them
        results[result.file] = result
    if store is not None and (learned := REDACTOR.values - known):
        # an entry written before a later file named one of its secrets may hold it
        for result in made:
            if result.file in keys and learned - env_values(result.env_names):
                store.drop_if_secret(keys[result.file])
    return [results[display] for _, display in found]


def _workers_for(found: Sequence[tuple[Path, str]]) -> int:
    if len(found) < 2:
        return 1
    total = 0
    for path, _ in found:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return min(WORKERS, len(found)) if total >= PARALLEL_MIN_BYTES else 1


def _start_method() -> str:
    """``fork`` when it is safe (POSIX, not macOS, one thread): no re-import, no start-up
    cost. Otherwise ``forkserver``/``spawn``, which re-import the main module in each worker
    (harmless for the ``pisync`` entry point, which guards on ``__name__``)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform != "darwin" and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _analyse_shared(jobs: list[Job], helpers: int) -> list[FileResult]:
    """Analyse with ``helpers`` worker processes *and* this process, meeting in the middle.

    The chunks are offered to the workers from the back; this process takes them from the
    front, cancelling each offer it takes over, until it reaches one a worker has started.
    So only the workers' share is sent back between processes (as analysed results, without
    the documents), and a slow or busy core just ends up with fewer chunks. Results are
    put back in chunk order: the outcome never depends on who parsed what.
    """
    size = max(1, len(jobs) // (8 * (helpers + 1)))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    results: list[list[FileResult] | None] = [None] * len(chunks)
    context = multiprocessing.get_context(_start_method())
    with ProcessPoolExecutor(
        helpers, mp_context=context, initializer=_worker_init, initargs=(REDACTOR.state(),)
    ) as pool:
        offers = {i: pool.submit(_analyse_jobs, chunks[i]) for i in reversed(range(len(chunks)))}
        for i, chunk in enumerate(chunks):
            if not offers[i].cancel():
                break  # a worker has it (and everything after it)
            results[i] = _analyse_jobs(chunk)
        for i, offer in offers.items():
            if results[i] is None:
                results[i] = offer.result()
    return [parsed for chunk_result in results if chunk_result for parsed in chunk_result]


def _policy_issues(results: Sequence[FileResult], config: Config, today: dt.date) -> list[Issue]:
    """The ``policies:`` on what the files declare (users the config ignores left out)."""
    defs = role_defs(d for r in sorted(results, key=lambda r: r.file) for d in r.role_defs)
    subjects = (
        s
        for r in sorted(results, key=lambda r: r.file)
        for s in _subjects(r)
        if not config.is_ignored(s.usercode)
    )
    return desired_issues(subjects, defs, config.policies, today=today)


def _subjects(result: FileResult) -> tuple[Subject, ...]:
    """A result's subjects: analysed, or made from its built users (a plan's cache entry)."""
    if result.subjects is not None:
        return result.subjects
    made = (subject_of_spec(u, i) for i, u in enumerate(result.users))
    return tuple(s for s in made if s is not None)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # what was loaded stays: keep it out of every later collection
        if enabled:
            gc.enable()


def _stats(results: Sequence[FileResult], config_path: Path | None) -> Stats:
    """Files checked (``pisync.yaml`` included), users and roles declared (valid or not)."""
    return Stats(
        files=len(results) + (1 if config_path is not None else 0),
        users=sum(r.user_entries for r in results),
        roles=sum(r.role_entries for r in results),
    )
