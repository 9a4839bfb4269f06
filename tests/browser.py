"""A small headless-Chromium driver for the tests, over the DevTools protocol (CDP).

Chromium is started with a fresh profile, every background service off and a random
debugging port on the loopback; one page target is driven through a WebSocket (aiohttp,
already a dependency). It records every network request the page makes, every uncaught
script error and every dialog, so a test can prove a page is self-contained and sane.

Chromium comes from the system (Debian's ``chromium``); :func:`chromium_path` finds it and
:func:`require_chromium` skips a test without it — unless ``PISYNC_REQUIRE_BROWSER=1`` (CI),
where a missing browser fails.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",  # the test container runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("PISYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "no Chromium found (apt-get install chromium), and PISYNC_REQUIRE_BROWSER=1"
            )
        pytest.skip("no Chromium here (apt-get install chromium); .ci/run installs it")
    return path


class Browser:
    """``async with Browser(tmp) as b: await b.open(url); await b.evaluate("…")``."""

    def __init__(self, profile: Path, *, width: int = 1400, height: int = 1000) -> None:
        self.profile = profile
        self.width = width
        self.height = height
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self._events: list[dict[str, Any]] = []
        self._next = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> Browser:
        self.profile.mkdir(parents=True, exist_ok=True)
        self._proc = await asyncio.create_subprocess_exec(
            require_chromium(),
            *FLAGS,
            f"--user-data-dir={self.profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        port = await self._port()
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json(content_type=None)
        page = next(t for t in targets if t["type"] == "page")
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.send("Page.enable")
        await self.send("Network.enable")
        await self.send("Runtime.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()

    async def _port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if marker.exists() and (text := marker.read_text().split()):
                return int(text[0])
            assert self._proc is not None
            assert self._proc.returncode is None, "Chromium exited before it opened its port"
            await asyncio.sleep(0.05)
        raise TimeoutError("Chromium did not open its debugging port within 30 s")

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self._ws is not None
        self._next += 1
        ident = self._next
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params or {}}))
        while True:
            message = await self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def _receive(self) -> dict[str, Any]:
        assert self._ws is not None
        raw = await asyncio.wait_for(self._ws.receive(), timeout=30)
        message: dict[str, Any] = json.loads(raw.data)
        method = message.get("method")
        if method == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            details = message["params"]["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description", details["text"]))
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(message["params"]["message"])
            await self._ws.send_str(
                json.dumps(
                    {
                        "id": 0,
                        "method": "Page.handleJavaScriptDialog",
                        "params": {"accept": False},
                    }
                )
            )
        elif method is not None:
            self._events.append(message)
        return message

    async def open(self, url: str) -> None:
        """Navigate and wait until the page has loaded (its scripts have run)."""
        self._events.clear()
        await self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load within 30 s")
            await self._receive()

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (errors raise)."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    async def media(self, kind: str) -> None:
        """Emulate ``print`` (or ``screen``) media."""
        await self.send("Emulation.setEmulatedMedia", {"media": kind})

    async def screenshot(self, *, full_page: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = (await self.send("Page.captureScreenshot", params))["data"]
        return base64.b64decode(data)

    async def pdf(self) -> bytes:
        return base64.b64decode((await self.send("Page.printToPDF"))["data"])
