"""Execute a Plan against the server: phase by phase, concurrently within a phase.

Each change is written by :meth:`reconciler.pi.operations.PiApi.write` (which requests, and
what their answers mean, is the adapter's business). One failed change does not stop the
others, and no error inside one change — the server's refusal or a bug — escapes it: it
becomes that change's outcome with its message, so the report is always complete.

Stopping (:class:`Stop`): ``stop`` set = start nothing new (changes not started are "not
attempted"), in-flight changes finish; ``abandon`` set = in-flight requests are cancelled too
(their outcome is unknown: "abandoned").
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.model.values import LiveState
from reconciler.core.plans.order import parent_depths, phase
from reconciler.core.plans.plan import Action, Change, Kind, Plan
from reconciler.errors import PisyncError
from reconciler.pi.operations import PiApi
from reconciler.shell.server.transport import counting

APPLIED, FAILED, NOT_ATTEMPTED, ABANDONED = "applied", "failed", "not_attempted", "abandoned"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    change: Change
    status: str  # APPLIED, FAILED, NOT_ATTEMPTED or ABANDONED
    message: str = ""
    attempts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == APPLIED

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.change.kind.value,
            "key": self.change.key,
            "action": self.change.action.value,
            "outcome": self.status,
            "message": self.message,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
            "source": None if self.change.source is None else str(self.change.source),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """One outcome per change of the plan, in plan order."""

    outcomes: tuple[Outcome, ...]

    def of(self, status: str) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return self.of(FAILED)

    @property
    def not_attempted(self) -> tuple[Outcome, ...]:
        return self.of(NOT_ATTEMPTED)

    @property
    def abandoned(self) -> tuple[Outcome, ...]:
        return self.of(ABANDONED)

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.ok and o.change.action is action)


@dataclass(slots=True)
class Stop:
    """What an interrupt asks of a running apply (see the module docstring)."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    abandon: asyncio.Event = field(default_factory=asyncio.Event)


Reporter = Callable[[Outcome, int, int], None]  # (outcome, done, total)


async def execute(
    plan: Plan,
    api: PiApi,
    live: LiveState,
    *,
    secrets: Mapping[str, str],
    concurrency: int,
    report: Reporter | None = None,
    stop: Stop | None = None,
) -> ApplyResult:
    """Run the plan's changes in order (see the module docstring)."""
    run = _Run(api, live, secrets, concurrency, report, stop or Stop(), len(plan.changes))
    work = asyncio.ensure_future(run.all(plan.changes))
    abandon = asyncio.ensure_future(run.stop.abandon.wait())
    try:
        await asyncio.wait({work, abandon}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        abandon.cancel()
    if not work.done():
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
    else:
        work.result()
    return ApplyResult(outcomes=tuple(run.outcome_of(c) for c in plan.changes))


class _Run:
    def __init__(
        self,
        api: PiApi,
        live: LiveState,
        secrets: Mapping[str, str],
        concurrency: int,
        report: Reporter | None,
        stop: Stop,
        total: int,
    ) -> None:
        self.api = api
        self.live = live
        self.secrets = secrets
        self.concurrency = concurrency
        self.report = report
        self.stop = stop
        self.total = total
        self.outcomes: dict[int, Outcome] = {}
        self.started: dict[int, float] = {}

    def outcome_of(self, change: Change) -> Outcome:
        found = self.outcomes.get(id(change))
        if found is not None:
            return found
        if id(change) in self.started:
            return Outcome(
                change=change,
                status=ABANDONED,
                message="interrupted while in flight; its result is unknown (plan again)",
                seconds=time.monotonic() - self.started[id(change)],
            )
        return Outcome(change=change, status=NOT_ATTEMPTED, message="not attempted")

    async def all(self, changes: Sequence[Change]) -> None:
        depth = parent_depths(changes)
        # a created user waits for its created parent: parents have lower depth (change_order)
        for _, batch in itertools.groupby(
            changes, key=lambda c: (phase(c), depth.get(c.key, 0) if c.kind is Kind.USER else 0)
        ):
            if self.stop.stop.is_set():
                return
            await self._batch(list(batch))

    async def _batch(self, changes: list[Change]) -> None:
        pending = iter(changes)

        async def worker() -> None:
            for change in pending:
                if self.stop.stop.is_set():
                    return
                self.started[id(change)] = time.monotonic()
                outcome = await _one(change, self.api, self.live, self.secrets)
                self.outcomes[id(change)] = outcome
                if self.report is not None:
                    self.report(outcome, len(self.outcomes), self.total)

        await asyncio.gather(
            *(worker() for _ in range(max(1, min(self.concurrency, len(changes)))))
        )


async def _one(change: Change, api: PiApi, live: LiveState, secrets: Mapping[str, str]) -> Outcome:
    started = time.monotonic()
    # counted per task: the transport's own stats mix every worker's requests
    with counting() as sent:
        try:
            await api.write(change, live, secrets)
        except PisyncError as exc:
            return _failed(change, str(exc), sent.attempts, started)
        except Exception as exc:  # a bug must not end the apply half-way, nor hide the rest
            message = f"internal error: {type(exc).__name__}: {exc}"
            return _failed(change, message, sent.attempts, started)
    return Outcome(
        change=change,
        status=APPLIED,
        attempts=max(1, sent.attempts),
        seconds=time.monotonic() - started,
    )


def _failed(change: Change, message: str, attempts: int, started: float) -> Outcome:
    return Outcome(
        change=change,
        status=FAILED,
        message=message,
        attempts=attempts,
        seconds=time.monotonic() - started,
    )
