"""Benchmark: ``pisync apply`` throughput (changes per second) at several parallelism levels.

For each level N (default 1, 4, 8, 16) a fresh ``pi-emulator`` process is started on a free
loopback port with the same seed and ``--latency-ms 20`` (every API request sleeps 20 ms, a
plausible round trip to a real server). Against it, in a temporary desired-state repository:

1. ``pisync plan`` alone (timed: the read-and-diff part of an apply, plus rendering);
2. ``pisync apply --auto-approve --parallelism N`` (timed: the whole command);
3. ``pisync plan --detailed-exitcode`` again, which must be empty (exit 0): the correctness
   check, printed in the table.

The repository's ``pisync.yaml`` sets ``server.concurrency: N`` too, so that the reads of the
plan inside the apply run N requests in flight like its writes do (``--parallelism`` bounds
the HTTP client; ``server.concurrency`` is the number of syncPayload readers), and so that
step 1 measures the same reads as the plan inside step 2. The re-plan of step 3 uses a
second config file with concurrency 16 (it only checks; it is not timed as a result).

The changes come from the shared generator (``workload.py``): ``--users`` declared users the
server does not hold (default 1,000; the organisation's managers, 1% of them, are on the
server already, so 990 are created) and ``--updates`` it holds with another email and role.
Each create or update is one ``POST /users/sync``, so "changes/s" is writes per second.

The baseline is parallelism 1 in the same run: the table gives each level's ratio to it,
and the latency bound (N / 20 ms, what a client with no cost of its own could reach if the
server had none either).

Its apply times (and the first level's peak RSS) go to the growth table (``growth.py``) by
the number of changes, printed at the end.

Usage::

    .venv/bin/python benchmarks/bench_apply.py                      # 1,000 creates, 1/4/8/16
    .venv/bin/python benchmarks/bench_apply.py --updates 1000       # and 1,000 updates
    .venv/bin/python benchmarks/bench_apply.py --repeat 3               # median of 3 per level
    .venv/bin/python benchmarks/bench_apply.py --levels 1,8 --users 300 --profile 8

``--profile N`` runs the apply at level N under cProfile (in a separate, untimed run against
its own fresh emulator) and prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import growth
from measure import PISYNC, PYTHON, Run, machine, pisync_env, run_wrapped, start_emulator
from workload import Workload, materialise, secret_env


def workload(creates: int, updates: int, per_file: int) -> Workload:
    """The shared generator's organisation: ``creates`` declared users the server does not
    hold (less its managers, which it holds) and ``updates`` it holds differently."""
    users = creates + updates
    return Workload(
        users=users,
        new=creates / users,
        changed=1.0 if updates else 0.0,
        per_file=per_file,
    )


def write_config(path: Path, concurrency: int) -> None:
    path.write_text(
        'sources: ["users/**/*.y*ml"]\n'
        f"server:\n  timeout: 60\n  concurrency: {concurrency}\n"
        "users:\n  prune: off\n  protected: [ADMIN]\n",
        encoding="utf-8",
    )


# --- processes ---------------------------------------------------------------------------


def run_pisync(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], profile: Path | None = None
) -> Run:
    command = [PISYNC, *args]
    if profile is not None:
        command = [PYTHON, "-m", "cProfile", "-o", str(profile), PISYNC, *args]
    return run_wrapped(command, cwd=cwd, env=env)


# --- one level ---------------------------------------------------------------------------


@dataclass
class Level:
    parallelism: int
    plan: Run
    apply: Run
    replan: Run
    emulator_cpu_s: float  # during the apply
    users_after: int
    planned_changes: int
    plan_json: Run | None = None  # `pisync plan --format json`, first level only
    apply_range: tuple[float, float] | None = None  # min and max apply s over --repeat runs
    notes: list[str] = field(default_factory=list)


def run_level(
    n: int,
    tmp: Path,
    repo: Path,
    seed_file: Path,
    latency_ms: int,
    expected_users: int,
    *,
    json_plan: bool = False,
) -> Level:
    write_config(repo / "pisync.yaml", n)
    write_config(repo / "verify.yaml", 16)
    emu = start_emulator(tmp, seed_file, "--latency-ms", str(latency_ms))
    try:
        env = pisync_env(emu.url, secret_env())
        plan_file = tmp / f"plan-{n}.json"
        plan = run_pisync(["plan", "--out", str(plan_file)], cwd=repo, env=env)
        planned = len(json.loads(plan_file.read_text())["changes"]) if plan_file.exists() else -1
        plan_json = (
            run_pisync(["plan", "--format", "json"], cwd=repo, env=env) if json_plan else None
        )
        cpu_before = emu.cpu_seconds()
        apply = run_pisync(["apply", "--auto-approve", "--parallelism", str(n)], cwd=repo, env=env)
        emulator_cpu = emu.cpu_seconds() - cpu_before
        replan = run_pisync(
            ["--config", "verify.yaml", "plan", "--detailed-exitcode"], cwd=repo, env=env
        )
        users_after = int(emu.control("GET", "health")["users"])
    finally:
        emu.stop()
    level = Level(n, plan, apply, replan, emulator_cpu, users_after, planned, plan_json)
    if plan.exit != 0:
        level.notes.append(f"plan exit {plan.exit}:\n{plan.tail()}")
    if apply.exit != 0:
        level.notes.append(f"apply exit {apply.exit}:\n{apply.tail()}")
    if replan.exit != 0:
        level.notes.append(f"re-plan NOT empty (exit {replan.exit}):\n{replan.tail()}")
    if users_after != expected_users:
        level.notes.append(f"emulator has {users_after} users, expected {expected_users}")
    return level


def median_level(runs: Sequence[Level]) -> Level:
    """The run with the median apply time, carrying every run's notes and the apply range."""
    ordered = sorted(runs, key=lambda lv: lv.apply.wall_s)
    mid = ordered[len(ordered) // 2]
    mid.apply_range = (ordered[0].apply.wall_s, ordered[-1].apply.wall_s)
    mid.notes = [note for lv in runs for note in lv.notes]
    if mid.plan_json is None:
        mid.plan_json = next((lv.plan_json for lv in runs if lv.plan_json is not None), None)
    return mid


def profile_level(
    n: int, tmp: Path, repo: Path, seed_file: Path, latency_ms: int, top: int = 25
) -> None:
    write_config(repo / "pisync.yaml", n)
    emu = start_emulator(tmp, seed_file, "--latency-ms", str(latency_ms))
    out = tmp / f"apply-{n}.prof"
    try:
        env = pisync_env(emu.url, secret_env())
        run = run_pisync(
            ["apply", "--auto-approve", "--parallelism", str(n)], cwd=repo, env=env, profile=out
        )
    finally:
        emu.stop()
    print(f"\ncProfile of `pisync apply --parallelism {n}` ({run.wall_s:.2f} s under the profiler,"
          f" exit {run.exit}); top {top} by cumulative, then by own time:")  # fmt: skip
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


# --- report ------------------------------------------------------------------------------


def table(levels: Sequence[Level], changes: int, latency_ms: int) -> str:
    base = levels[0]
    base_apply = changes / base.apply.wall_s
    base_exec = changes / max(1e-9, base.apply.wall_s - base.plan.wall_s)
    head = (
        f"{'N':>3} {'plan s':>7} {'apply s':>8} {'exec s':>7} {'changes/s':>10} {'ratio':>6}"
        f" {'exec ch/s':>10} {'ratio':>6} {'bound/s':>8} {'of bound':>8}"
        f" {'CPU ms/ch':>9} {'core':>5} {'emu CPU s':>9} {'RSS MB':>7} {'apply min-max':>13}"
        f"  re-plan"
    )
    rows = [head, "-" * len(head)]
    for lv in levels:
        exec_s = lv.apply.wall_s - lv.plan.wall_s
        exec_cpu = max(0.0, lv.apply.cpu_s - lv.plan.cpu_s)
        rate = changes / lv.apply.wall_s
        exec_rate = changes / max(1e-9, exec_s)
        bound = lv.parallelism * 1000 / latency_ms
        replan = "empty" if lv.replan.exit == 0 else f"NOT EMPTY (exit {lv.replan.exit})"
        lo, hi = lv.apply_range or (lv.apply.wall_s, lv.apply.wall_s)
        spread = f"{lo:.2f}-{hi:.2f}" if hi > lo else "(1 run)"
        rows.append(
            f"{lv.parallelism:>3} {lv.plan.wall_s:>7.2f} {lv.apply.wall_s:>8.2f} {exec_s:>7.2f}"
            f" {rate:>10.1f} {rate / base_apply:>5.2f}x {exec_rate:>10.1f}"
            f" {exec_rate / base_exec:>5.2f}x {bound:>8.0f} {exec_rate / bound:>8.0%}"
            f" {exec_cpu * 1000 / changes:>9.2f} {exec_cpu / max(1e-9, exec_s):>5.0%}"
            f" {lv.emulator_cpu_s:>9.2f} {lv.apply.rss_mb:>7.0f} {spread:>13}  {replan}"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="user creates (default 1000)")
    parser.add_argument("--updates", type=int, default=0, help="updates of seeded users")
    parser.add_argument("--levels", default="1,4,8,16", help="parallelism levels, first = base")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--per-file", type=int, default=100, help="users per YAML file")
    parser.add_argument("--profile", type=int, default=0, help="also cProfile apply at level N")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per level; the table shows the median"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if args.users + args.updates <= 0 or not levels:
        parser.error("nothing to apply")

    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-apply-"))
    try:
        data = materialise(workload(args.users, args.updates, args.per_file))
        repo = tmp / "repo"
        shutil.copytree(data.repo, repo, ignore=shutil.ignore_patterns(".git", ".pisync-cache"))
        seed_file = data.seed
        facts = data.facts
        changes = facts.changes
        expected = 1 + facts.on_server + facts.creates  # ADMIN + seeded + created
        print(
            f"workload: {facts.creates} creates + {facts.updates} updates = {changes} changes "
            f"(one POST /users/sync each); seed {facts.on_server} users (the managers among "
            f"them); --latency-ms {args.latency_ms}; a fresh emulator per level; {tmp}"
        )
        results: list[Level] = []
        for n in levels:
            runs: list[Level] = []
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                lv = run_level(
                    n,
                    tmp,
                    repo,
                    seed_file,
                    args.latency_ms,
                    expected,
                    json_plan=not (results or runs),
                )
                runs.append(lv)
                print(
                    f"  parallelism {n:>2}: plan {lv.plan.wall_s:.2f} s ({lv.planned_changes} "
                    f"changes planned), apply {lv.apply.wall_s:.2f} s (exit {lv.apply.exit}), "
                    f"re-plan {lv.replan.wall_s:.2f} s (exit {lv.replan.exit}), "
                    f"{lv.users_after} users after; took {time.perf_counter() - started:.1f} s"
                )
                for note in lv.notes:
                    print("    ! " + note.replace("\n", "\n      "))
            results.append(median_level(runs))
        print()
        print(
            "plan s = `pisync plan` alone (read + diff + render); apply s = `pisync apply "
            "--auto-approve --parallelism N`\n(whole command: start-up, load, read, diff, "
            "render, writes); exec s = apply s - plan s (the writes, roughly);\nratio = "
            f"against N={levels[0]}; bound/s = N x 1000 / {args.latency_ms} ms (latency alone, "
            "no cost on either side);\nCPU ms/ch = (CPU of apply - CPU of plan) per change: "
            "pisync's own CPU for one write;\ncore = that CPU over exec s (100% = the "
            "single-threaded pisync process is CPU-bound); emu CPU s = the emulator's CPU\n"
            "during the apply; RSS = peak of the apply process; apply min-max over --repeat runs "
            "(the row is the median run)"
        )
        print(table(results, changes, args.latency_ms))
        first = results[0]
        if first.plan_json is not None:
            text_s, json_s = first.plan.wall_s, first.plan_json.wall_s
            print(
                f"plan output at N={first.parallelism}: text {text_s:.2f} s, --format json "
                f"{json_s:.2f} s ({len(first.plan.stdout) / 1e6:.1f} MB of text; the "
                f"difference, {text_s - json_s:.2f} s, is the text renderer and printing)"
            )
        growth.record(
            "apply",
            changes,
            {f"apply N={lv.parallelism} wall s": lv.apply.wall_s for lv in results}
            | {f"apply N={lv.parallelism} peak RSS MB": lv.apply.rss_mb for lv in results[:1]},
        )
        print()
        print(growth.table("apply"))
        bad = [lv for lv in results if lv.notes]
        print(
            "correctness: every re-plan empty, every apply exit 0, user counts as expected"
            if not bad
            else f"correctness: PROBLEMS at parallelism {[lv.parallelism for lv in bad]}"
        )
        if args.profile:
            profile_level(args.profile, tmp, repo, seed_file, args.latency_ms)
        return 1 if bad else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
