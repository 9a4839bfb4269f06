"""The fleet's shell parts that need no server: choosing servers (names, globs, shards), each
server's settings and credentials, and the progress lines a terminal shows."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import pytest
from rich.console import Console

from reconciler.core.model.config import Config
from reconciler.errors import UsageError
from reconciler.shell.console import FleetProgress
from reconciler.shell.fleet import (
    ServerChoice,
    choose_servers,
    credentials_problem,
    parse_shard,
    server_settings,
)
from reconciler.shell.settings import Settings

NAMES = ["alpha", "beta", "gamma", "prod-a", "prod-b"]
CONFIG = Config.from_dict({"servers": {n: {"url": f"https://{n}.test/pi/api/v2"} for n in NAMES}})


def chosen(settings: Settings | None = None, **given: object) -> list[str]:
    choice = ServerChoice(**given)  # type: ignore[arg-type]
    entries = choose_servers(
        CONFIG, choice, settings or Settings(env={}), command="plan", default_all=True
    )
    return [e.name for e in entries]


def test_names_globs_and_shards() -> None:
    assert chosen() == NAMES
    assert chosen(names=("prod-*", "alpha")) == ["alpha", "prod-a", "prod-b"]
    assert [chosen(shard=f"{i}/2") for i in (1, 2)] == [
        ["alpha", "gamma", "prod-b"],
        ["beta", "prod-a"],
    ]
    assert chosen(names=("prod-*",), shard="2/2") == ["prod-b"]
    assert parse_shard(" 3 / 8 ") == (3, 8)
    for bad in ("0/2", "3/2", "1/257", "x", "1/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_pinned_urls_replace_the_files_and_must_name_every_server() -> None:
    pins = {n: f"https://pinned-{n}.test/pi/api/v2" for n in NAMES}
    entries = choose_servers(
        CONFIG,
        ServerChoice(names=("beta",)),
        Settings(env={}, server_urls=pins),
        command="plan",
        default_all=True,
    )
    assert [(e.url, e.config.server.url) for e in entries] == [
        ("https://pinned-beta.test/pi/api/v2", "https://pinned-beta.test/pi/api/v2")
    ]
    with pytest.raises(UsageError, match="names no url for server gamma"):
        chosen(Settings(env={}, server_urls={"alpha": "https://a.test"}), names=("gamma",))


def test_each_server_reads_its_own_credentials_and_nothing_else() -> None:
    env = {
        "PISYNC_USERNAME": "shared",
        "PISYNC_PASSWORD": "shared-secret",
        "PISYNC_BETA_USERNAME": "b",
        "PISYNC_BETA_PASSWORD": "b-secret",
        "OTHER": "kept",
    }
    beta, gamma = CONFIG.server_named("beta"), CONFIG.server_named("gamma")

    mine = server_settings(Settings(env=env, url="https://x.test"), beta)
    theirs = server_settings(Settings(env=env), gamma)

    assert mine.url == "https://beta.test/pi/api/v2"
    assert dict(mine.env) == {
        "PISYNC_BETA_USERNAME": "b",
        "PISYNC_BETA_PASSWORD": "b-secret",
        "OTHER": "kept",
        "PISYNC_USERNAME": "b",
        "PISYNC_PASSWORD": "b-secret",
    }
    assert "PISYNC_USERNAME" not in theirs.env
    assert credentials_problem(beta, env) is None
    assert credentials_problem(gamma, env) == (
        "no credentials for server gamma: set PISYNC_GAMMA_USERNAME and PISYNC_GAMMA_PASSWORD,"
        " or PISYNC_GAMMA_TOKEN"
    )
    shared = {"PISYNC_FLEET_CREDENTIALS": json.dumps({"gamma": {"token": "t"}})}
    assert server_settings(Settings(env=shared), gamma).env["PISYNC_TOKEN"] == "t"
    assert credentials_problem(beta, shared) == (
        'no credentials for server beta: PISYNC_FLEET_CREDENTIALS has no "beta":'
        ' {"username": …, "password": …} (or {"token": …})'
    )


def test_a_progress_line_per_server_on_a_terminal_and_none_elsewhere() -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=80, color_system=None)
    with FleetProgress(terminal, ["alpha", "beta"]) as progress:
        update = progress.updater("alpha")
        assert update is not None
        update(3, 10)
        progress.done("beta", "failed")
        progress._progress.refresh()  # what a terminal shows now
        shown = out.getvalue()
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).replace("\r", "\n")
    last = [" ".join(line.split()) for line in plain.split("\n") if line.strip()][-2:]
    assert [re.sub(r"[━╸╺]+", "BAR", line) for line in last] == [
        "alpha BAR 3/10 reading users",
        "beta BAR 0/? failed",
    ]
    quiet = FleetProgress.for_settings(SimpleNamespace(no_color=True, quiet=True), ["a"])
    with quiet as progress:
        assert progress.updater("a") is None
