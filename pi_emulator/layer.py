"""The outermost ASGI layer for API requests: request log, latency and injected faults.

It runs before Starlette's own middleware so that it still holds the server's raw ``send``:
under uvicorn that is a bound method of the connection's request cycle, whose ``transport``
it closes to drop a connection without any response (the client sees
``httpx.RemoteProtocolError: Server disconnected without sending a response``). In process
(``httpx.ASGITransport``, Starlette's TestClient) there is no socket, so a drop raises
``ConnectionDropped``, itself an ``httpx.RemoteProtocolError``, out of the transport: client
code sees the same exception class either way.

Faults never touch ``/_emulator`` (not logged either) nor the JWT login path (logged, with
``faulted=False``); they apply to ``POST /tokens`` unless ``faults_on_login`` is false. A 429
is always decided before processing; a 500 or a drop happens before processing or, with
``fault_phase: after``, after the handler has run (and any write was applied), replacing its
response. Faulted requests also pass the capacity gate (``capacity.Gate``) before their latency.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pi_emulator.reqlog import ENTRY_KEY, SYNC_PATH, redact_query, sync_usercodes
from pi_emulator.wire import BASE_PATH, JsonObj

if TYPE_CHECKING:
    from pi_emulator.emulator import Emulator


_DROP_TURNS = 10


class ConnectionDropped(httpx.RemoteProtocolError):
    """An injected dropped connection, raised where no socket can be closed (in process)."""

    def __init__(self) -> None:
        super().__init__("pi-emulator dropped the connection (injected fault)")


def is_api_path(path: str) -> bool:
    return path == BASE_PATH or path.startswith(BASE_PATH + "/")


async def serve_api(
    emulator: Emulator,
    scope: Scope,
    receive: Receive,
    send: Send,
    app: ASGIApp,
    *,
    faulted: bool = True,
) -> None:
    """Handle one logged request (``faulted``: through the fault injector and latency too)."""
    method: str = scope["method"]
    path: str = scope["path"]
    relative = path[len(BASE_PATH) :] or "/"
    body = await _read_body(receive)
    codes = sync_usercodes(body) if method == "POST" and relative == SYNC_PATH else []
    query = redact_query(scope.get("query_string", b"").decode("latin-1"))
    entry = emulator.log.start(method, path, query, codes)
    scope[ENTRY_KEY] = entry
    fault = emulator.faults.decide(method, relative) if faulted else None
    entry["fault"] = fault
    config = emulator.faults.config  # as decided, even if changed while waiting or sleeping
    gate = emulator.gate if faulted else None
    if gate is not None:
        await gate.enter()  # at most ``capacity`` served at once; latency counts as served
    try:
        # drawn once served: a latency changed at runtime applies from the next request served
        delay = emulator.faults.latency() if faulted else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == "429":
            retry = config.retry_after
            message = f"too many requests (injected fault): retry after {retry} seconds"
            headers = [(b"retry-after", b"%d" % retry)]
            await _send_json(send, entry, 429, {"message": message}, headers)
            return
        if fault is not None and config.fault_phase == "before":
            await _fail(fault, send, entry)
            return
        swallow = fault is not None

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["appStatus"] = message["status"]
                if not swallow:
                    entry["status"] = message["status"]
            if not swallow:
                await send(message)

        await app(scope, _replay(body, receive), capture)
        if fault is not None:
            await _fail(fault, send, entry)
    finally:
        if gate is not None:
            gate.leave()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then defers to the server."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _fail(fault: str, send: Send, entry: JsonObj) -> None:
    if fault == "500":
        message = "internal server error (injected fault)"
        await _send_json(send, entry, 500, {"message": message}, [])
    else:
        await drop_connection(send)


async def drop_connection(send: Send) -> None:
    """Close the client's connection without a response (see the module docstring)."""
    cycle = getattr(send, "__self__", None)  # uvicorn's RequestResponseCycle (h11 or httptools)
    transport: Any = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionDropped
    transport.close()
    # Let the server notice the closed connection before we return (one loop turn, usually);
    # otherwise it would complain that the app returned without a response.
    for _ in range(_DROP_TURNS):
        await asyncio.sleep(0)
        if getattr(cycle, "disconnected", True):
            break


async def _send_json(
    send: Send, entry: JsonObj, status: int, data: JsonObj, headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(data).encode()
    entry["status"] = status
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
