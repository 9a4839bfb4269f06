"""The HTTP side of the JWT login path: ``POST /pi/auth/jwtLogin`` and ``GET /pi/?jwt=``.

Finds the JWT in the request, hands it to ``jwtlogin`` and answers a Bearer token, or the
generic 401 with the precise reason put into the request log entry (``ApiError.detail``).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pi_emulator import jwtlogin, reqlog
from pi_emulator.errors import ApiError, not_found
from pi_emulator.jwtlogin import LOGIN_FAILED, NOT_CONFIGURED, LoginRefused
from pi_emulator.responses import json_response

if TYPE_CHECKING:
    from pi_emulator.emulator import Emulator


class JwtLogin:
    """``POST /pi/auth/jwtLogin`` and ``GET /pi/?jwt=``: a JWT in, a Bearer token out."""

    PATHS = ("/pi/auth/jwtLogin", "/pi/")

    def __init__(self, emulator: Emulator) -> None:
        self.em = emulator

    async def login(self, request: Request) -> Response:
        keys = self.em.options.jwt
        if keys is None:
            raise not_found(NOT_CONFIGURED)
        try:
            token = await _jwt_of(request)
            if token is None:
                raise LoginRefused("the request carries no JWT")
            claims = keys.verify(token)
            user = jwtlogin.sign_in(self.em.store, claims, self.em.today(), self.em.shape)
        except LoginRefused as exc:
            reqlog.note(request.scope, usercodes=[exc.usercode] if exc.usercode else [])
            raise ApiError(401, LOGIN_FAILED, detail=exc.reason) from None
        reqlog.note(request.scope, usercodes=[user.usercode])
        return json_response({"token": self.em.sessions.issue(user)})

    def routes(self) -> list[Route]:
        post, get = self.PATHS
        return [Route(post, self.login, methods=["POST"]), Route(get, self.login, methods=["GET"])]


async def _jwt_of(request: Request) -> str | None:
    """The JWT of a login request: ``?jwt=``, or a body that is ``{"jwt": ...}``, a form
    field ``jwt``, or the bare token."""
    found: object = request.query_params.get("jwt")
    raw = (await request.body()).strip()
    if found is None and raw:
        text = raw.decode("utf-8", "replace")
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                raise LoginRefused("the JSON body is not valid JSON") from None
            found = data.get("jwt") if isinstance(data, dict) else None
        elif text.startswith("jwt=") or "form" in request.headers.get("content-type", ""):
            found = urllib.parse.parse_qs(text).get("jwt", [None])[0]
        else:
            found = text
    return found if isinstance(found, str) and found.strip() else None
