"""The write check against the emulator in process: whatever fails part-way, the scratch user
is removed, and the report says where it stopped without a host name (end-to-end tests:
tests/e2e/test_doctor_write_check.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pi_emulator import EmulatorOptions, create_app
from reconciler.core.model.checks import Findings, Result
from reconciler.errors import ConnectionFailed
from reconciler.pi.messages import Reply, Request
from reconciler.pi.write_check import Scratch, write_check
from reconciler.shell.server.transport import Transport
from tests.shell.asgi import ADMIN, URL, AsgiBackend

SEED = json.loads((Path(__file__).resolve().parents[2] / "examples" / "seed.json").read_text())
SCRATCH = Scratch(usercode="PISYNC-DOCTOR-0000ABCD", secret="s3cret", expires="2027-12-31")


def run(fail_after_create: bool) -> tuple[Findings, list[str], list[str]]:
    app = create_app(EmulatorOptions(seed=SEED))
    sent: list[str] = []

    async def main() -> Findings:
        async with Transport(URL, ADMIN, backend=AsgiBackend(app)) as transport:
            created = False

            async def send(request: Request) -> Reply:
                nonlocal created
                sent.append(request.what)
                if fail_after_create and created and request.path == "/users/syncPayload":
                    created = False  # once: the clean-up's own reads go through
                    raise ConnectionFailed("GET /users/syncPayload: pi.acme.internal went away")
                created = created or request.path == "/users/sync"
                return await transport.send(request)

            return await write_check(send, SCRATCH, account="ADMIN", stopping=lambda: False)

    findings = asyncio.run(main())
    codes = [u.usercode for u in app.emulator.store.users.values()]
    return findings, sent, codes


def test_every_check_passes_and_nothing_is_left() -> None:
    findings, sent, codes = run(fail_after_create=False)
    assert {c.result for c in findings.checks} == {Result.OK}
    assert findings.stopped is None
    assert SCRATCH.usercode not in codes
    writes = [w for w in sent if w.startswith(("POST /users", "DELETE"))]
    assert writes == ["POST /users/sync", "POST /users/sync", "DELETE /users/11"]  # create, update


def test_a_failure_after_the_create_still_removes_the_scratch_user() -> None:
    findings, _, codes = run(fail_after_create=True)
    assert SCRATCH.usercode not in codes
    by_id = {c.id: c for c in findings.checks}
    assert by_id["write-create"].result is Result.OK
    assert (by_id["sync-answer"].observed, by_id["sync-answer"].detail) == (
        "stopped: a request failed",
        "GET /users/syncPayload: pi.acme.internal went away",
    )
    assert by_id["write-delete"].observed == "HTTP 204; nothing is left"
    assert findings.stopped == (
        "The write check stopped part-way: a request failed (the text report shows it); fix"
        " what the checks above say, or report it, then run it again."
    )
    assert "acme" not in json.dumps([c.to_dict() for c in findings.checks])
