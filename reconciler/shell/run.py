"""The command flows (validate, plan, apply): load, read, diff, render, execute.

The CLI module parses options and calls these; they return exit codes or raise
:mod:`reconciler.errors` exceptions, which the CLI maps to messages and exit codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.core.config import Config, UserPrune
from reconciler.core.issues import Issue
from reconciler.core.model import DesiredState, LiveState
from reconciler.core.plan import Action, Plan
from reconciler.errors import (
    ApplyFailed,
    InvalidStateError,
    UsageError,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Global options (SPEC §4), resolved from flags and environment by the CLI."""

    config: str | None = None
    url: str | None = None
    no_color: bool = False
    verbose: int = 0
    quiet: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    config: Config
    desired: DesiredState
    defaults: Mapping[str, Any]
    warnings: tuple[Issue, ...]
    undeclared_roles: tuple[Any, ...] = ()  # role references no file declares


def load_desired(paths: Sequence[str], settings: Settings) -> Loaded:
    """Load and validate the desired state; any error raises InvalidStateError (exit 3)."""
    from reconciler.core.desired import canonical_defaults
    from reconciler.shell.load import find_config, load

    config_path = find_config(settings.config)
    result = load(paths, config_path)
    errors = [i for i in result.issues if i.severity == "error"]
    if errors or result.desired is None:
        raise InvalidStateError("the desired state is invalid", result.issues, result.stats)
    return Loaded(
        config=result.config,
        desired=result.desired,
        defaults=canonical_defaults(result.config.defaults),
        warnings=tuple(i for i in result.issues if i.severity == "warning"),
        undeclared_roles=result.undeclared_roles,
    )


def server_url(settings: Settings, config: Config) -> str:
    url = settings.url or config.server.url
    if not url:
        raise UsageError(
            "no server URL: pass --url, set PISYNC_URL, or set server.url in pisync.yaml"
        )
    return url.rstrip("/")


def credentials(settings: Settings) -> Any:
    from reconciler.shell.client import Credentials

    env = settings.env
    return Credentials(
        username=env.get("PISYNC_USERNAME") or None,
        password=env.get("PISYNC_PASSWORD") or None,
        token=env.get("PISYNC_TOKEN") or None,
    )


def read_secrets(desired: DesiredState, env: Mapping[str, str]) -> dict[str, str]:
    """Values of every ``{env: NAME}`` variable; all missing names reported at once."""
    needed: dict[str, Issue] = {}
    for user in desired.users:
        for var in user.fields.get("variables", ()):
            if var.env is not None and var.env not in env and var.env not in needed:
                needed[var.env] = Issue(
                    severity="error",
                    pos=user.key_pos.get("variables", user.source),
                    message=(
                        f"user {user.usercode}: variable {var.name} reads environment variable"
                        f" {var.env}, which is not set; set it where pisync runs"
                    ),
                    key_path=f"users[{user.usercode}].variables.{var.name}",
                )
    if needed:
        raise InvalidStateError("secrets are missing", list(needed.values()))
    return {
        name: env[name]
        for user in desired.users
        for var in user.fields.get("variables", ())
        if (name := var.env) is not None
    }


def make_client(
    settings: Settings, config: Config, url: str, concurrency: int | None = None
) -> Any:
    from reconciler.shell.client import PiClient

    def on_retry(kind: str, detail: str) -> None:
        if settings.verbose:
            sys.stderr.write(f"retrying after {kind}: {detail}\n")

    return PiClient(
        url,
        credentials(settings),
        timeout=config.server.timeout,
        concurrency=concurrency or config.server.concurrency,
        verify_tls=config.server.verify_tls,
        on_retry=on_retry,
    )


def today(env: Mapping[str, str]) -> dt.date:
    """Today, or ``PISYNC_TODAY`` (YYYY-MM-DD) so that expiry sections are reproducible."""
    pinned = env.get("PISYNC_TODAY")
    if not pinned:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(pinned)
    except ValueError:
        raise UsageError(f"PISYNC_TODAY={pinned!r} is not a date (YYYY-MM-DD)") from None


async def read_and_diff(
    loaded: Loaded,
    client: Any,
    secrets: Mapping[str, str],
    *,
    targets: Sequence[str],
    progress: Any = None,
    settings_env: Mapping[str, str] | None = None,
) -> tuple[Plan, LiveState]:
    """Read the live state and compute the plan (plan-time reference errors raise)."""
    from reconciler.core.diff import diff
    from reconciler.core.references import reference_issues
    from reconciler.core.validate import unknown_role_issues
    from reconciler.shell.live import read_live

    config = loaded.config
    declared = {u.usercode for u in loaded.desired.users if not u.ignore}
    pruning = config.users_prune is not UserPrune.OFF

    def payload_for(code: str) -> bool:
        return code in declared or (pruning and not config.is_ignored(code))

    live = await read_live(
        client, payload_for=payload_for, concurrency=config.server.concurrency, progress=progress
    )
    issues = unknown_role_issues(
        loaded.undeclared_roles, (r.name for r in live.roles.values())
    ) + reference_issues(loaded.desired, live, loaded.defaults)
    if issues:
        raise InvalidStateError("the desired state references unknown objects", issues)
    plan = diff(
        loaded.desired,
        live,
        config,
        server=client.url,
        defaults=loaded.defaults,
        secrets=secrets,
        targets=targets,
        today=today(settings_env if settings_env is not None else os.environ),
    )
    return plan, live


def write_plan_file(plan: Plan, path: str) -> None:
    """Write the JSON plan atomically (no partial file on failure)."""
    from reconciler.core.render import render_json

    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(render_json(plan), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror}") from None


def read_plan_file(path: str) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Plan.from_dict(data)
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a pisync plan file: {exc}") from None


def apply_summary(result: Any) -> str:
    return (
        f"Apply complete: {result.count(Action.CREATE)} created, {result.count(Action.UPDATE)}"
        f" updated, {result.count(Action.DISABLE)} disabled, {result.count(Action.DELETE)}"
        f" deleted, {len(result.failed)} failed."
    )


def install_stop_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[int]:
    """SIGINT/SIGTERM: stop starting new requests; in-flight ones finish. The returned list
    receives the signal numbers that arrived (the exit code is 128 + the first)."""
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-POSIX
            loop.add_signal_handler(sig, on_signal, int(sig))
    return received


def raise_for_failures(result: Any) -> None:
    if result.failed or result.not_started:
        raise ApplyFailed(
            f"{len(result.failed)} change(s) failed"
            + (f", {len(result.not_started)} not started" if result.not_started else "")
            + "; the rest were applied. Fix the causes above (the server's messages) and run"
            " pisync apply again: it changes only what still differs"
        )


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
