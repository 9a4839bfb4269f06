"""``pisync import`` of several servers: what they share written once, each server's
differences in its own overlay, so that a plan of every server right after is empty. Pure.

Each server's users and roles are first written as a single server's import writes them
(:func:`reconciler.core.desired.export.user_document`); then, per user (and role):

- a user only one server has goes, whole, to that server's overlay;
- the keys with the same value on every server that has it go to the base entry;
- a user that only some servers have gets ``pisync: {servers: [...]}`` (their names);
- each key that differs between those servers, or that only some of them set, goes to the
  overlay entry of each server that sets it (a key an overlay writes replaces the base's).

A secure variable's value cannot be read, so it may differ from server to server: each
server's reads its own environment variable, ``PISYNC_VAR_<SERVER>_<USER>_<NAME>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.desired.export import MODELINE, ExportFile, file_stem
from reconciler.core.yamlfile.emit import emit, scalar

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetExport:
    files: tuple[ExportFile, ...]
    secret_env: tuple[tuple[str, str, str, str], ...]  # (env, server, usercode, variable)
    users: int  # distinct users
    roles: int


def split(docs: Mapping[str, Sequence[Doc]], ident: str) -> tuple[list[Doc], dict[str, list[Doc]]]:
    """Entries of several servers (server -> its entries, ``ident`` their identity key) as
    the base's entries and each server's overlay entries (module docstring)."""
    names = list(docs)
    by_server = {s: {str(d[ident]): d for d in entries} for s, entries in docs.items()}
    keys = sorted({k for entries in by_server.values() for k in entries}, key=str.casefold)
    base: list[Doc] = []
    overlays: dict[str, list[Doc]] = {s: [] for s in names}
    for key in keys:
        holders = [s for s in names if key in by_server[s]]
        held = [by_server[s][key] for s in holders]
        fields = list(dict.fromkeys(f for d in held for f in d if f != ident))
        common = [f for f in fields if all(f in d and d[f] == held[0][f] for d in held)]
        if len(holders) == 1 < len(names):  # one server's own: in its overlay, whole
            overlays[holders[0]].append(held[0])
            continue
        entry: Doc = {ident: key, **{f: held[0][f] for f in common}}
        if len(holders) < len(names):
            entry["pisync"] = {"servers": holders}
        base.append(entry)
        for server, doc in zip(holders, held, strict=True):
            own = {f: v for f, v in doc.items() if f != ident and f not in common}
            if own:
                overlays[server].append({ident: key, **own})
    return base, overlays


def per_server_secrets(
    server: str, docs: Sequence[Doc]
) -> tuple[list[Doc], list[tuple[str, str, str, str]]]:
    """The server's user entries with each secure variable reading the server's own
    environment variable, and the list of those variables."""
    found: list[tuple[str, str, str, str]] = []
    out = []
    for doc in docs:
        variables = doc.get("variables")
        if not isinstance(variables, dict):
            out.append(doc)
            continue
        changed = {}
        for name, value in variables.items():
            if isinstance(value, dict) and "env" in value:
                env = _env_name(server, str(doc["usercode"]), name)
                found.append((env, server, str(doc["usercode"]), name))
                changed[name] = {"env": env, "secure": True}
            else:
                changed[name] = value
        out.append({**doc, "variables": changed})
    return out, found


def _env_name(server: str, usercode: str, variable: str) -> str:
    raw = f"PISYNC_VAR_{server}_{usercode}_{variable}".upper()
    return re.sub(r"[^A-Z0-9]+", "_", raw).strip("_")


def fleet_files(
    base_users: Sequence[Doc],
    base_roles: Sequence[Doc],
    overlay_users: Mapping[str, Sequence[Doc]],
    overlay_roles: Mapping[str, Sequence[Doc]],
    *,
    header: str,
    per_user: bool,
) -> list[ExportFile]:
    """The files: the base under ``users/`` (a file per user, or one), each server's
    overlay as ``servers/NAME/users.yaml`` and ``servers/NAME/roles.yaml``."""
    files: list[ExportFile] = []
    if base_roles:
        files.append(
            ExportFile(path="users/roles.yaml", text=_dump("roles", base_roles, header, 1))
        )
    if per_user:
        taken = {f.path.casefold() for f in files}
        for doc in base_users:
            path, n = f"users/{file_stem(str(doc['usercode']))}.yaml", 2
            while path.casefold() in taken:
                path, n = f"users/{file_stem(str(doc['usercode']))}-{n}.yaml", n + 1
            taken.add(path.casefold())
            files.append(ExportFile(path=path, text=_dump("users", [doc], header, 1)))
    elif base_users:
        files.append(
            ExportFile(path="users/users.yaml", text=_dump("users", base_users, header, 1))
        )
    for server in sorted({*overlay_users, *overlay_roles}):
        for top, entries in (
            ("roles", overlay_roles.get(server)),
            ("users", overlay_users.get(server)),
        ):
            if entries:
                note = f"{header} What server {server} has differently from the base."
                files.append(
                    ExportFile(
                        path=f"servers/{server}/{top}.yaml", text=_dump(top, entries, note, 2)
                    )
                )
    return sorted(files, key=lambda f: f.path)


def servers_block(servers: Sequence[tuple[str, str, Mapping[str, str]]]) -> str:
    """The ``servers:`` block of the written pisync.yaml: each server's url, its overlay's
    sources, and the credential variables its entry named (when not the defaults)."""
    lines = [
        "fleet:",
        "  max_in_flight: 16          # requests in flight across all servers",
        "servers:                     # each server's overlay: what it has differently",
    ]
    for name, url, credentials in servers:
        lines += [
            f"  {name}:",
            f"    url: {scalar(url)}",
            f'    sources: ["servers/{name}/**/*.y*ml"]',
        ]
        if credentials:
            lines.append("    credentials:")
            lines += [f"      {k}: {v}" for k, v in credentials.items()]
    return "\n".join(lines) + "\n"


def _dump(top: str, entries: Sequence[Doc], header: str, depth: int) -> str:
    schema = "../" * depth + "schemas/pisync-file.schema.json"
    comments = [MODELINE.format(schema=schema)]
    if header:
        comments.append(f"# {header}")
    return emit({top: entries}, comments=comments)
