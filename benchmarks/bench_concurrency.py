"""Benchmark: ``server.concurrency: auto`` against fixed in-flight counts, on a server that
serves at most K requests at once.

A ``pi-emulator`` process with ``--capacity K`` (the (K+1)-th request waits) and
``--latency-ms`` per request serves the shared generator's organisation (``workload.py``,
``--sizes`` users, 10% differing, as ``bench_plan.py``'s first workload); ``pisync -v plan``
runs against it with each setting of ``server.concurrency`` (``--levels``, default 1, 4, 8,
16, 32, and auto with the default ``max_concurrency`` 32), one fresh process each,
``--rounds`` times in alternating order (the median is reported). A plan only reads, so one
emulator serves every run of a size and capacity.

Throughput is the emulator's count of API requests answered (``GET /_emulator/stats``) over
the plan's wall time (start-up and the reading of the YAML included, the same for every
setting). Each row's ratio is its throughput over the best fixed setting's, and over fixed 8
(today's default). For auto, "settled" is the median in-flight limit it chose over the
second half of its changes (from ``-v``). Each size's wall times (auto, fixed 8 and the best
fixed setting) go to the growth table (``growth.py``), printed at the end.

Usage::

    .venv/bin/python benchmarks/bench_concurrency.py            # K=8, 20 ms, 1,000 and 10,000
    .venv/bin/python benchmarks/bench_concurrency.py --capacities 4,16,none --sizes 1000
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import growth
from measure import PISYNC, machine, pisync_env, run_wrapped, start_emulator
from workload import Workload, materialise, secret_env

from pi_emulator.process import EmulatorProcess

LIMIT = re.compile(r"^in flight: at most (\d+) \(was \d+;", re.M)


@dataclass
class Row:
    level: str
    walls: list[float]
    rates: list[float]
    peak_waiting: int
    settled: float | None

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def config(repo: Path, level: str) -> Path:
    path = repo / f".bench-concurrency-{level}.yaml"
    path.write_text(
        'sources: ["users/**/*.yaml"]\n'
        f"server: {{concurrency: {level}, timeout: 60}}\n"
        "users: {prune: 'off'}\n",
        encoding="utf-8",
    )
    return path


def one(emu: EmulatorProcess, repo: Path, level: str) -> tuple[float, float, int, float | None]:
    """One plan at ``level``: wall seconds, requests per second, peak waiting, settled limit."""
    emu.control("DELETE", "stats")
    run = run_wrapped(
        [PISYNC, "--config", str(config(repo, level)), "-v", "plan"],
        cwd=repo,
        env=pisync_env(emu.url, secret_env()),
    )
    if run.exit not in (0, 2):
        raise SystemExit(f"pisync plan at {level} exited {run.exit}:\n{run.tail()}")
    stats = emu.control("GET", "stats")
    limits = [int(n) for n in LIMIT.findall(run.stderr)]
    settled = statistics.median(limits[len(limits) // 2 :]) if limits else None
    return run.wall_s, stats["completed"] / run.wall_s, int(stats["peak_waiting"]), settled


def bench(users: int, capacity: str, args: argparse.Namespace) -> list[Row]:
    data = materialise(Workload(users, changed=0.10))
    repo = data.repo
    tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-concurrency-"))
    extra = ["--latency-ms", str(args.latency_ms), "--request-log-max", "0"]
    if capacity != "none":
        extra += ["--capacity", capacity]
    emu = start_emulator(tmp, data.seed, *extra)
    levels = [s for s in args.levels.split(",") if s]
    rows = {level: Row(level, [], [], 0, None) for level in levels}
    try:
        for round_ in range(args.rounds):
            order = levels if round_ % 2 == 0 else levels[::-1]
            for level in order:
                before = load()
                wall, rate, waiting, settled = one(emu, repo, level)
                row = rows[level]
                row.walls.append(wall)
                row.rates.append(rate)
                row.peak_waiting = max(row.peak_waiting, waiting)
                row.settled = settled
                print(
                    f"  {users:,} users, capacity {capacity}, {level:>4}: {wall:6.2f} s,"
                    f" {rate:6.0f} requests/s, peak waiting {waiting}"
                    + ("" if settled is None else f", settled at {settled:g}")
                    + f" (load {before} -> {load()})",
                    flush=True,
                )
    finally:
        emu.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for level in levels:
            (repo / f".bench-concurrency-{level}.yaml").unlink(missing_ok=True)
    return list(rows.values())


def table(users: int, capacity: str, rows: list[Row], latency_ms: int) -> str:
    fixed = [r for r in rows if r.level != "auto"]
    best = max(fixed, key=lambda r: r.rate)
    eight = next((r for r in fixed if r.level == "8"), None)
    head = (
        f"\n{users:,} users, capacity {capacity}, {latency_ms} ms latency"
        f" (best fixed: {best.level})\n\n"
        "| concurrency | wall s | requests/s | x best fixed | x fixed 8 | peak waiting |"
        " settled at |\n|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        vs8 = f"{r.rate / eight.rate:.2f}" if eight else "-"
        settled = "-" if r.settled is None else f"{r.settled:g}"
        lines.append(
            f"| {r.level} | {r.wall:.2f} | {r.rate:.0f} | {r.rate / best.rate:.2f} | {vs8} |"
            f" {r.peak_waiting} | {settled} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="users, comma-separated")
    parser.add_argument("--capacities", default="8", help="K values (or none), comma-separated")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--levels", default="1,4,8,16,32,auto")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    print(machine(), f"load {load()}", flush=True)
    out = []
    for capacity in [c for c in args.capacities.split(",") if c]:
        for users in [int(s) for s in args.sizes.split(",") if s]:
            rows = bench(users, capacity, args)
            out.append(table(users, capacity, rows, args.latency_ms))
            print(out[-1], flush=True)
            growth.record(GROWTH.format(capacity=capacity), users, figures(rows))
    print("".join(out))
    for capacity in dict.fromkeys(c for c in args.capacities.split(",") if c):
        print("\n" + growth.table(GROWTH.format(capacity=capacity)))
    return 0


#: the growth table of each capacity (growth.py)
GROWTH = "concurrency, capacity {capacity}"


def figures(rows: list[Row]) -> dict[str, float]:
    """The wall times the growth table follows: auto, fixed 8 and the best fixed setting."""
    fixed = [r for r in rows if r.level != "auto"]
    out = {f"{r.level} wall s": r.wall for r in rows if r.level in ("auto", "8")}
    if fixed:
        out["best fixed wall s"] = max(fixed, key=lambda r: r.rate).wall
    return out


if __name__ == "__main__":
    raise SystemExit(main())
