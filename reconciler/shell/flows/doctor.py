"""``pisync doctor``: a read-only probe of a real server, against every assumption the adapter
makes (:mod:`reconciler.pi.probe`). Exit 0 when every assumption that could be checked holds,
1 otherwise."""

from __future__ import annotations

import sys

from reconciler.core.model.checks import Check, passed
from reconciler.core.model.config import Config
from reconciler.core.render import doctor
from reconciler.pi.probe import Login, probe, redact_url
from reconciler.shell.loop import run
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.server.connect import transport_for
from reconciler.shell.server.transport import RetryPolicy
from reconciler.shell.settings import Settings, credentials, server_url


def doctor_command(settings: Settings, *, fmt: str) -> int:
    config = load_config(find_config(settings.config))
    url = server_url(settings, config)
    checks = run(_probe(settings, config, url))
    if fmt == "json":
        sys.stdout.write(doctor.render_json(redact_url(url), checks))
    else:
        sys.stdout.write(doctor.render_text(url, checks, quiet=settings.quiet))
    return 0 if passed(checks) else 1


async def _probe(settings: Settings, config: Config, url: str) -> list[Check]:
    creds = credentials(settings)
    # the connection plan uses (TLS check, timeout, rate budget...); a probe answers quickly
    # or says why: a couple of retries, not minutes of them
    transport = transport_for(settings, config, url, retry=RetryPolicy(attempts=2))
    async with transport:
        login = Login(username=creds.username, password=creds.password, token=creds.token)
        return await probe(transport.send_raw, url=url, login=login)
