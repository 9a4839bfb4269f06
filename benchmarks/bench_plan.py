"""Benchmark: ``pisync plan`` and ``pisync apply`` at scale, side by side with what they are
measured against, in one run against one emulator.

The data is a workload of the shared generator (``workload.py``): ``--users`` declared users
(default 100,000) of whom ``--new`` are not on the server yet (default 0; 0.5 is a first
rollout where half are new) and ``--changed`` of the rest differ from the files (default 10%:
a new email, half of them a new role). A ``pi-emulator`` process serves it with
``--latency-ms`` (default 20) per request; every client runs ``--concurrency`` (default 16)
requests in flight. Each command runs in a fresh wrapper process, so wall time, CPU and peak
RSS are its own; the emulator counts the requests each one makes.

1. baselines: a minimal client making the same reads as the plan (the user list in pages of
   500, roles, categories, every declared user's syncPayload: a 404 for each user the list
   leaves out) and nothing else, with httpx and with aiohttp (the leanest client there is);
2. ``pisync plan``: against its ideal (the requests it made x latency ÷ concurrency: no client
   or server cost) and against the leanest client per request;
3. ``pisync apply --auto-approve``: must write exactly the changed users (the emulator's
   store version moves once per effective write); then, on a reset emulator, ``pisync apply
   plan.json`` of the plan saved in 2 (what the apply job of a pull request runs: it re-reads
   only the users the plan changes);
4. the emulator is reset, then a naive sync: ``POST /users/sync`` of every user's complete
   payload, no reads, with httpx (how such a script is usually written) and with aiohttp,
   each against a freshly reset emulator;
5. ``pisync plan --changed-since HEAD`` after changing 10 users in one file of the git
   repository: wall time and the requests it sent;
6. ``pisync validate``: cold (no cache), warm (nothing changed), one file changed.

Usage::

    .venv/bin/python benchmarks/bench_plan.py                      # 100,000 users, all exist
    .venv/bin/python benchmarks/bench_plan.py --new 0.5            # half of them new
    .venv/bin/python benchmarks/bench_plan.py --users 10000 --only plan,apply
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import growth
from measure import BASELINES, PISYNC, PYTHON, Run, machine, pisync_env, run_wrapped, start_emulator
from workload import Workload, materialise, secret_env

STAGES = ("reads", "plan", "apply", "naive", "changed", "validate")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workload = Workload(users=args.users, changed=args.changed, new=args.new)
        self.data = materialise(self.workload)
        self.repo = self.data.repo
        self.expected = self.data.facts.changes
        self.rows: list[tuple[str, str, float, Run | None, str]] = []
        self.figures: dict[str, float] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-plan-"))
        self.emu = start_emulator(
            self.tmp,
            self.data.seed,
            "--latency-ms",
            str(args.latency_ms),
            "--request-log-max",
            "1000",
        )
        self.env = pisync_env(self.emu.url, secret_env())

    def version(self) -> int:
        return int(self.emu.control("GET", "health")["version"])

    def counted(self, work: Callable[[], Run]) -> tuple[Run, int]:
        """Run ``work`` and count the API requests the emulator served meanwhile."""
        self.emu.control("DELETE", "stats")
        run = work()
        return run, int(self.emu.control("GET", "stats")["completed"])

    def ideal(self, requests: int) -> float:
        return float(requests * self.args.latency_ms / 1000 / self.args.concurrency)

    def script(self, name: str, *extra: str, client: str) -> Run:
        """A baseline client (benchmarks/baselines/NAME) against the emulator."""
        command = [PYTHON, str(BASELINES / name), client, self.emu.url, str(self.args.concurrency)]
        run = run_wrapped([*command, *extra], cwd=self.tmp, env=self.env)
        if run.exit != 0:
            raise SystemExit(f"{name} {client} exited {run.exit}:\n{run.tail()}")
        return run

    def pisync(self, *args: str, cwd: Path | None = None, cold: bool = True) -> Run:
        """``pisync ARGS`` in the repository; ``cold``: without a validation cache (a CI job
        that keeps none), which the run then writes."""
        if cold:
            shutil.rmtree((cwd or self.repo) / ".pisync-cache", ignore_errors=True)
        run = run_wrapped([PISYNC, *args], cwd=cwd or self.repo, env=self.env)
        if run.exit not in (0, 2):
            raise SystemExit(f"pisync {' '.join(args)} exited {run.exit}:\n{run.tail()}")
        return run

    def add(
        self, stage: str, label: str, run: Run | None, seconds: float, note: str = "", key: str = ""
    ) -> None:
        self.rows.append((stage, label, seconds, run, note))
        shown = f"{seconds:.1f} s" + (
            f", {run.cpu_s:.1f} s CPU, {run.rss_mb:.0f} MB" if run else ""
        )
        print(f"  {label}: {shown} {note}", flush=True)
        if key:
            self.figures[f"{key} wall s"] = seconds
            if run is not None:
                self.figures[f"{key} CPU s"] = run.cpu_s
                self.figures[f"{key} peak MB"] = run.rss_mb

    def run(self) -> None:
        only = set(self.args.only.split(",")) if self.args.only else set(STAGES)
        codes = str(self.data.codes)
        lean: tuple[float, int] | None = None  # the leanest client: (wall s, requests)
        if "reads" in only:
            for client in ("httpx", "aiohttp"):

                def reads_of(c: str = client) -> Run:
                    return self.script("raw_reads.py", codes, client=c)

                reads, requests = self.counted(reads_of)
                absent = json.loads(reads.stdout)["absent"]
                self.add(
                    "plan", f"minimal {client} client, same reads", reads, reads.wall_s,
                    f"({requests:,} requests, {absent:,} of them absence checks; "
                    f"{reads.wall_s / requests * 1000:.2f} ms a request)",
                    key=f"{client} reads",
                )  # fmt: skip
                if client == "aiohttp":
                    lean = (reads.wall_s, requests)
        saved = self.tmp / "plan.json"
        if "plan" in only:
            plan, requests = self.counted(lambda: self.pisync("plan", "--out", str(saved)))
            ideal = self.ideal(requests)
            self.add(
                "plan",
                "ideal read time (requests x latency ÷ in flight)",
                None,
                ideal,
                f"({requests:,} requests)",
                key="ideal",
            )
            per_request = plan.wall_s / requests * 1000
            against = (
                f"; the leanest client {lean[0] / lean[1] * 1000:.2f} ms a request"
                if lean is not None
                else ""
            )
            self.add(
                "plan", "pisync plan", plan, plan.wall_s,
                f"({plan.wall_s / ideal:.2f}x ideal; {per_request:.2f} ms a request{against})",
                key="plan",
            )  # fmt: skip
        if "apply" in only:
            before = self.version()
            apply = self.pisync("apply", "--auto-approve")
            writes = self.version() - before
            last = apply.lines()[-1] if apply.lines() else ""
            self.add(
                "apply", "pisync apply --auto-approve", apply, apply.wall_s,
                f"({writes} writes for {self.expected} changed users; {last})",
                key="apply",
            )  # fmt: skip
            if saved.exists():  # the pull-request way: apply the reviewed plan
                self.emu.control("POST", "reset", timeout=600)
                before = self.version()
                applied = self.pisync("apply", str(saved))
                writes = self.version() - before
                self.add(
                    "apply", "pisync apply plan.json (the saved plan)", applied, applied.wall_s,
                    f"({writes} writes for {self.expected} changed users)",
                    key="apply plan.json",
                )  # fmt: skip
        if "naive" in only:
            for label in ("httpx", "aiohttp"):
                self.emu.control("POST", "reset", timeout=600)
                naive = self.script("naive_sync.py", str(self.data.naive), client=label)
                self.add(
                    "apply",
                    f"naive sync of every user ({label})",
                    naive,
                    naive.wall_s,
                    key=f"naive {label}",
                )
            self.emu.control("POST", "reset", timeout=600)
        if "changed" in only:
            self.changed_since()
        if "validate" in only:
            self.validate()

    def changed_since(self) -> None:
        first = sorted((self.repo / "users").glob("team-*.yaml"))[0]
        original = first.read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        edited, n = [], 0
        for line in lines:
            if line.startswith("    surname: ") and n < 10:
                line = line.rstrip("\n") + "x\n"
                n += 1
            edited.append(line)
        first.write_text("".join(edited), encoding="utf-8")
        try:
            run, sent = self.counted(lambda: self.pisync("plan", "--changed-since", "HEAD"))
            self.add("changed", "plan --changed-since HEAD (10 users changed)", run, run.wall_s,
                     f"({sent} requests; {run.lines()[-1]})")  # fmt: skip
        finally:
            first.write_text(original, encoding="utf-8")

    def validate(self) -> None:
        cold = self.pisync("validate")
        warm = self.pisync("validate", cold=False)
        files = sorted((self.repo / "users").glob("team-*.yaml"))
        first = files[min(1, len(files) - 1)]  # not the file changed_since() edited, if any
        original = first.read_text(encoding="utf-8")
        first.write_text(original.replace("surname: ", "surname: Y", 1), encoding="utf-8")
        try:
            one = self.pisync("validate", cold=False)
        finally:
            first.write_text(original, encoding="utf-8")
        n = self.data.facts.files
        self.add("validate", "pisync validate (cold)", cold, cold.wall_s, key="validate cold")
        self.add(
            "validate",
            "pisync validate (cache, nothing changed)",
            warm,
            warm.wall_s,
            key="validate warm",
        )
        self.add(
            "validate",
            f"pisync validate (cache, 1 of {n} files changed)",
            one,
            one.wall_s,
            key="validate 1 file changed",
        )

    def close(self) -> None:
        self.emu.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def table(self) -> str:
        facts = self.data.facts
        out = [
            f"{self.workload.label}: {facts.creates:,} to create, {facts.updates:,} to update;"
            f" {self.args.latency_ms} ms latency, {self.args.concurrency} in flight; {machine()}",
            "",
            "| what | wall s | CPU s | peak RSS MB | note |",
            "|---|---|---|---|---|",
        ]
        for _, label, seconds, run, note in self.rows:
            cpu = f"{run.cpu_s:.1f}" if run else ""
            rss = f"{run.rss_mb:.0f}" if run else ""
            out.append(f"| {label} | {seconds:.1f} | {cpu} | {rss} | {note} |")
        return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--new", type=float, default=0.0, help="share of users not on the server")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", default="", help=f"comma-separated: {','.join(STAGES)}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.close()
    print()
    print(bench.table())
    name = "plan" if not args.new else f"plan, {args.new:.0%} new"
    growth.record(name, args.users, bench.figures)
    print()
    print(growth.table(name))
    print(f"\n(the whole benchmark took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
