"""``pisync doctor``: a probe of a real server, against every assumption the adapter makes
(:mod:`reconciler.pi.probe`, read-only), and with ``--write-check`` against every guess about
how it stores a user (:mod:`reconciler.pi.write_check`: one scratch user, written, read back,
updated and deleted). Exit 0 when every assumption that could be checked holds, 1 otherwise
(and when something that is not about the API stood in the way), 130 after Ctrl-C.

The write check writes, so it asks first (or takes ``--yes``), and refuses without a terminal
to ask on. Ctrl-C or SIGTERM during it stops the steps and still removes the scratch user.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import sys

from reconciler.core.model.checks import Findings
from reconciler.core.model.config import Config, ServerEntry
from reconciler.core.render import doctor
from reconciler.errors import UsageError
from reconciler.pi.probe import Login, probe, redact_url
from reconciler.pi.write_check import PREFIX, Scratch, write_check
from reconciler.shell.fleet import (
    ServerChoice,
    choose_servers,
    credentials_problem,
    server_settings,
)
from reconciler.shell.loop import run
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.server.connect import transport_for
from reconciler.shell.server.transport import RetryPolicy
from reconciler.shell.settings import Settings, account, credentials, server_url, today
from reconciler.shell.signals import exit_code, interrupts, is_interactive

EXIT_CANCELLED = 1


def doctor_command(
    settings: Settings,
    *,
    fmt: str,
    write: bool = False,
    yes: bool = False,
    servers: ServerChoice | None = None,
) -> int:
    config = load_config(find_config(settings.config))
    choice = servers or ServerChoice()
    if config.fleet or choice.given:
        if write:
            raise UsageError(
                "--write-check writes to one server at a time: run pisync doctor --write-check"
                " with --url set to that server's url, in a folder without servers:"
            )
        return _doctor_fleet(settings, config, choice, fmt)
    url = server_url(settings, config)
    scratch = None
    if write:
        scratch = Scratch(
            usercode=PREFIX + secrets.token_hex(4).upper(),
            secret=secrets.token_urlsafe(16),
            expires=(today(settings.env) + dt.timedelta(days=365)).isoformat(),
        )
        if not yes and not _confirmed(url, scratch.usercode):
            sys.stderr.write("Write check cancelled; nothing was written.\n")
            return EXIT_CANCELLED
    received: list[int] = []
    findings = run(_doctor(settings, config, url, scratch, received))
    if fmt == "json":
        sys.stdout.write(doctor.render_json(redact_url(url), findings))
    else:
        sys.stdout.write(doctor.render_text(url, findings, quiet=settings.quiet))
    if received:
        return exit_code(received)
    return 0 if findings.passed else 1


def _confirmed(url: str, usercode: str) -> bool:
    if not is_interactive():
        raise UsageError(
            "doctor --write-check writes to the server (it creates, changes and deletes one"
            " scratch user): run it in a terminal to be asked, or pass --yes"
        )
    import typer

    sys.stderr.write(
        f"The write check creates the scratch user {usercode} on {url}, changes it, and"
        " deletes it (or disables it where deleting is refused). Run it on a test server"
        " first.\n"
    )
    try:
        return bool(typer.confirm("Go on?", default=False))
    except (KeyboardInterrupt, EOFError, typer.Abort):
        return False


async def _doctor(
    settings: Settings,
    config: Config,
    url: str,
    scratch: Scratch | None,
    received: list[int],
) -> Findings:
    creds = credentials(settings)
    who = account(settings).usercode
    # the connection plan uses (TLS check, timeout, rate budget...); a probe answers quickly
    # or says why: a couple of retries, not minutes of them
    transport = transport_for(settings, config, url, retry=RetryPolicy(attempts=2))
    async with transport:
        login = Login(username=creds.username, password=creds.password, token=creds.token)
        found = await probe(transport.send_raw, url=url, login=login, account=who)
        if scratch is None:
            return found
        if found.stopped is not None:
            return found
        stop = asyncio.Event()

        def on_signal() -> None:
            if not stop.is_set():
                sys.stderr.write("\nStopping: removing the scratch user first.\n")
            stop.set()

        with interrupts(asyncio.get_running_loop(), on_signal, on_signal, received):
            written = await write_check(transport.send, scratch, account=who, stopping=stop.is_set)
    stopped = written.stopped
    if received and stopped is None:
        stopped = "Interrupted: the write check did not finish (the scratch user was removed)."
    return Findings(checks=found.checks + written.checks, stopped=stopped)


def _doctor_fleet(settings: Settings, config: Config, choice: ServerChoice, fmt: str) -> int:
    """Each chosen server probed (at once), reported one after the other; exit 1 when an
    assumption does not hold on any of them, or one could not be checked."""
    entries = choose_servers(config, choice, settings, command="doctor", default_all=False)

    async def one(entry: ServerEntry) -> Findings | str:
        missing = credentials_problem(entry, settings.env)
        if missing is not None:
            return missing
        mine = server_settings(settings, entry)
        url = server_url(mine, entry.config)
        return await _doctor(mine, entry.config, url, None, [])

    async def every() -> list[Findings | str]:
        return list(await asyncio.gather(*(one(e) for e in entries)))

    ok = True
    docs = []
    for entry, found in zip(entries, run(every()), strict=True):
        if isinstance(found, str):
            ok = False
            docs.append({"server_name": entry.name, "error": found})
            if fmt != "json":
                sys.stdout.write(f"=== {entry.name}: {found}\n\n")
            continue
        ok = ok and found.passed
        if fmt == "json":
            doc = json.loads(doctor.render_json(redact_url(entry.url), found))
            docs.append({"server_name": entry.name, **doc})
        else:
            sys.stdout.write(f"=== {entry.name}\n")
            sys.stdout.write(doctor.render_text(entry.url, found, quiet=settings.quiet) + "\n")
    if fmt == "json":
        sys.stdout.write(json.dumps({"servers": docs}, indent=2) + "\n")
    return 0 if ok else 1
