"""``/_emulator``: test and demo controls. No authentication, never faulted, never logged."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pi_emulator.errors import bad_request
from pi_emulator.state import snapshot, state_document

if TYPE_CHECKING:
    from pi_emulator.emulator import Emulator


async def _body(request: Request) -> object:
    raw = await request.body()
    if raw.strip() == b"":
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


def routes(em: Emulator) -> list[Route]:
    """The control routes of one emulator."""

    async def health(request: Request) -> Response:
        store = em.store
        return JSONResponse({"status": "ok", "users": store.user_count, "version": store.version})

    async def requests(request: Request) -> Response:
        raw = request.query_params.get("since", "0")
        if not raw.isdigit():
            raise bad_request(f'since must be a request seq number, got "{raw}"')
        return JSONResponse(em.log.entries(int(raw)))

    async def clear_requests(request: Request) -> Response:
        em.log.clear()
        return Response(status_code=204)

    async def state(request: Request) -> Response:
        return JSONResponse(state_document(snapshot(em.store)))

    async def get_faults(request: Request) -> Response:
        return JSONResponse(em.faults.config.to_json())

    async def put_faults(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise bad_request('send a JSON object of fault options, e.g. {"fail_rate": 0.1}')
        config = em.faults.configure(body)
        em.gate.wake()  # a larger capacity admits waiting requests now
        return JSONResponse(config.to_json())

    async def stats(request: Request) -> Response:
        return JSONResponse(em.gate.stats())

    async def reset_stats(request: Request) -> Response:
        em.gate.reset()
        return Response(status_code=204)

    async def get_options(request: Request) -> Response:
        return JSONResponse(em.shape.to_json())

    async def put_options(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise bad_request('send a JSON object of options, e.g. {"list_shape": "bare"}')
        em.shape = em.shape.updated(body)
        return JSONResponse(em.shape.to_json())

    async def reset(request: Request) -> Response:
        store = em.reset(await _body(request))
        counts = {
            "users": store.user_count,
            "roles": len(store.roles),
            "categories": len(store.categories),
        }
        return JSONResponse(counts)

    async def flush(request: Request) -> Response:
        written = False if em.persister is None else await em.persister.flush()
        return JSONResponse({"written": written})

    return [
        Route("/health", health, methods=["GET"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/requests", clear_requests, methods=["DELETE"]),
        Route("/state", state, methods=["GET"]),
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", put_faults, methods=["PUT"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/stats", reset_stats, methods=["DELETE"]),
        Route("/options", get_options, methods=["GET"]),
        Route("/options", put_options, methods=["PUT"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/flush", flush, methods=["POST"]),
    ]
