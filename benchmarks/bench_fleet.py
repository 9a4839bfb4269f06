"""Benchmark: ``pisync plan --all-servers`` of a fleet, against one plan of the same users on
one server, in one run.

``--servers`` emulated servers (default 50), each a ``pi-emulator`` process with
``--users-per-server`` users of its own (default 2,000: 100,000 in all), ``--latency-ms``
(default 20) per request, ``--changed`` of the users differing from the files (default 10%).
The fleet's repository is one per customer: the base holds the roles, each server's overlay
its users. Every plan keeps ``--in-flight`` requests in flight in all (default 16): the
fleet's ``fleet.max_in_flight``, the single server's ``server.concurrency``. Each command runs
in a fresh wrapper process, so wall time, CPU and peak RSS are its own. Printed, with the
targets of the issue:

1. the ideal: the requests the fleet's plan made (counted by the emulators) x latency / in flight;
2. baseline: ``pisync plan`` of all the users on ONE emulator (the same 100,000 users, the
   same files), at the same in-flight bound;
3. ``pisync plan --all-servers``: its ratio to 1 (target <= 1.25) and to 2 (target <= 1.1);
   peak RSS (target <= 800 MB);
4. a pull request that changes one overlay (10 users of one server's file):
   ``plan --changed-since HEAD``, wall time (target <= 5 s) and requests in all (<= 50);
5. growth: the fleet's plan of the first 5 servers (``--growth``), and of all of them.

Usage::

    .venv/bin/python benchmarks/bench_fleet.py                                # 50 x 2,000
    .venv/bin/python benchmarks/bench_fleet.py --servers 5 --users-per-server 200   # quick
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from measure import PISYNC, Run, machine, pisync_env, run_wrapped
from workload import (
    Person,
    Workload,
    element,
    git,
    live_copy,
    people,
    roles_yaml,
    secret_env,
    seed_document,
    user_yaml,
)

from pi_emulator.process import EmulatorProcess, Member, fleet

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"


#: Users in one desired-state file (the shared generator's default).
PER_FILE = 500


def seed_of(live: Sequence[Person], workload: Workload) -> dict[str, Any]:
    """An emulator's seed: the shared generator's categories and roles, and ``live``."""
    return {**seed_document(workload, []), "users": [element(p) for p in live]}


def name_of(index: int) -> str:
    return f"s{index:03d}"


def generate(servers: int, per_server: int, changed: float) -> Path:
    """Seeds, the fleet's repository and the one-server repository, generated once."""
    folder = DATA / f"fleet-v2-{servers}x{per_server}-{changed:g}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(20261205)
    workload = Workload(users=servers * per_server, changed=changed)
    # the shared generator's people; a parent lives on another server's slice, so none here
    everyone = [replace(p, parent=None) for p in people(workload)]
    fleet_repo, one_repo = folder / "fleet", folder / "one"
    (fleet_repo / "users").mkdir(parents=True)
    (one_repo / "users").mkdir(parents=True)
    roles = roles_yaml(workload.seed)
    (fleet_repo / "users" / "roles.yaml").write_text(roles, encoding="utf-8")
    (one_repo / "users" / "roles.yaml").write_text(roles, encoding="utf-8")
    every_live: list[Person] = []
    config = [
        'sources: ["users/**/*.yaml"]',
        "server: {concurrency: 16, timeout: 60}",
        "users: {prune: 'off'}",
        "fleet: {max_in_flight: 16}",
        "servers:",
    ]
    expected = 0
    for s in range(servers):
        name = name_of(s)
        desired = everyone[s * per_server : (s + 1) * per_server]
        live = []
        for p in desired:
            if rng.random() < changed:
                live.append(live_copy(p))
                expected += 1
            else:
                live.append(p)
        every_live += live
        (folder / f"seed-{name}.json").write_text(
            json.dumps(seed_of(live, workload)), encoding="utf-8"
        )
        overlay = fleet_repo / "servers" / name
        overlay.mkdir(parents=True)
        for start in range(0, per_server, PER_FILE):
            body = "users:\n" + "".join(user_yaml(u) for u in desired[start : start + PER_FILE])
            part = f"{name}-{start // PER_FILE:03d}.yaml"
            (overlay / part).write_text(body, encoding="utf-8")
            (one_repo / "users" / part).write_text(body, encoding="utf-8")
        config += [
            f"  {name}:",
            "    url: http://127.0.0.1:1/pi/api/v2",  # the run pins each with --server-urls
            f'    sources: ["servers/{name}/**/*.yaml"]',
        ]
    (fleet_repo / "pisync.yaml").write_text("\n".join(config) + "\n", encoding="utf-8")
    (one_repo / "pisync.yaml").write_text(
        'sources: ["users/**/*.yaml"]\nserver: {concurrency: 16, timeout: 60}\n'
        "users: {prune: 'off'}\n",
        encoding="utf-8",
    )
    (folder / "seed-one.json").write_text(
        json.dumps(seed_of(every_live, workload)), encoding="utf-8"
    )
    for repo in (fleet_repo, one_repo):
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "desired state")
    (folder / "done").write_text(str(expected), encoding="utf-8")
    return folder


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = generate(args.servers, args.users_per_server, args.changed)
        self.expected = int((self.folder / "done").read_text())
        self.rows: list[tuple[str, float, Run | None, str]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-fleet-"))
        self.names = [name_of(s) for s in range(args.servers)]

    def add(self, label: str, seconds: float, run: Run | None, note: str = "") -> None:
        self.rows.append((label, seconds, run, note))
        cost = f", {run.cpu_s:.1f} s CPU, {run.rss_mb:.0f} MB" if run else ""
        print(f"  {label}: {seconds:.1f} s{cost} {note}", flush=True)

    def pisync(self, repo: Path, env: dict[str, str], *args: str) -> Run:
        run = run_wrapped([PISYNC, *args], cwd=repo, env=env)
        if run.exit not in (0, 2):
            raise SystemExit(f"pisync {' '.join(args)} exited {run.exit}:\n{run.tail()}")
        return run

    def run(self) -> None:
        args = self.args
        latency = ["--latency-ms", str(args.latency_ms), "--request-log-max", "0"]
        only = set(args.only.split(",")) if args.only else {"one", "fleet", "pr", "growth"}
        if "one" in only:
            with fleet(self.tmp, [Member(seed=self.folder / "seed-one.json", args=latency)],
                       ready_timeout=600) as (emu,):  # fmt: skip
                env = pisync_env(emu.url, secret_env())
                one = self.pisync(self.folder / "one", env, "plan", "-q")
                reads = emu.control("GET", "stats")["completed"]
                self.one = one.wall_s
                self.add("one server, all the users: pisync plan", one.wall_s, one,
                         f"({reads:,} requests)")  # fmt: skip
        members = [Member(seed=self.folder / f"seed-{n}.json", args=latency) for n in self.names]
        with fleet(self.tmp, members, ready_timeout=900) as emus:
            self.fleet_stages(emus, only)

    def env_for(self, emus: Sequence[EmulatorProcess], count: int) -> dict[str, str]:
        pins = " ".join(f"{n}={e.url}" for n, e in zip(self.names[:count], emus, strict=False))
        every = {n: {"username": "admin", "password": "dashboard"} for n in self.names}
        env = pisync_env("", secret_env())
        env.pop("PISYNC_URL")
        return {**env, "PISYNC_SERVER_URLS": pins, "PISYNC_FLEET_CREDENTIALS": json.dumps(every)}

    def completed(self, emus: Sequence[EmulatorProcess]) -> int:
        return sum(int(e.control("GET", "stats")["completed"]) for e in emus)

    def reset(self, emus: Sequence[EmulatorProcess]) -> None:
        for emu in emus:
            emu.control("DELETE", "stats")

    def fleet_stages(self, emus: Sequence[EmulatorProcess], only: set[str]) -> None:
        args = self.args
        repo = self.folder / "fleet"
        env = self.env_for(emus, len(emus))
        lat = args.latency_ms / 1000
        if "fleet" in only:
            self.reset(emus)
            plan = self.pisync(repo, env, "plan", "--all-servers", "-q")
            sent = self.completed(emus)
            ideal = sent * lat / args.in_flight
            self.add("ideal (the fleet's requests x latency / in flight)", ideal, None,
                     f"({sent:,} requests)")  # fmt: skip
            vs_one = f"; {plan.wall_s / self.one:.2f}x one server" if hasattr(self, "one") else ""
            self.add(f"pisync plan --all-servers ({len(emus)} servers)", plan.wall_s, plan,
                     f"({plan.wall_s / ideal:.2f}x ideal{vs_one}; {plan.lines()[-1]})")  # fmt: skip
        if "pr" in only:
            self.pull_request(repo, env, emus)
        if "growth" in only:
            small = min(args.growth, len(emus))
            some = self.env_for(emus, small)
            self.reset(emus)
            run = self.pisync(repo, some, "plan", *(f"--server={n}" for n in self.names[:small]),
                              "-q")  # fmt: skip
            sent = self.completed(emus)
            self.add(f"growth: pisync plan of {small} servers", run.wall_s, run,
                     f"({sent:,} requests; {run.wall_s / (sent * lat / args.in_flight):.2f}x"
                     " ideal)")  # fmt: skip

    def pull_request(
        self, repo: Path, env: dict[str, str], emus: Sequence[EmulatorProcess]
    ) -> None:
        target = sorted((repo / "servers" / self.names[-1]).glob("*.yaml"))[0]
        original = target.read_text(encoding="utf-8")
        edited, n = [], 0
        for line in original.splitlines(keepends=True):
            if line.startswith("    surname: ") and n < 10:
                line = line.rstrip("\n") + "x\n"
                n += 1
            edited.append(line)
        target.write_text("".join(edited), encoding="utf-8")
        try:
            self.reset(emus)
            run = self.pisync(repo, env, "plan", "--changed-since", "HEAD", "-q")
            sent = self.completed(emus)
            self.add("a pull request changing one overlay (10 users): plan --changed-since",
                     run.wall_s, run, f"({sent} requests in all; {run.lines()[-1]})")  # fmt: skip
        finally:
            target.write_text(original, encoding="utf-8")

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def table(self) -> str:
        a = self.args
        every = a.servers * a.users_per_server
        out = [
            f"{a.servers} servers x {a.users_per_server:,} users ({every:,}"
            f" in all), {self.expected:,} changed, {a.latency_ms} ms latency, {a.in_flight} in"
            f" flight in all; {machine()}",
            "",
            "| what | wall s | CPU s | peak RSS MB | note |",
            "|---|---|---|---|---|",
        ]
        for label, seconds, run, note in self.rows:
            cpu = f"{run.cpu_s:.1f}" if run else ""
            rss = f"{run.rss_mb:.0f}" if run else ""
            out.append(f"| {label} | {seconds:.1f} | {cpu} | {rss} | {note} |")
        return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--users-per-server", type=int, default=2_000)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--growth", type=int, default=5, help="the smaller fleet's size")
    parser.add_argument("--only", default="", help="comma-separated: one,fleet,pr,growth")
    args = parser.parse_args(argv)
    started = time.monotonic()
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.close()
    print()
    print(bench.table())
    print(f"\n(the whole benchmark took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
