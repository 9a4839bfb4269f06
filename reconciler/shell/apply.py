"""Execute a Plan against the server: phase by phase, concurrently within a phase.

Each user create/update is one ``POST /users/sync`` with the complete merged payload (the
live payload with the plan's managed values overlaid); a disable is the same with
``clientEnabled: false``; a delete is ``DELETE /users/{id}``. One failed change does not stop
the others; the result lists every outcome with the server's message.

A role create (``POST /roles``) is the one write that is not idempotent, so the client never
resends it once it may have reached the server. When its answer is lost (a dropped
connection, a 5xx, an unreadable body), apply reads the roles: if the role is there, the
create happened; if not, it never arrived and is sent once more.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.model import LiveRole, LiveState
from reconciler.core.plan import Action, Change, Kind, Plan, parent_depths, phase
from reconciler.errors import ConnectionFailed, PisyncError, ServerError, UnexpectedResponse
from reconciler.pi import wire
from reconciler.shell.client import PiClient, counting


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
    # counted per task: the client's own stats mix every worker's requests
    with counting() as sent:
        try:
            await write(change, client, live, secrets)
        except PisyncError as exc:
            return Outcome(
                change=change,
                ok=False,
                message=str(exc),
                attempts=max(1, sent.attempts),
                seconds=time.monotonic() - started,
            )
    return Outcome(
        change=change,
        ok=True,
        attempts=max(1, sent.attempts),
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
        await _create_role(change, client)
    elif change.action is Action.UPDATE:
        base = current.raw if current is not None else None
        await client.update_role(
            _required_id(change), wire.role_body(change.key, change.desired, base)
        )
    else:
        await client.delete_role(_required_id(change))


async def _create_role(change: Change, client: PiClient) -> None:
    """``POST /roles`` without ever sending it twice to a server that may have processed it
    (see the module docstring); a 409 on the second send means the first landed late."""
    body = wire.role_body(change.key, change.desired, None)
    try:
        await client.create_role(body)
        return
    except ServerError as exc:
        if not _answer_lost(exc):
            raise
    found = await _find_role(client, change.key)
    if found is None:
        try:
            await client.create_role(body)  # it never arrived: sending it again is safe
            return
        except UnexpectedResponse as exc:
            if exc.status != 409:
                raise
        found = await _find_role(client, change.key)
        if found is None:
            raise PisyncError(
                f"{change.label}: the server says the role exists (409) but does not list it"
            )
    if not _role_matches(found, change.desired):
        await client.update_role(found.id, wire.role_body(change.key, change.desired, found.raw))


def _answer_lost(exc: ServerError) -> bool:
    """Whether a failed request may or may not have been processed (we cannot tell)."""
    if isinstance(exc, ConnectionFailed):
        return True
    status = exc.status if isinstance(exc, UnexpectedResponse) else 0
    return status is None or status == 429 or status >= 500


async def _find_role(client: PiClient, name: str) -> LiveRole | None:
    try:
        roles = [wire.live_role(o) for o in await client.list_all(wire.ROLES, "roles")]
    except wire.WireError as exc:
        raise UnexpectedResponse(str(exc)) from None
    return next((r for r in roles if r.name.casefold() == name.casefold()), None)


def _role_matches(role: LiveRole, desired: Mapping[str, Any]) -> bool:
    fields = role.fields
    if "description" in desired and desired["description"] != fields["description"]:
        return False
    for key in ("categories", "privileges"):
        if key in desired and sorted(str(v).casefold() for v in desired[key]) != sorted(
            str(v).casefold() for v in fields[key]
        ):
            return False
    return True


def _required_id(change: Change) -> str:
    if change.live_id is None:
        raise PisyncError(
            f"{change.label}: the plan has no server id for this {change.action.value}"
        )
    return change.live_id
