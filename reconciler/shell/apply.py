"""Execute a Plan against the server: phase by phase, concurrently within a phase.

Each user create/update is one ``POST /users/sync`` with the complete merged payload (the
live payload with the plan's managed values overlaid); a disable is the same with
``clientEnabled: false``; a delete is ``DELETE /users/{id}``. One failed change does not stop
the others; the result lists every outcome with the server's message.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.model import LiveState
from reconciler.core.plan import Action, Change, Kind, Plan, parent_depths, phase
from reconciler.errors import PisyncError
from reconciler.pi import wire
from reconciler.shell.client import PiClient


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    change: Change
    ok: bool
    message: str = ""
    attempts: int = 1
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.change.kind.value,
            "key": self.change.key,
            "action": self.change.action.value,
            "outcome": "ok" if self.ok else "failed",
            "message": self.message,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]
    not_started: tuple[Change, ...] = ()

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.ok and o.change.action is action)


Reporter = Callable[[Outcome, int, int], None]  # (outcome, done, total)


async def execute(
    plan: Plan,
    client: PiClient,
    live: LiveState,
    *,
    secrets: Mapping[str, str],
    concurrency: int,
    report: Reporter | None = None,
    stop: asyncio.Event | None = None,
) -> ApplyResult:
    """Run the plan's changes in order; ``stop`` set = start nothing new, finish in flight."""
    outcomes: list[Outcome] = []
    skipped: list[Change] = []
    total = len(plan.changes)
    depth = parent_depths(plan.changes)
    # a created user waits for its created parent: parents have lower depth (change_order)
    for _, batch in itertools.groupby(
        plan.changes, key=lambda c: (phase(c), depth.get(c.key, 0) if c.kind is Kind.USER else 0)
    ):
        changes = list(batch)
        if stop is not None and stop.is_set():
            skipped.extend(changes)
            continue
        await _run_batch(
            changes, client, live, secrets, concurrency, outcomes, total, report, stop, skipped
        )
    return ApplyResult(outcomes=tuple(outcomes), not_started=tuple(skipped))


async def _run_batch(
    changes: Sequence[Change],
    client: PiClient,
    live: LiveState,
    secrets: Mapping[str, str],
    concurrency: int,
    outcomes: list[Outcome],
    total: int,
    report: Reporter | None,
    stop: asyncio.Event | None,
    skipped: list[Change],
) -> None:
    pending = iter(changes)

    async def worker() -> None:
        for change in pending:
            if stop is not None and stop.is_set():
                skipped.append(change)
                continue
            outcome = await _one(change, client, live, secrets)
            outcomes.append(outcome)
            if report is not None:
                report(outcome, len(outcomes), total)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(changes))))))


async def _one(
    change: Change, client: PiClient, live: LiveState, secrets: Mapping[str, str]
) -> Outcome:
    started = time.monotonic()
    before = client.stats.attempts
    try:
        await write(change, client, live, secrets)
    except PisyncError as exc:
        return Outcome(
            change=change,
            ok=False,
            message=str(exc),
            attempts=max(1, client.stats.attempts - before),
            seconds=time.monotonic() - started,
        )
    return Outcome(
        change=change,
        ok=True,
        attempts=max(1, client.stats.attempts - before),
        seconds=time.monotonic() - started,
    )


async def write(
    change: Change, client: PiClient, live: LiveState, secrets: Mapping[str, str]
) -> None:
    """The request(s) for one change."""
    if change.kind is Kind.ROLE:
        await _write_role(change, client, live)
        return
    if change.action is Action.DELETE:
        await client.delete_user(_required_id(change))
        return
    current = live.users.get(change.key)
    base = current.payload if current is not None else None
    if change.action is not Action.CREATE and base is None:
        base = await client.sync_payload(change.key)
    await client.sync(wire.sync_element(base, change.key, change.desired, secrets))


async def _write_role(change: Change, client: PiClient, live: LiveState) -> None:
    current = live.roles.get(change.key.casefold())
    if change.action is Action.CREATE:
        await client.create_role(wire.role_body(change.key, change.desired, None))
    elif change.action is Action.UPDATE:
        base = current.raw if current is not None else None
        await client.update_role(
            _required_id(change), wire.role_body(change.key, change.desired, base)
        )
    else:
        await client.delete_role(_required_id(change))


def _required_id(change: Change) -> str:
    if change.live_id is None:
        raise PisyncError(
            f"{change.label}: the plan has no server id for this {change.action.value}"
        )
    return change.live_id
