"""``pisync show-desired``: one server's effective desired state, offline — the base with the
server's overlay laid over it and its ``{var: NAME}`` values put in — as desired-state YAML
(or JSON), each entry under a comment naming the file and line it comes from
(:mod:`reconciler.core.desired.effective`). Without ``servers:`` in pisync.yaml, the
repository's desired state as pisync reads it."""

from __future__ import annotations

import json
import sys

from reconciler.core.desired import effective
from reconciler.core.desired.overlay import ServerState
from reconciler.errors import UsageError
from reconciler.shell.fleet import ServerChoice, choose_servers
from reconciler.shell.repo.desired_files import find_config, load_config
from reconciler.shell.repo.desired_state import load_desired
from reconciler.shell.repo.fleet_files import fleet_config, load_fleet
from reconciler.shell.settings import Settings


def show_desired_command(settings: Settings, *, choice: ServerChoice, fmt: str) -> int:
    """Print each chosen server's effective desired state (YAML documents, or one JSON list
    with several servers); exit 0, or 3 when the desired state is invalid."""
    config = fleet_config(settings) or load_config(find_config(settings.config))
    if not config.fleet:
        choose_servers(config, choice, settings, command="show-desired", default_all=True)
        loaded = load_desired((), settings)
        state = ServerState(name="(this repository's server)", desired=loaded.desired)
        url = settings.url or loaded.config.server.url or "(no url)"
        sys.stdout.write(
            effective.render_json(state, url)
            if fmt == "json"
            else effective.render_yaml(state, url)
        )
        return 0
    if not choice.given:
        raise UsageError(
            f"pisync.yaml has {len(config.servers)} servers: choose whose desired state to show"
            " with --server NAME (repeatable, globs) or --all-servers"
        )
    entries = choose_servers(config, choice, settings, command="show-desired", default_all=False)
    files = load_fleet(settings, lambda _: [e.name for e in entries])
    if fmt == "json":
        docs = [json.loads(effective.render_json(files.server(e.name), e.url)) for e in entries]
        body = docs[0] if len(docs) == 1 else docs
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return 0
    texts = [effective.render_yaml(files.server(e.name), e.url) for e in entries]
    sys.stdout.write("---\n".join(texts))
    return 0
