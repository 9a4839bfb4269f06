"""JSON answers: Starlette's ``JSONResponse`` with orjson doing the encoding."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """Starlette's compact JSON, rendered by orjson: the same bytes for the emulator's data
    (str keys, ints, no floats) in a twentieth of the time (about 25 us per sync payload)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(data: Any, status: int = 200) -> JSONResponse:
    return OrjsonResponse(data, status_code=status)
