"""Run ``pi-emulator`` as a separate process on a free loopback port (tests, benchmarks).

One place for what every harness needs: pick a port, start the command, wait until
``/_emulator/health`` answers (or say why it exited), call the control endpoints, stop it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command() -> str:
    """The ``pi-emulator`` script beside this interpreter (a venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "pi-emulator"
    return str(beside) if beside.exists() else (shutil.which("pi-emulator") or "pi-emulator")


class EmulatorProcess:
    """A running ``pi-emulator``; ``url`` is the API base, ``base`` the server root."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        seed: Any = None,
        args: Sequence[str] = (),
        ready_timeout: float = 60.0,
    ) -> Self:
        """Start it (``seed``: a JSON-able document or a file path) and wait until ready."""
        port = free_port()
        cmd = [_command(), "--host", "127.0.0.1", "--port", str(port)]
        if isinstance(seed, (str, Path)):
            cmd += ["--seed", str(seed)]
        elif seed is not None:
            seed_file = workdir / f"seed-{port}.json"
            seed_file.write_text(json.dumps(seed), encoding="utf-8")
            cmd += ["--seed", str(seed_file)]
        log = workdir / f"emulator-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([*cmd, *args], stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        emu = cls(proc, port, log)
        emu._wait_ready(ready_timeout)
        return emu

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/pi/api/v2"

    def control(self, method: str, path: str, body: Any = None, *, timeout: float = 60) -> Any:
        """Call ``/_emulator/<path>`` (no auth, never faulted); the JSON answer or None."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - loopback only
            f"{self.base}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
        return json.loads(raw) if raw else None

    def cpu_seconds(self) -> float:
        """User + system CPU the emulator used so far (Linux /proc; 0 elsewhere)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pi-emulator exited: {self.log.read_text()}")
            try:
                self.control("GET", "health", timeout=2)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pi-emulator did not become ready in {timeout:g} s")
