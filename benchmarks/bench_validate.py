"""Benchmark: validate 100,000 users (the ``pisync validate`` path), cold, against 5 s.

Uses the shared generator's repository (``workload.py``: 200 files of ``--users`` / 200 users,
about 400 bytes of YAML per user, plus a roles file, under the git-ignored
``benchmarks/.data/``), then
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
import subprocess
import sys
import time
from pathlib import Path

import growth
from measure import BASELINES, Run, run_wrapped
from workload import Workload, materialise

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def generate(users: int, files: int) -> Path:
    """The repository of the shared generator's workload: ``users`` users in ``files`` files
    (plus ``roles.yaml``), every user on the server (validate never asks it)."""
    return materialise(Workload(users=users, changed=0.0, per_file=max(1, users // files))).repo


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


def run_cli(repo: Path) -> Run | None:
    """``pisync validate --no-cache users`` (cold: bench_plan.py times the cache) in a fresh
    wrapper process, so that the peak RSS (children
    included) is the command's own."""
    pisync = Path(PYTHON).parent / "pisync"
    if not pisync.exists():
        return None
    return run_wrapped([str(pisync), "validate", "--no-cache", "users"], cwd=repo, env=os.environ)


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

    figures: dict[str, float] = {}
    fast = run_load(repo)
    _report("load() (validate and build, as plan does)", fast)
    only = run_load(repo, "build=False")
    _report("load(build=False) (validate only)", only)
    figures.update(
        {
            "load() wall s": fast["wall_s"],
            "load() peak MB": fast["rss_mb"],
            "load(build=False) wall s": only["wall_s"],
        }
    )
    if args.serial:
        _report("load(workers=1) (no worker process)", run_load(repo, "workers=1"))
    ruamel = baseline_ruamel(blobs)
    figures["baseline: ruamel safe load s"] = ruamel
    print(
        f"baseline: ruamel YAML(typ='safe').load of the same bytes, GC off: {ruamel:.2f} s "
        f"-> load() is {ruamel / fast['load_s']:.1f}x faster than loading alone with it"
    )
    per_user = baseline_pure_jsonschema(repo, args.sample)
    pure = per_user * args.users
    figures["baseline: pure jsonschema s"] = pure
    print(
        f"baseline: pure jsonschema on {args.sample} users, extrapolated: {pure:.1f} s "
        f"-> {pure / fast['load_s']:.1f}x the whole load()"
    )
    if args.cli:
        cli = run_cli(repo)
        if cli is None:
            print("pisync validate: the `pisync` entry point is not installed")
        else:
            last = (cli.stdout.strip().splitlines() or [""])[-1]
            print(
                f"pisync validate --no-cache users: {cli.wall_s:.2f} s wall, {cli.cpu_s:.2f} s"
                f" CPU, peak RSS {cli.rss_mb:.0f} MB, exit {cli.exit}: {last}"
            )
            figures["pisync validate (cold) wall s"] = cli.wall_s
            figures["pisync validate (cold) CPU s"] = cli.cpu_s
            figures["pisync validate (cold) peak MB"] = cli.rss_mb
            if args.users == 100_000:
                met = "met" if cli.wall_s <= 5 else "NOT met"
                print(f"target (pisync validate of 100,000 users cold <= 5 s): {met}")
    growth.record("validate", args.users, figures)
    print()
    print(growth.table("validate"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
