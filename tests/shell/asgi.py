"""A transport backend that calls an ASGI app in process (the emulator), for fast tests that
need many servers (property tests); the real aiohttp backend is covered over loopback by the
end-to-end tests."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from reconciler.pi.messages import Reply
from reconciler.shell.server.connect import Server
from reconciler.shell.server.http import SendFailed
from reconciler.shell.server.transport import Transport
from reconciler.shell.settings import Credentials

URL = "http://pi/pi/api/v2"
ADMIN = Credentials(username="admin", password="dashboard")


class AsgiBackend:
    def __init__(self, app: object) -> None:
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))  # type: ignore[arg-type]

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        wait: float | None = None,
    ) -> Reply:
        try:
            response = await self._client.request(method, url, headers=headers, content=body)
        except httpx.RemoteProtocolError as exc:  # the emulator's injected drop
            raise SendFailed(str(exc), reached=True) from None
        retry_after = response.headers.get("Retry-After")
        return Reply(
            status=response.status_code,
            body=response.content,
            headers={} if retry_after is None else {"Retry-After": retry_after},
        )

    async def close(self) -> None:
        await self._client.aclose()


def server_for(app: object, credentials: Credentials = ADMIN) -> Server:
    return Server(Transport(URL, credentials, backend=AsgiBackend(app)))
