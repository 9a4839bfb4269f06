"""Run ``pi-emulator`` as a separate process on a free loopback port (tests, benchmarks).

One place for what every harness needs: start the command, wait until it is ready (or say why
it exited), call the control endpoints, stop it; and ``fleet`` for several at once. The
emulator is started with ``--port 0``, so the system picks a free port and the emulator's
ready line names it: two harnesses never race for a port.

Standard library only: this module runs the ``pi-emulator`` script and needs none of the
``emulator`` extra's packages itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

#: the ready line ``pi-emulator`` prints once it listens (see pi_emulator/README.md)
_READY = re.compile(rb"^pi-emulator: http://\S+:(\d+)/pi/api/v2 \(", re.MULTILINE)


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
        #: the port it listens on; 0 until ``wait_ready`` has read it from the ready line
        self.port = port
        self.log = log
        self._terminated = False

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
        emu = cls.spawn(workdir, seed=seed, args=args)
        emu.wait_ready(ready_timeout)
        return emu

    @classmethod
    def spawn(cls, workdir: Path, *, seed: Any = None, args: Sequence[str] = ()) -> Self:
        """Start it without waiting; ``wait_ready`` waits (and learns its port)."""
        fd, name = tempfile.mkstemp(prefix="emulator-", suffix=".log", dir=workdir)
        log = Path(name)
        cmd = [_command(), "--host", "127.0.0.1", "--port", "0"]
        if isinstance(seed, (str, Path)):
            cmd += ["--seed", str(seed)]
        elif seed is not None:
            seed_file = log.with_suffix(".seed.json")
            seed_file.write_text(json.dumps(seed), encoding="utf-8")
            cmd += ["--seed", str(seed_file)]
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.Popen([*cmd, *args], stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        return cls(proc, 0, log)

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

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM, once: a second one would cut its graceful shutdown short)."""
        if not self._terminated and self.process.poll() is None:
            self._terminated = True
            self.process.terminate()

    def stop(self) -> None:
        """Stop it and wait (killed if it has not stopped within 15 s)."""
        self.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float) -> None:
        """Return once it answers ``/_emulator/health``; stop it and raise if it cannot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                output = self.log.read_text(errors="replace").strip()
                raise RuntimeError(f"pi-emulator exited with {code}: {output}")
            if not self.port:
                found = _READY.search(self.log.read_bytes())
                self.port = int(found[1]) if found else 0
            if self.port:
                try:
                    self.control("GET", "health", timeout=2)
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pi-emulator did not become ready in {timeout:g} s")


@dataclass(frozen=True)
class Member:
    """One emulator of a fleet: its seed (a document or a file path) and its options."""

    seed: Any = None
    args: Sequence[str] = ()


@contextmanager
def fleet(
    workdir: Path, members: Sequence[Member], *, ready_timeout: float = 60.0
) -> Iterator[list[EmulatorProcess]]:
    """Several emulators at once, in ``members`` order, each on its own free port.

    All are started before any is waited for (a large seed loads in parallel); every one
    that was started is stopped on the way out, whether a member failed to start (the error
    names it), the body raised, or all went well.
    """
    started: list[EmulatorProcess] = []
    try:
        for member in members:
            started.append(EmulatorProcess.spawn(workdir, seed=member.seed, args=member.args))
        deadline = time.monotonic() + ready_timeout
        for index, emu in enumerate(started):
            try:
                emu.wait_ready(max(deadline - time.monotonic(), 0.1))
            except RuntimeError as exc:
                raise RuntimeError(f"fleet member {index}: {exc}") from None
        yield started
    finally:
        for emu in started:
            emu.terminate()  # all at once, then wait for each
        for emu in started:
            emu.stop()
