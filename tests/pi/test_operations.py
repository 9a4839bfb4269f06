"""The operations over an injected ``send`` (no transport, no network): what each answer means
to an operation, and the typed live values they return."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from reconciler.core.model.values import LiveRole, LiveState, LiveUser
from reconciler.core.plans.plan import Action, Change, Kind
from reconciler.errors import ConnectionFailed, UnexpectedResponse
from reconciler.pi import wire
from reconciler.pi.messages import Reply, Request
from reconciler.pi.operations import ListedUser, PiApi

EMPTY = LiveState(users={}, roles={}, categories={})
Answer = Callable[[Request], Reply]


def reply(status: int = 200, body: Any = None) -> Reply:
    return Reply(status=status, body=b"" if body is None else json.dumps(body).encode())


class Script:
    """A fake ``send``: each request is recorded (``METHOD /path?query``) and answered."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent: list[str] = []
        self.bodies: list[Any] = []

    async def __call__(self, request: Request) -> Reply:
        query = f"?{urlencode(request.query)}" if request.query else ""
        self.sent.append(f"{request.method} {request.path}{query}")
        self.bodies.append(request.body)
        return self.answer(request)


def run(script: Script, call: Callable[[PiApi], Awaitable[Any]]) -> Any:
    return asyncio.run(call(PiApi(script)))


def role_change(action: Action, desired: dict[str, Any], live_id: str | None = None) -> Change:
    return Change(kind=Kind.ROLE, key="Sales", action=action, desired=desired, live_id=live_id)


ROLE = {"id": 7, "name": "Sales", "description": "d", "categories": [], "privileges": ["pdf"]}


# --- reads ---------------------------------------------------------------------------------


def test_sync_payload_404_is_no_such_user_and_nothing_else_is() -> None:
    missing = Script(lambda r: reply(404, {"message": "no"}))
    assert run(missing, lambda api: api.sync_payload("X")) is None
    with pytest.raises(UnexpectedResponse):
        run(Script(lambda r: reply(403, {"message": "no"})), lambda api: api.sync_payload("X"))


def test_the_user_list_is_typed_values_listed_users_only_for_the_payloads_to_read() -> None:
    items = [{"usercode": "a", "id": 1, "userTypeId": 3, "themeName": "x"}, {"usercode": "B"}]
    got = run(
        Script(lambda r: reply(200, items)),
        lambda api: api.list_users(payload_for=lambda code: code == "A"),
    )
    assert got[0] == ListedUser("A", {"usercode": "a", "id": 1})
    assert isinstance(got[1], LiveUser)
    assert (got[1].usercode, got[1].id, got[1].server_copy) == ("B", None, None)


def test_a_user_read_is_a_live_user_with_its_server_copy() -> None:
    element = {"user": {"usercode": "A", "userTypeId": 3}, "userRoles": [{"roleIdentifier": "R"}]}
    user = run(
        Script(lambda r: reply(200, [element])),
        lambda api: api.read_user("A", listed=ListedUser("A", {"usercode": "A", "id": 5})),
    )
    assert (user.usercode, user.id, user.record["roles"]) == ("A", "5", ("R",))
    assert wire.json_of(user.server_copy) == element


def test_a_user_read_by_usercode_finds_its_id_in_the_list_when_asked() -> None:
    def answer(request: Request) -> Reply:
        if request.path == "/users":
            return reply(200, {"content": [{"usercode": "A", "id": 42}]})
        return reply(200, [{"user": {"usercode": "A"}}])

    script = Script(answer)
    user = run(script, lambda api: api.read_user("A", find_id=True))
    assert user.id == "42"
    assert script.sent == [
        "GET /users/syncPayload?usercode=A",
        "GET /users?page=1&pageSize=2&usercode%28eq%29=A",
    ]


def test_a_payload_of_a_shape_the_reference_does_not_allow_names_the_user() -> None:
    bad = {"user": {"usercode": "A"}, "userRoles": "R"}
    with pytest.raises(UnexpectedResponse) as exc:
        run(Script(lambda r: reply(200, [bad])), lambda api: api.read_user("A"))
    assert str(exc.value).startswith("the payload of A: ")


def test_administrators_besides_the_users_already_read() -> None:
    admins = [{"usercode": "ADMIN", "userTypeId": 0}, {"usercode": "BOSS", "userTypeId": 0}]
    script = Script(lambda r: reply(200, admins))
    got = run(script, lambda api: api.list_administrators(besides={"ADMIN"}))
    assert [u.usercode for u in got] == ["BOSS"]
    assert script.sent == ["GET /users?page=1&pageSize=500&userTypeId%28eq%29=0"]


# --- deletes -------------------------------------------------------------------------------


def delete(code: str) -> Change:
    return Change(kind=Kind.USER, key=code, action=Action.DELETE, live_id="7")


def test_a_delete_answered_404_is_done_when_the_user_is_gone() -> None:
    script = Script(lambda r: reply(404, {"message": "no such user"}))
    run(script, lambda api: api.write(delete("GONE"), EMPTY, {}))
    assert script.sent == ["DELETE /users/7", "GET /users/syncPayload?usercode=GONE"]


def test_a_delete_answered_404_fails_when_the_user_is_still_there() -> None:
    def answer(request: Request) -> Reply:
        if request.method == "DELETE":
            return reply(404, {"message": "no such id"})
        return reply(200, [{"user": {"usercode": "STILL"}}])

    with pytest.raises(UnexpectedResponse) as exc:
        run(Script(answer), lambda api: api.write(delete("STILL"), EMPTY, {}))
    assert str(exc.value) == "DELETE /users/7: HTTP 404: no such id"


def test_a_role_delete_answered_404_is_done_when_the_role_list_lacks_it() -> None:
    def answer(request: Request) -> Reply:
        return reply(404, {"message": "no"}) if request.method == "DELETE" else reply(200, [])

    script = Script(answer)
    run(script, lambda api: api.write(role_change(Action.DELETE, {}, "7"), EMPTY, {}))
    assert script.sent == ["DELETE /roles/7", "GET /roles?page=1&pageSize=500"]


# --- role creates --------------------------------------------------------------------------


def test_a_409_on_create_takes_the_existing_role_and_makes_it_match() -> None:
    def answer(request: Request) -> Reply:
        if request.method == "POST":
            return reply(409, {"message": "exists"})
        return reply(200, [ROLE]) if request.method == "GET" else reply(200, {})

    script = Script(answer)
    run(
        script,
        lambda api: api.write(
            role_change(Action.CREATE, {"privileges": []}), EMPTY, {}, verify=False
        ),
    )
    assert script.sent == ["POST /roles", "GET /roles?page=1&pageSize=500", "PUT /roles/7"]
    assert script.bodies[-1] == {
        "name": "Sales",
        "description": "d",
        "categories": [],
        "privileges": [],
    }


def test_a_role_found_after_a_409_that_matches_as_the_diff_compares_is_left_alone() -> None:
    """Categories compare ignoring case, as the diff compares them: no update is sent."""
    found = {**ROLE, "categories": [{"categoryIdentifier": "finance"}]}

    def answer(request: Request) -> Reply:
        return (
            reply(409, {"message": "exists"}) if request.method == "POST" else reply(200, [found])
        )

    script = Script(answer)
    desired = {"description": "d", "categories": ["Finance"], "privileges": ["pdf"]}
    run(script, lambda api: api.write(role_change(Action.CREATE, desired), EMPTY, {}))
    assert script.sent == ["POST /roles", "GET /roles?page=1&pageSize=500"]


def test_a_create_whose_answer_was_lost_is_sent_again_only_when_the_role_never_arrived() -> None:
    posts = iter([ConnectionFailed("dropped"), reply(201, {"id": 9})])

    async def send(request: Request) -> Reply:
        script.sent.append(f"{request.method} {request.path}")
        if request.method == "POST":
            answer = next(posts)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return reply(200, [])

    script = Script(lambda r: reply())
    asyncio.run(PiApi(send).write(role_change(Action.CREATE, {}), EMPTY, {}, verify=False))
    assert script.sent == ["POST /roles", "GET /roles", "POST /roles"]


def test_a_create_refused_outright_is_not_sent_again() -> None:
    script = Script(lambda r: reply(400, {"message": "bad name"}))
    with pytest.raises(UnexpectedResponse) as exc:
        run(script, lambda api: api.write(role_change(Action.CREATE, {}), EMPTY, {}))
    assert str(exc.value) == "POST /roles: HTTP 400: bad name"
    assert script.sent == ["POST /roles"]


def test_an_update_is_merged_onto_the_server_copy_of_the_role() -> None:
    role = LiveRole(name="Sales", id="7", fields={}, server_copy=wire.copy_of(ROLE))
    live = LiveState(users={}, roles={"sales": role}, categories={})
    script = Script(lambda r: reply(200, {}))
    run(
        script,
        lambda api: api.write(
            role_change(Action.UPDATE, {"description": "new"}, "7"), live, {}, verify=False
        ),
    )
    assert script.sent == ["PUT /roles/7"]
    assert script.bodies == [{**{k: v for k, v in ROLE.items() if k != "id"}, "description": "new"}]
