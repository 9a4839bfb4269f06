"""One server's effective desired state, written back as desired-state YAML (or JSON), for
``pisync show-desired``: what the base and the server's overlay add up to, so a reviewer sees
what an overlay does without merging it by hand. Pure.

Each entry is written in the keys and form a file would use (``login`` as a mapping, the
types by name, secrets as ``{env: NAME, secure: true}``, every ``{var: NAME}`` already the
server's value), under a comment naming where it comes from: the base entry's file and line,
and the overlay entry's that changed it (``# users/vendor.yaml:5, changed by
servers/staging/testers.yaml:8``). The text reads back as a valid desired-state file.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.desired.overlay import ServerState
from reconciler.core.model.values import (
    GRANT_KEYS,
    USER_FIELDS,
    RoleSpec,
    SourcePos,
    UserSpec,
    Variable,
)
from reconciler.core.render.markup import printable
from reconciler.core.yamlfile.emit import emit


def render_yaml(state: ServerState, url: str) -> str:
    """The server's effective users and roles as one desired-state YAML document."""
    lines = [
        f"# The effective desired state of server {state.name} ({printable(url)}):",
        "# the base with this server's overlay laid over it, each {var: NAME} resolved.",
    ]
    for top, entries in (
        (
            "roles",
            [
                (role_entry(r), _origin(state, "role", r.name.casefold(), r.source))
                for r in state.desired.roles
            ],
        ),
        (
            "users",
            [
                (user_entry(u), _origin(state, "user", u.usercode, u.source))
                for u in state.desired.users
            ],
        ),
    ):
        lines.append(f"{top}:" if entries else f"{top}: []")
        for entry, origin in entries:
            lines.append(f"  # {origin}")
            lines += emit({top: [entry]}).splitlines()[1:]
    return "\n".join(lines) + "\n"


def render_json(state: ServerState, url: str) -> str:
    """The same as JSON: ``{"server", "url", "roles": [{"entry", "from"}], "users": […]}``."""
    doc = {
        "server": state.name,
        "url": url,
        "roles": [
            {"entry": role_entry(r), "from": _origin(state, "role", r.name.casefold(), r.source)}
            for r in state.desired.roles
        ],
        "users": [
            {"entry": user_entry(u), "from": _origin(state, "user", u.usercode, u.source)}
            for u in state.desired.users
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _origin(state: ServerState, kind: str, key: str, source: SourcePos | None) -> str:
    overlay = state.overlaid.get((kind, key))
    base = printable(str(source)) if source is not None else "?"
    if overlay is None:
        return base
    if source is not None and overlay == source:
        return f"{base} (this server's overlay)"
    return f"{base}, changed by {printable(str(overlay))}"


def user_entry(user: UserSpec) -> dict[str, Any]:
    """A user as a desired-state file writes it (the keys it manages, in the SPEC's order)."""
    entry: dict[str, Any] = {"usercode": user.usercode}
    login: dict[str, bool] = {}
    for key in USER_FIELDS:
        if key not in user.fields:
            continue
        value = user.fields[key]
        if key.startswith("login."):
            login[key.removeprefix("login.")] = bool(value)
            entry.setdefault("login", login)
        elif key == "variables":
            entry[key] = {v.name: _variable(v) for v in value}
        elif key == "restrictions":
            entry[key] = [
                {"connection": r.connection, "column": r.column, "values": list(r.values)}
                for r in value
            ]
        elif isinstance(value, tuple):
            entry[key] = list(value)
        else:
            entry[key] = value
    controls: dict[str, Any] = {}
    if not user.prune:
        controls["prune"] = False
    if user.ignore:
        controls["ignore"] = True
    controls.update({k: user.meta.get(k) for k in GRANT_KEYS if user.meta.get(k) is not None})
    if controls:
        entry["pisync"] = controls
    return entry


def role_entry(role: RoleSpec) -> dict[str, Any]:
    """A role as a desired-state file writes it."""
    entry: dict[str, Any] = {"name": role.name}
    for key, value in role.fields.items():
        entry[key] = list(value) if isinstance(value, tuple) else value
    return entry


def _variable(var: Variable) -> Any:
    if var.env is not None:
        return {"env": var.env, "secure": var.secure}
    return var.value
