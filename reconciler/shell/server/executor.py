"""Execute a Plan against the server: phase by phase, concurrently within a phase.

Each change is written by :meth:`reconciler.pi.operations.PiApi.write` (which requests, and
what their answers mean, is the adapter's business). One failed change does not stop the
others, and no error inside one change — the server's refusal or a bug — escapes it: it
becomes that change's outcome with its message, so the report is always complete.

Verification (on unless ``verify`` is False): every write is proved stored as sent (the
adapter compares; :mod:`reconciler.pi.verify`), and

- a canary: the first write of each kind (kind and action: a role create, a user update…)
  runs alone, and the rest of that kind start only once one of them is applied and verified
  (after :data:`CANARY_TRIES` canaries the server refused outright, the rest run anyway: a
  refusal says nothing about how the server stores a write);
- a circuit breaker: once a write is stored otherwise than sent (a wrong guess about the API,
  which would repeat on every user) no new change starts; the rest are "not attempted",
  saying why (:attr:`ApplyResult.tripped` names the change).

A user change that needs a role whose create failed is not sent (the server would refuse
it): it is "not attempted", naming the role.

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
from reconciler.errors import PisyncError, StoredDifferently
from reconciler.pi.operations import PiApi
from reconciler.shell.server.transport import counting

APPLIED, FAILED, NOT_ATTEMPTED, ABANDONED = "applied", "failed", "not_attempted", "abandoned"
#: Canaries of one kind run alone (each refused outright) before the rest of it runs anyway.
CANARY_TRIES = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    change: Change
    status: str  # APPLIED, FAILED, NOT_ATTEMPTED or ABANDONED
    message: str = ""
    attempts: int = 0
    seconds: float = 0.0
    #: the write was taken but stored otherwise than sent (verification failed)
    stored_differently: bool = False

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
    """One outcome per change of the plan, in plan order; ``tripped``: the write stored
    otherwise than sent that stopped the apply (None: it was not stopped so)."""

    outcomes: tuple[Outcome, ...]
    tripped: Outcome | None = None

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


def stopped_message(tripped: Outcome, not_attempted: int) -> str:
    """Why an apply stopped at a write stored otherwise than sent, and what to do."""
    n = not_attempted
    return (
        f"apply stopped: {tripped.change.label} was written but the server stored it"
        " otherwise than pisync sent (above), so no further change was started"
        f" ({n} not attempted): a guess pisync makes about the API does not hold for this"
        " server. Run pisync doctor --write-check against a test server to see which, and"
        " apply again only once it passes (--no-verify skips this check: unsafe on a new"
        " server)"
    )


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
    verify: bool = True,
) -> ApplyResult:
    """Run the plan's changes in order (see the module docstring)."""
    run = _Run(api, live, secrets, concurrency, report, stop or Stop(), len(plan.changes))
    run.verify = verify
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
    return ApplyResult(outcomes=tuple(run.outcome_of(c) for c in plan.changes), tripped=run.tripped)


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
        self.verify = True
        self.outcomes: dict[int, Outcome] = {}
        self.started: dict[int, float] = {}
        self.proven: set[tuple[Kind, Action]] = set()  # kinds whose canary passed
        self.failed_roles: dict[str, str] = {}  # casefolded name -> name, creates that failed
        self.tripped: Outcome | None = None

    @property
    def halted(self) -> bool:
        return self.stop.stop.is_set() or self.tripped is not None

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
        return Outcome(change=change, status=NOT_ATTEMPTED, message=self._why_not_attempted())

    def _why_not_attempted(self) -> str:
        if self.tripped is None:
            return "not attempted"
        return (
            f"not attempted: apply stopped after {self.tripped.change.label} was stored"
            " otherwise than sent (a wrong guess about the API would repeat on every write)"
        )

    async def all(self, changes: Sequence[Change]) -> None:
        depth = parent_depths(changes)
        # a created user waits for its created parent: parents have lower depth (change_order)
        for _, batch in itertools.groupby(
            changes, key=lambda c: (phase(c), depth.get(c.key, 0) if c.kind is Kind.USER else 0)
        ):
            if self.halted:
                return
            rest = await self._canaries(list(batch))
            await self._batch(rest)

    async def _canaries(self, changes: list[Change]) -> list[Change]:
        """Run, one at a time, the first change of each kind not yet proven (up to
        :data:`CANARY_TRIES` of a kind while the server refuses them outright); the changes
        left to run together."""
        if not self.verify:
            return changes
        rest = list(changes)
        for kind in dict.fromkeys((c.kind, c.action) for c in changes):
            tries = 0
            while kind not in self.proven and tries < CANARY_TRIES and not self.halted:
                change = next((c for c in rest if (c.kind, c.action) == kind), None)
                if change is None:
                    break
                rest.remove(change)
                outcome = await self._run_one(change)
                if outcome.ok:
                    self.proven.add(kind)
                elif outcome.status == FAILED:
                    tries += 1
        return rest

    async def _batch(self, changes: list[Change]) -> None:
        pending = iter(changes)

        async def worker() -> None:
            for change in pending:
                if self.halted:
                    return
                await self._run_one(change)

        await asyncio.gather(
            *(worker() for _ in range(max(1, min(self.concurrency, len(changes)))))
        )

    async def _run_one(self, change: Change) -> Outcome:
        missing = self._missing_role(change)
        if missing is not None:
            outcome = Outcome(
                change=change,
                status=NOT_ATTEMPTED,
                message=f'not attempted: it needs role "{missing}", whose create failed',
            )
        else:
            self.started[id(change)] = time.monotonic()
            outcome = await _one(change, self.api, self.live, self.secrets, verify=self.verify)
        self.outcomes[id(change)] = outcome
        if outcome.stored_differently and self.tripped is None:
            self.tripped = outcome
        if change.kind is Kind.ROLE and change.action is Action.CREATE and not outcome.ok:
            self.failed_roles[change.key.casefold()] = change.key
        if self.report is not None:
            self.report(outcome, len(self.outcomes), self.total)
        return outcome

    def _missing_role(self, change: Change) -> str | None:
        """A role this user change gives whose create failed (the server would refuse the
        user), if any."""
        if not self.failed_roles or change.kind is not Kind.USER:
            return None
        roles = change.desired.get("roles") or ()
        return next(
            (self.failed_roles[r.casefold()] for r in roles if r.casefold() in self.failed_roles),
            None,
        )


async def _one(
    change: Change, api: PiApi, live: LiveState, secrets: Mapping[str, str], *, verify: bool
) -> Outcome:
    started = time.monotonic()
    # counted per task: the transport's own stats mix every worker's requests
    with counting() as sent:
        try:
            await api.write(change, live, secrets, verify=verify)
        except StoredDifferently as exc:
            return _failed(change, str(exc), sent.attempts, started, stored_differently=True)
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


def _failed(
    change: Change,
    message: str,
    attempts: int,
    started: float,
    *,
    stored_differently: bool = False,
) -> Outcome:
    return Outcome(
        change=change,
        status=FAILED,
        message=message,
        attempts=attempts,
        seconds=time.monotonic() - started,
        stored_differently=stored_differently,
    )
