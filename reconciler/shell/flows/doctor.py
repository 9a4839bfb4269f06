"""``pisync doctor``: a read-only probe of a real server, against every assumption the adapter
makes (:mod:`reconciler.pi.probe`). Exit 0 when every assumption that could be checked holds,
1 otherwise."""

from __future__ import annotations

import asyncio
import json
import sys

from reconciler.core.model.checks import Check, passed
from reconciler.core.model.config import Config, ServerEntry
from reconciler.core.render import doctor
from reconciler.pi.probe import Login, probe, redact_url
from reconciler.shell.fleet import (
    ServerChoice,
    choose_servers,
    credentials_problem,
    server_settings,
)
from reconciler.shell.loop import run
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.server.transport import RetryPolicy, Transport
from reconciler.shell.settings import Settings, credentials, server_url


def doctor_command(settings: Settings, *, fmt: str, servers: ServerChoice | None = None) -> int:
    config = load_config(find_config(settings.config))
    choice = servers or ServerChoice()
    if config.fleet or choice.given:
        return _doctor_fleet(settings, config, choice, fmt)
    url = server_url(settings, config)
    checks = run(_probe(settings, url, config.server.timeout))
    if fmt == "json":
        sys.stdout.write(doctor.render_json(redact_url(url), checks))
    else:
        sys.stdout.write(doctor.render_text(url, checks, quiet=settings.quiet))
    return 0 if passed(checks) else 1


async def _probe(settings: Settings, url: str, request_timeout: float) -> list[Check]:
    creds = credentials(settings)
    # a probe answers quickly or says why: a couple of retries, not minutes of them
    transport = Transport(url, creds, timeout=request_timeout, retry=RetryPolicy(attempts=2))
    async with transport:
        login = Login(username=creds.username, password=creds.password, token=creds.token)
        return await probe(transport.send_raw, url=url, login=login)


def _doctor_fleet(settings: Settings, config: Config, choice: ServerChoice, fmt: str) -> int:
    """Each chosen server probed (at once), reported one after the other; exit 1 when an
    assumption does not hold on any of them."""
    entries = choose_servers(config, choice, settings, command="doctor", default_all=False)

    async def probe_all() -> list[list[Check] | str]:
        async def one(entry: ServerEntry) -> list[Check] | str:
            mine = server_settings(settings, entry)
            missing = credentials_problem(entry, settings.env)
            if missing is not None:
                return missing
            return await _probe(mine, server_url(mine, entry.config), entry.config.server.timeout)

        return list(await asyncio.gather(*(one(e) for e in entries)))

    found = run(probe_all())
    ok = True
    docs = []
    for entry, checks in zip(entries, found, strict=True):
        if isinstance(checks, str):
            ok = False
            docs.append({"server_name": entry.name, "error": checks})
            if fmt != "json":
                sys.stdout.write(f"=== {entry.name}: {checks}\n\n")
            continue
        ok = ok and passed(checks)
        if fmt == "json":
            doc = json.loads(doctor.render_json(redact_url(entry.url), checks))
            docs.append({"server_name": entry.name, **doc})
        else:
            sys.stdout.write(f"=== {entry.name}\n")
            sys.stdout.write(doctor.render_text(entry.url, checks, quiet=settings.quiet) + "\n")
    if fmt == "json":
        sys.stdout.write(json.dumps({"servers": docs}, indent=2) + "\n")
    return 0 if ok else 1
