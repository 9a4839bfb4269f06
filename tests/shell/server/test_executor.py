"""The executor: no error inside one change escapes it, and every change gets an outcome."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from reconciler.core.model.values import LiveState
from reconciler.core.plans.plan import Action, Change, Kind, Plan
from reconciler.pi.messages import Reply
from reconciler.shell.server.connect import Server
from reconciler.shell.server.executor import ApplyResult, Stop, execute
from reconciler.shell.server.http import FunctionBackend
from reconciler.shell.server.transport import RetryPolicy, Transport
from reconciler.shell.settings import Credentials

EMPTY = LiveState(users={}, roles={}, categories={})


def create(code: str) -> Change:
    return Change(
        kind=Kind.USER,
        key=code,
        action=Action.CREATE,
        desired={"forenames": "F", "surname": code},
    )


def run(plan: Plan, handler: FunctionBackend, stop: Stop | None = None) -> ApplyResult:
    async def main() -> ApplyResult:
        transport = Transport(
            "http://pi.test/pi/api/v2",
            Credentials(token="t"),
            backend=handler,
            retry=RetryPolicy(initial=0.0),
        )
        async with Server(transport) as server:
            return await execute(
                plan, server.api, EMPTY, secrets={}, concurrency=2, stop=stop, verify=False
            )

    return asyncio.run(main())


def test_a_bug_in_one_change_is_that_change_s_failure() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        if body is not None and json.loads(body)[0]["user"]["usercode"] == "B":
            raise RuntimeError("boom")
        return Reply(status=200, body=b"[]")

    plan = Plan(server="s", changes=(create("A"), create("B"), create("C")))
    result = run(plan, FunctionBackend(handler))
    assert [(o.change.key, o.status, o.message) for o in result.outcomes] == [
        ("A", "applied", ""),
        ("B", "failed", "internal error: RuntimeError: boom"),
        ("C", "applied", ""),
    ]


def test_abandoning_marks_in_flight_changes_and_the_rest_not_attempted() -> None:
    async def main() -> ApplyResult:
        stop = Stop()
        started = asyncio.Event()

        async def slow(
            method: str, url: str, headers: Mapping[str, str], body: bytes | None
        ) -> Reply:
            started.set()
            await asyncio.sleep(30)
            return Reply(status=200, body=b"[]")

        transport = Transport(
            "http://pi.test/pi/api/v2", Credentials(token="t"), backend=FunctionBackend(slow)
        )
        plan = Plan(server="s", changes=tuple(create(c) for c in "ABCDE"))
        async with Server(transport) as server:
            task = asyncio.ensure_future(
                execute(plan, server.api, EMPTY, secrets={}, concurrency=2, stop=stop, verify=False)
            )
            await started.wait()
            stop.stop.set()
            stop.abandon.set()
            return await asyncio.wait_for(task, 5)

    result = asyncio.run(main())
    assert [o.status for o in result.outcomes] == [
        "abandoned",
        "abandoned",
        "not_attempted",
        "not_attempted",
        "not_attempted",
    ]
