"""Terminal output: rich consoles, plan colouring, progress. The only module that styles text.

User data is never parsed as markup: lines are built from ``Text`` segments and consoles run
with ``highlight=False`` and ``markup=False``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

STYLES = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "sensitive": "magenta",
    "warning": "bold yellow",
    "heading": "bold",
    "error": "bold red",
}


def make_console(
    *, stderr: bool = False, no_color: bool = False, file: TextIO | None = None
) -> Console:
    from rich.console import Console

    no_color = no_color or bool(os.environ.get("NO_COLOR"))
    return Console(
        file=file,
        stderr=stderr,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
        color_system=None if no_color else "auto",
    )


def print_segments(console: Console, lines: Iterable[tuple[tuple[str, str | None], ...]]) -> None:
    """Print renderer lines (text, style-name) segments, coloured only on a terminal."""
    if not console.is_terminal:  # plain text: no per-line rich rendering (1-4 s per 1,000s)
        out = console.file
        # in batches: a large plan's lines are never all held, nor its whole text
        for batch in batched(lines, _BATCH):
            out.write("".join("".join(chunk for chunk, _ in line) + "\n" for line in batch))
        out.flush()
        return
    from rich.text import Text

    for line in lines:
        text = Text()
        for chunk, style in line:
            colour = STYLES.get(style or "") if console.is_terminal else None
            text.append(chunk, style=colour or "")
        console.print(text)


T = TypeVar("T")

#: Lines written at once when printing plain text.
_BATCH = 2_000


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def print_plain(console: Console, text: str) -> None:
    """Print text exactly as given (no markup, no wrapping surprises)."""
    console.file.write(text if text.endswith("\n") else text + "\n")
    console.file.flush()


def error(console: Console, message: str) -> None:
    from rich.text import Text

    style = STYLES["error"] if console.is_terminal else ""
    console.print(Text("Error: ", style=style) + Text(message))


class ProgressReporter:
    """A progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self._console = console
        self._enabled = console.is_terminal and not quiet
        self._progress: Any = None
        self._task: Any = None

    @contextmanager
    def task(self, description: str) -> Iterator[ProgressReporter]:
        if not self._enabled:
            yield self
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            Task,
            TaskProgressColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        class Rate(TaskProgressColumn):
            """Items per second: with server.max_requests_per_second, the rate kept to."""

            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{speed:,.0f}/s")

        with Progress(
            description,
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        ) as progress:
            self._progress = progress
            self._task = progress.add_task(description, total=None)
            try:
                yield self
            finally:
                self._progress = None

    def update(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)


class FleetProgress:
    """One progress line per server on stderr when it is a terminal (``plan`` of a fleet);
    silent otherwise. A context manager around the servers' work."""

    def __init__(self, console: Console | None, names: Sequence[str]) -> None:
        self._console = console
        self._names = list(names)
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    @classmethod
    def for_settings(cls, settings: Any, names: Sequence[str]) -> FleetProgress:
        """Lines on a terminal unless ``-q`` (``settings``: the global options)."""
        console = make_console(stderr=True, no_color=settings.no_color)
        shown = console.is_terminal and not settings.quiet
        return cls(console if shown else None, names)

    def __enter__(self) -> FleetProgress:
        if self._console is None or not self._names:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        width = max(len(n) for n in self._names)
        self._progress = Progress(
            TextColumn(f"{{task.fields[name]:<{width}}}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            console=self._console,
            transient=True,
        )
        self._progress.__enter__()
        for name in self._names:
            self._tasks[name] = self._progress.add_task(
                "", total=None, name=name, status="reading users"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def updater(self, name: str) -> Callable[[int, int], None] | None:
        """The progress callback of server ``name`` (None when nothing is shown)."""
        if self._progress is None:
            return None

        def update(done: int, total: int) -> None:
            self._progress.update(self._tasks[name], completed=done, total=total)

        return update

    def done(self, name: str, status: str) -> None:
        if self._progress is not None:
            self._progress.update(self._tasks[name], status=status)
