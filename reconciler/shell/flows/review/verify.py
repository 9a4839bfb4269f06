"""``pisync review --verify DIR``: re-check a stored review bundle.

- ``manifest.json`` is whole: its own SHA-256 matches (an edit of the manifest shows);
- every output it lists is there with the same SHA-256 and size, and no other file is;
- ``review.json`` carries the same manifest;
- the counts reconcile again, re-counted from the outputs themselves: the users in
  ``review.json`` and ``review.csv``, the grants in ``grants.csv``; and the manifest's checks
  hold for those counts;
- the inputs: where the repository is here and has the commit the review read, each input of
  the repository (not marked uncommitted) has the same SHA-256 at that commit.

Any difference fails with every one named (exit 1); otherwise one line says what was
checked. Reads files and git only: no server, no credentials.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson

from reconciler.core.review.manifest import Counts, bundle_digest, checks
from reconciler.errors import PisyncError, UsageError
from reconciler.shell.flows.review.evidence import USERS_OPEN, digest
from reconciler.shell.flows.review.outputs import MANIFEST_JSON
from reconciler.shell.repo.desired_files import find_config
from reconciler.shell.repo.git import git_bytes
from reconciler.shell.settings import Settings


class VerificationFailed(PisyncError):
    """The bundle differs from its manifest (exit 1)."""


def verify_bundle(settings: Settings, folder: Path) -> int:
    data = _manifest(folder)
    problems: list[str] = []
    if bundle_digest(data) != data.get("sha256"):
        problems.append(f"{MANIFEST_JSON} was edited: its own SHA-256 does not match")
    listed = _outputs(folder, data, problems)
    manifest = _dict(data.get("manifest"))
    if "review.json" in listed:
        _review_json(folder / "review.json", manifest, problems)
    counted = _recount(folder, listed, manifest, problems)
    inputs = _inputs(settings, manifest, problems)
    if problems:
        raise VerificationFailed(
            f"the bundle {folder} differs from what was recorded:\n  - " + "\n  - ".join(problems)
        )
    sys.stdout.write(
        f"The bundle {folder} is as recorded: {len(listed)} outputs match {MANIFEST_JSON}"
        f" (sha256 {data['sha256'][:12]}…), its counts reconcile ({counted}), {inputs}.\n"
    )
    return 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_JSON
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(
            f"--verify {folder}: no {MANIFEST_JSON} there ({exc.strerror or exc}); a bundle is"
            " written by pisync review --out DIR"
        ) from None
    except orjson.JSONDecodeError:
        raise VerificationFailed(f"{path} is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), list):
        raise VerificationFailed(f"{path} is not a pisync review manifest")
    return data


def _outputs(folder: Path, data: Mapping[str, Any], problems: list[str]) -> set[str]:
    listed: set[str] = set()
    for item in data["outputs"]:
        name = item.get("path") if isinstance(item, dict) else None
        if not isinstance(name, str) or name.startswith(("/", "\\")) or ".." in Path(name).parts:
            problems.append(f"{MANIFEST_JSON} lists an output outside the bundle: {name!r}")
            continue
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        found = digest(path, name)
        if found.sha256 != item.get("sha256") or found.size != item.get("bytes"):
            problems.append(
                f"{name} differs: sha256 {found.sha256[:12]}… ({found.size} bytes), recorded"
                f" {str(item.get('sha256'))[:12]}… ({item.get('bytes')} bytes)"
            )
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name != MANIFEST_JSON and name not in listed:
            problems.append(f"{name} is not in {MANIFEST_JSON} (added after the review)")
    return listed


def _review_json(path: Path, manifest: Mapping[str, Any], problems: list[str]) -> None:
    head: list[bytes] = []
    with path.open("rb") as f:
        for raw in f:
            if raw.rstrip(b"\n").decode("utf-8", "replace") == USERS_OPEN:
                break
            head.append(raw)
    try:
        data = orjson.loads(b"".join(head).rstrip().rstrip(b",") + b"\n}")
    except orjson.JSONDecodeError:
        problems.append("review.json is not laid out as pisync writes it")
        return
    if data.get("manifest") != manifest:
        problems.append(f"review.json carries another manifest than {MANIFEST_JSON}")


def _recount(
    folder: Path, listed: set[str], manifest: Mapping[str, Any], problems: list[str]
) -> str:
    counts = _dict(manifest.get("counts"))
    found: dict[str, int] = {}
    if "review.json" in listed:
        found["users in review.json"] = _json_users(folder / "review.json")
    if "review.csv" in listed:
        found["users in review.csv"] = _csv_rows(folder / "review.csv")
    if "grants.csv" in listed:
        found["grants in grants.csv"] = _csv_rows(folder / "grants.csv")
    for what, n in found.items():
        key = "grants" if what.startswith("grants") else "reported"
        if counts.get(key) != n:
            problems.append(f"{n} {what}, but the manifest counts {counts.get(key)}")
    try:
        recorded = Counts(**{f.name: counts[f.name] for f in fields(Counts)})
    except (KeyError, TypeError):
        problems.append("the manifest's counts are incomplete")
        return "not re-counted"
    for check in checks(recorded):
        if check.ok is False:
            problems.append(f"check {check.name!r} fails: {check.detail}")
    return ", ".join(f"{n} {what}" for what, n in found.items())


def _json_users(path: Path) -> int:
    n, inside = 0, False
    with path.open("rb") as f:
        for raw in f:
            line = raw.rstrip(b"\n")
            if inside and line.startswith(b"    {"):
                n += 1
            elif line.decode("utf-8", "replace") == USERS_OPEN:
                inside = True
    return n


def _csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


def _inputs(settings: Settings, manifest: Mapping[str, Any], problems: list[str]) -> str:
    repo = _dict(manifest.get("repository"))
    commit = repo.get("commit")
    if not isinstance(commit, str):
        return "its inputs were not re-checked (the review recorded no repository commit)"
    config = find_config(settings.config)
    where = config.resolve().parent if config is not None else Path.cwd()
    try:
        git_bytes(where, "cat-file", "-e", f"{commit}^{{commit}}")
    except (OSError, subprocess.CalledProcessError):
        return f"its inputs were not re-checked (no repository here has commit {commit[:12]})"
    skip = set(repo.get("uncommitted") or ())
    checked = 0
    for item in manifest.get("inputs") or ():
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str) or path.startswith("/") or path in skip:
            continue
        try:
            data = git_bytes(where, "show", f"{commit}:{path}")
        except (OSError, subprocess.CalledProcessError):
            problems.append(f"input {path} is not in commit {commit[:12]} of the repository")
            continue
        if hashlib.sha256(data).hexdigest() != item.get("sha256"):
            problems.append(f"input {path} differs from commit {commit[:12]} of the repository")
        checked += 1
    return f"{checked} inputs match commit {commit[:12]} of the repository"
