"""Benchmark: validate 100,000 users (the ``pisync validate`` path) against a 10 s / 1 GB target.

Generates a seeded, realistic desired-state repository (200 files of 500 users, about 300
bytes of YAML per user, plus a roles file) under ``benchmarks/.data/`` (git-ignored), then
times :func:`reconciler.shell.repo.desired_files.load` (find, read, parse, schema and
cross-file checks, build the desired state) in a fresh process, and reports wall time and peak
RSS.

For scale, it also measures in this process: ruamel's plain ``YAML(typ='safe').load`` of the
same bytes (the loader the fast path replaces), and the pure-jsonschema path on a sample of
users, extrapolated to all of them (what validation would cost without jsonschema-rs).

Usage::

    .venv/bin/python benchmarks/bench_validate.py            # 100,000 users
    .venv/bin/python benchmarks/bench_validate.py --users 20000 --cli

``--cli`` also times ``pisync validate DIR`` as a subprocess (once the command exists).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from measure import BASELINES, run_wrapped

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "validate"
PYTHON = sys.executable

FORENAMES = ["John", "Mary", "Ahmed", "Li", "Olga", "Sofia", "Kwame", "Aiko", "Pedro", "Anna"]
SURNAMES = ["Smith", "Jones", "Khan", "Wang", "Ivanova", "Garcia", "Mensah", "Sato", "Silva"]
TYPES = ["user", "user", "user", "chart-viewer", "designer", "chart-explorer"]
ROLES = [f"Role {i:02d}" for i in range(40)]
CATEGORIES = ["Sales", "Finance", "Budgets", "HR", "Operations", "Marketing", "Support"]
PRIVILEGES = ["exportToCsv", "exportToExcel", "pdf", "schedule", "saveFilters", "subscription"]
REGIONS = ["North", "South", "East", "West"]


def user_yaml(rng: random.Random, n: int) -> str:
    code = f"u{n:06d}"
    lines = [
        f"  - usercode: {code}",
        f"    forenames: {rng.choice(FORENAMES)}",
        f"    surname: {rng.choice(SURNAMES)}",
        f"    email: {code}@example.com",
        f"    type: {rng.choice(TYPES)}",
        f"    enabled: {'true' if rng.random() < 0.95 else 'false'}",
        f"    roles: [{', '.join(rng.sample(ROLES, rng.randint(1, 2)))}]",
        f"    categories: [{', '.join(rng.sample(CATEGORIES, rng.randint(1, 2)))}]",
        f"    privileges: [{', '.join(rng.sample(PRIVILEGES, 2))}]",
        "    login: {password: false, external: true}",
    ]
    if rng.random() < 0.3:
        lines.append(f"    expires: 2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
    if rng.random() < 0.5:
        lines.append(f"    variables: {{region: {rng.choice(REGIONS)}}}")
    return "\n".join(lines) + "\n"


def generate(users: int, files: int, seed: int = 42) -> Path:
    """Write the repository (reused when the same size was generated before)."""
    target = DATA / f"{users}-{files}"
    marker = target / ".complete"
    if marker.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    (target / "users").mkdir(parents=True)
    rng = random.Random(seed)
    roles = "".join(
        f"  - name: {r}\n    description: Generated role {r}\n"
        f"    categories: [{', '.join(rng.sample(CATEGORIES, 2))}]\n"
        for r in ROLES
    )
    (target / "users" / "roles.yaml").write_text("roles:\n" + roles, encoding="utf-8")
    per_file = users // files
    for f in range(files):
        body = "".join(user_yaml(rng, f * per_file + i) for i in range(per_file))
        path = target / "users" / f"team-{f:03d}.yaml"
        path.write_text("users:\n" + body, encoding="utf-8")
    marker.write_text("", encoding="utf-8")
    return target


def _yaml_bytes(repo: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((repo / "users").glob("*.yaml"))]


def run_load(repo: Path, option: str = "") -> dict[str, float]:
    """Time ``load(["users"], None, cache=False, <option>)`` in a fresh process."""
    start = time.perf_counter()
    out = subprocess.run(
        [PYTHON, str(BASELINES / "load_child.py"), str(repo / "users"), "-", "nocache", "-"]
        + ([option] if option else []),
        check=True,
        capture_output=True,
        text=True,
        cwd=repo,
    )
    wall = time.perf_counter() - start
    figures: dict[str, float] = json.loads(out.stdout)
    figures["wall_s"] = wall
    return figures


def _report(label: str, f: dict[str, float]) -> None:
    print(
        f"{label}: {f['wall_s']:.2f} s wall (imports {f['import_s']:.2f} s, load "
        f"{f['load_s']:.2f} s), peak RSS {f['rss_mb']:.0f} MB (worker {f['children_rss_mb']:.0f}"
        f" MB); {f['users']:.0f} users built, {f['errors']:.0f} errors"
    )


def run_cli(repo: Path) -> dict[str, object] | None:
    """``pisync validate --no-cache users`` (cold: bench_plan.py times the cache) in a fresh
    wrapper process, so that the peak RSS (children
    included) is the command's own."""
    pisync = Path(PYTHON).parent / "pisync"
    if not pisync.exists():
        return None
    run = run_wrapped([str(pisync), "validate", "--no-cache", "users"], cwd=repo, env=os.environ)
    last = (run.stdout.strip().splitlines() or [""])[-1]
    return {"wall_s": run.wall_s, "rss_mb": run.rss_mb, "exit": run.exit, "last": last}


# --- baselines, in this process -----------------------------------------------------------


def baseline_ruamel(blobs: list[bytes]) -> float:
    from ruamel.yaml import YAML

    gc.disable()
    start = time.perf_counter()
    for blob in blobs:
        YAML(typ="safe").load(blob)
    took = time.perf_counter() - start
    gc.enable()
    return took


def baseline_pure_jsonschema(repo: Path, sample: int) -> float:
    """Seconds per user for jsonschema's iter_errors on ``sample`` users."""
    from jsonschema import Draft202012Validator

    from reconciler.core.yamlfile.read import parse_yaml
    from reconciler.schemas import load_schema

    schema = load_schema("pisync-file")
    user_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/user"}
    validator = Draft202012Validator(
        user_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    users: list[object] = []
    for path in sorted((repo / "users").glob("team-*.yaml")):
        parsed = parse_yaml(path.read_bytes(), path.name)
        assert parsed.data is not None
        users += parsed.data["users"]
        if len(users) >= sample:
            break
    start = time.perf_counter()
    for user in users[:sample]:
        for _ in validator.iter_errors(user):
            pass
    return (time.perf_counter() - start) / sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument(
        "--sample", type=int, default=5_000, help="users for the jsonschema baseline"
    )
    parser.add_argument("--cli", action="store_true", help="also time `pisync validate DIR`")
    parser.add_argument("--serial", action="store_true", help="also time load() with workers=1")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    repo = generate(args.users, args.files)
    blobs = _yaml_bytes(repo)
    size = sum(len(b) for b in blobs)
    print(
        f"repository: {repo} ({args.files} files + roles.yaml, {size / 1e6:.1f} MB, "
        f"{size / args.users:.0f} bytes/user)"
    )

    fast = run_load(repo)
    _report("load() (validate and build, as plan does)", fast)
    _report("load(build=False) (validate only)", run_load(repo, "build=False"))
    if args.serial:
        _report("load(workers=1) (no worker process)", run_load(repo, "workers=1"))
    ruamel = baseline_ruamel(blobs)
    print(
        f"baseline: ruamel YAML(typ='safe').load of the same bytes, GC off: {ruamel:.2f} s "
        f"-> load() is {ruamel / fast['load_s']:.1f}x faster than loading alone with it"
    )
    per_user = baseline_pure_jsonschema(repo, args.sample)
    pure = per_user * args.users
    print(
        f"baseline: pure jsonschema on {args.sample} users, extrapolated: {pure:.1f} s "
        f"-> {pure / fast['load_s']:.1f}x the whole load()"
    )
    if args.cli:
        cli = run_cli(repo)
        if cli is None:
            print("pisync validate: the `pisync` entry point is not installed")
        else:
            print(
                f"pisync validate users: {cli['wall_s']:.2f} s wall, peak RSS "
                f"{cli['rss_mb']:.0f} MB, exit {cli['exit']}: {cli['last']}"
            )
    if args.users == 100_000:
        ok = fast["wall_s"] <= 10 and fast["rss_mb"] <= 1024
        print(f"target (<= 10 s, <= 1 GB for 100,000 users): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
