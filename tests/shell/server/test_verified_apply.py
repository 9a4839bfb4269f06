"""Apply's verification, canary and circuit breaker, against the emulator in process (the
end-to-end tests run the same through the CLI and a real emulator process):

- every write is proved stored as sent, from the sync answer when it carries the stored user
  (no request added) and with one read otherwise;
- the first write of each kind runs alone; a write stored otherwise than sent stops the apply
  there, the rest "not attempted", saying why;
- a user change that needs a role whose create failed is not sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pi_emulator import EmulatorOptions, create_app
from pi_emulator.shapes import ShapeConfig
from reconciler.core.model.values import LiveState
from reconciler.core.plans.plan import Action, Change, Kind, Plan
from reconciler.pi.messages import Reply
from reconciler.shell.server.connect import Server
from reconciler.shell.server.executor import ApplyResult, execute
from reconciler.shell.server.transport import Transport
from tests.shell.asgi import ADMIN, URL, AsgiBackend

EMPTY = LiveState(users={}, roles={}, categories={})
SEED = {
    "categories": [{"name": "Sales", "parent": None}],
    "roles": [{"name": "Sales Viewer", "description": "", "categories": ["Sales"]}],
}
RESTRICTED = {
    "forenames": "F",
    "surname": "S",
    "restrictions": [{"connection": "Sales DB", "column": "Region", "values": ["East", "West"]}],
}


class Recording(AsgiBackend):
    """The in-process emulator, with every request recorded as it starts and ends."""

    def __init__(self, app: object) -> None:
        super().__init__(app)
        self.events: list[str] = []

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        wait: float | None = None,
    ) -> Reply:
        what = f"{method} {url.split('/pi/api/v2', 1)[1].split('?')[0]}"
        self.events.append("start " + what)
        reply = await super().send(method, url, headers, body, wait=wait)
        self.events.append("end " + what)
        return reply


def create(code: str, desired: Mapping[str, Any] = RESTRICTED) -> Change:
    return Change(kind=Kind.USER, key=code, action=Action.CREATE, desired=dict(desired))


def run(
    changes: Sequence[Change], shape: ShapeConfig | None = None, *, verify: bool = True
) -> tuple[ApplyResult, Recording, Any]:
    app = create_app(EmulatorOptions(seed=SEED, shape=shape or ShapeConfig()))
    backend = Recording(app)

    async def main() -> ApplyResult:
        async with Server(Transport(URL, ADMIN, backend=backend)) as server:
            await server.sign_in()
            return await execute(
                Plan(server="s", changes=tuple(changes)),
                server.api,
                EMPTY,
                secrets={},
                concurrency=4,
                verify=verify,
            )

    return asyncio.run(main()), backend, app


def statuses(result: ApplyResult) -> list[tuple[str, str]]:
    return [(o.change.key, o.status) for o in result.outcomes]


def test_a_healthy_server_is_verified_from_the_sync_answer_at_no_extra_request() -> None:
    result, backend, _ = run([create(f"U{i}") for i in range(6)])
    assert statuses(result) == [(f"U{i}", "applied") for i in range(6)]
    assert result.tripped is None
    requests = [e for e in backend.events if e.startswith("start ")]
    assert requests == ["start POST /tokens"] + ["start POST /users/sync"] * 6


def test_the_first_write_of_a_kind_runs_alone_before_the_rest() -> None:
    _, backend, _ = run([create(f"U{i}") for i in range(6)])
    syncs = [e for e in backend.events if e.endswith("POST /users/sync")]
    assert syncs[:3] == [
        "start POST /users/sync",
        "end POST /users/sync",
        "start POST /users/sync",
    ]


def test_an_answer_without_the_stored_user_costs_one_read_per_write() -> None:
    result, backend, _ = run([create(f"U{i}") for i in range(3)], ShapeConfig(sync_answer="user"))
    assert statuses(result) == [("U0", "applied"), ("U1", "applied"), ("U2", "applied")]
    requests = [e[6:] for e in backend.events if e.startswith("start ")]
    assert requests.count("POST /users/sync") == 3
    assert requests.count("GET /users/syncPayload") == 3


def test_a_write_stored_otherwise_stops_the_apply_after_the_canary() -> None:
    result, backend, app = run(
        [create(f"U{i}") for i in range(6)],
        ShapeConfig(store_quirks=("restrictions-first-value",)),
    )
    assert statuses(result) == [("U0", "failed")] + [
        (f"U{i}", "not_attempted") for i in range(1, 6)
    ]
    assert result.tripped is not None
    assert result.tripped.change.key == "U0"
    assert result.outcomes[0].message == (
        "user U0 was written but the server stored `restrictions` as [Sales DB/Region: East]"
        " after pisync sent [Sales DB/Region: East, West] (guess U2: restrictions elements, one"
        " per value, `{dataConnectionIdentifier, columnIdentifier, value}` (also read:"
        " `{connection, column, values}` and a `values` array))"
    )
    assert result.outcomes[1].message == (
        "not attempted: apply stopped after user U0 was stored otherwise than sent (a wrong"
        " guess about the API would repeat on every write)"
    )
    # nothing but the canary was written
    assert [e for e in backend.events if e.startswith("start POST /users/sync")] == [
        "start POST /users/sync"
    ]
    assert sorted(u.usercode for u in app.emulator.store.users.values()) == ["ADMIN", "U0"]


def test_without_verification_there_is_no_canary_and_no_stop() -> None:
    result, _, _ = run(
        [create(f"U{i}") for i in range(3)],
        ShapeConfig(store_quirks=("restrictions-first-value",)),
        verify=False,
    )
    assert statuses(result) == [("U0", "applied"), ("U1", "applied"), ("U2", "applied")]


def test_a_secure_value_stored_otherwise_is_named_but_never_shown() -> None:
    desired = {
        "forenames": "F",
        "surname": "S",
        "variables": {"pin": {"env": "PIN", "secure": True}},
    }
    app = create_app(
        EmulatorOptions(seed=SEED, shape=ShapeConfig(store_quirks=("variables-secure-cleared",)))
    )

    async def main() -> ApplyResult:
        async with Server(Transport(URL, ADMIN, backend=AsgiBackend(app))) as server:
            return await execute(
                Plan(server="s", changes=(create("V", desired),)),
                server.api,
                EMPTY,
                secrets={"PIN": "4711-secret"},
                concurrency=1,
            )

    result = asyncio.run(main())
    assert result.outcomes[0].message == (
        "user V was written but the server stored `variables.pin` as a secret value (not secure)"
        " after pisync sent a secret value (secure) (guess U1: variables elements"
        " `{name, value, isSecure}`)"
    )
    assert "4711" not in result.outcomes[0].message


def test_users_that_need_a_role_whose_create_failed_are_not_sent() -> None:
    bad_role = Change(
        kind=Kind.ROLE,
        key="Ghost Viewer",
        action=Action.CREATE,
        desired={"categories": ["No Such Category"]},
    )
    needs = create("NEEDS", {"forenames": "F", "surname": "S", "roles": ["ghost viewer"]})
    other = create("OTHER", {"forenames": "F", "surname": "S", "roles": ["Sales Viewer"]})
    result, backend, _ = run([bad_role, needs, other])
    assert statuses(result) == [
        ("Ghost Viewer", "failed"),
        ("NEEDS", "not_attempted"),
        ("OTHER", "applied"),
    ]
    assert result.outcomes[1].message == (
        'not attempted: it needs role "Ghost Viewer", whose create failed'
    )
    assert result.tripped is None
    assert [e for e in backend.events if e.startswith("start POST /users/sync")] == [
        "start POST /users/sync"
    ]


def test_role_writes_are_verified_from_their_answers() -> None:
    new_role = Change(
        kind=Kind.ROLE,
        key="Night Shift",
        action=Action.CREATE,
        desired={"description": "n", "categories": ["Sales"], "privileges": ["pdf"]},
    )
    result, backend, app = run([new_role])
    assert statuses(result) == [("Night Shift", "applied")]
    requests = [e[6:] for e in backend.events if e.startswith("start ")]
    assert requests == ["POST /tokens", "POST /roles"]  # the answer is the stored role
    assert [r.name for r in app.emulator.store.roles.values()] == ["Sales Viewer", "Night Shift"]
