"""``make bench``: every benchmark at each size, one after the other, output kept.

Each benchmark draws its data from the shared seeded generator (``workload.py``, into the
git-ignored ``benchmarks/.data/``) and prints its own baseline and ratios from the same run;
this runs them in turn, keeps everything they print in ``benchmarks/.data/bench-<time>.log``,
and ends with each benchmark's growth table (``growth.py``): its figures at every size, the
cost per user, and how that cost grew from the size before.

Usage::

    .venv/bin/python benchmarks/run_all.py                          # 1,000 / 10,000 / 100,000
    .venv/bin/python benchmarks/run_all.py --sizes 1000,10000 --only plan,import
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import growth

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"

# name -> (script, arguments for one size N); {n} is the size
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    # plan, apply (fresh and saved plan) vs the naive sync, --changed-since, validate (cached)
    "plan": ("bench_plan.py", ("--users", "{n}")),
    # the same with half of the declared users not on the server yet (a first rollout)
    "plan-new": ("bench_plan.py", ("--users", "{n}", "--new", "0.5", "--only", "reads,plan")),
    # validate's load, phase by phase, against ruamel's safe loader and pure jsonschema
    "validate": ("bench_validate.py", ("--users", "{n}", "--cli")),
    # import of a whole organisation against a bare httpx client doing the same reads
    "import": ("bench_import.py", ("--users", "{n}")),
    # policy checks: what they add to validate
    "policies": ("bench_policies.py", ("--users", "{n}")),
    # the access review
    "review": ("bench_review.py", ("--users", "{n}")),
    # import's YAML emitter against ruamel's
    "emit": ("bench_emit.py", ("--users", "{n}")),
}
#: the growth tables each benchmark records (growth.py), by benchmark
GROWTH = {
    "plan": ["plan"],
    "plan-new": ["plan, 50% new"],
    "validate": ["validate"],
    "import": ["import"],
    "policies": ["policies"],
    "review": ["review"],
    "emit": ["emit"],
    "verify": ["apply verification"],
    "apply": ["apply"],
    "diff": ["diff"],
    "transport": ["transport"],
    "concurrency": ["concurrency, capacity 8"],
}
# size-independent: apply throughput by parallelism, the diff engine, the transports, auto
# concurrency (its own sizes); a fleet of 50 servers x 2,000 users against one server of the
# same 100,000
ONCE: dict[str, tuple[str, ...]] = {
    "apply": ("bench_apply.py",),
    "fleet": ("bench_fleet.py",),
    "diff": ("bench_diff.py",),
    "transport": ("bench_transport.py",),
    # server.concurrency: auto against fixed 1/4/8/16/32, at 1,000 and 10,000 users
    "concurrency": ("bench_concurrency.py",),
    # apply's write verification, on and off, for both sync answers, at 10,000 users (four
    # applies of every user: about 3 minutes there, half an hour at 100,000)
    "verify": ("bench_verify.py",),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {', '.join([*BENCHMARKS, *ONCE])}",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    only = set(args.only.split(",")) if args.only else set(BENCHMARKS) | set(ONCE)
    unknown = only - set(BENCHMARKS) - set(ONCE)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    runs: list[tuple[str, list[str]]] = []
    for name, (script, template) in BENCHMARKS.items():
        if name in only and (HERE / script).exists():
            for n in sizes:
                runs.append((f"{name} at {n:,}", [script, *(a.format(n=n) for a in template)]))
    runs += [(name, list(cmd)) for name, cmd in ONCE.items() if name in only]
    DATA.mkdir(exist_ok=True)
    log = DATA / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
    failed = []
    with log.open("w", encoding="utf-8") as out:
        for label, cmd in runs:
            header = f"\n=== {label}: python benchmarks/{' '.join(cmd)}\n"
            sys.stdout.write(header)
            out.write(header)
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, *cmd],
                cwd=HERE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                out.write(line)
            if proc.wait() != 0:
                failed.append(label)
            took = f"=== {label}: exit {proc.returncode}, {time.perf_counter() - started:.0f} s\n"
            sys.stdout.write(took)
            out.write(took)
            out.flush()
        for name, tables in GROWTH.items():
            for bench in tables if name in only else ():
                table = "\n" + growth.table(bench) + "\n"
                sys.stdout.write(table)
                out.write(table)
    print(f"\nEverything printed is in {log}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
