"""Benchmark: ``pisync plan`` and ``pisync apply`` at scale, side by side with what they are
measured against, in one run against one emulator.

A seeded organisation of ``--users`` users (default 100,000; a category tree, 12 roles, 1-2
roles and categories each, privileges, a variable, expiry dates on 30%) is generated into
``benchmarks/.data/plan-N/`` (git-ignored): the emulator's seed, and desired-state YAML that
agrees with it except for ``--changed`` of the users (default 10%: a new email, half of them a
new role). A ``pi-emulator`` process serves it with ``--latency-ms`` (default 20) per request;
every client runs ``--concurrency`` (default 16) requests in flight. Each command runs in a
fresh wrapper process, so wall time, CPU and peak RSS are its own.

1. ideal: the requests a plan must make, times latency, over concurrency (no client or server cost);
2. baseline: a minimal httpx client making the same reads as the plan (the user list in pages
   of 500, roles, categories, every user's syncPayload) and nothing else;
3. ``pisync plan`` (its ratio to 1 and 2);
4. ``pisync apply --auto-approve``: must write exactly the changed users (the emulator's
   store version moves once per effective write); then, on a reset emulator, ``pisync apply
   plan.json`` of the plan saved in 3 (what the apply job of a pull request runs: it re-reads
   only the users the plan changes);
5. the emulator is reset, then a naive sync: ``POST /users/sync`` of every user's complete
   payload, no reads, with httpx (how such a script is usually written) and with aiohttp (the
   same client library as pisync), each against a freshly reset emulator;
6. ``pisync plan --changed-since HEAD`` after changing 10 users in one file of the git
   repository: wall time and the requests it sent;
7. ``pisync validate``: cold (no cache), warm (nothing changed), one file changed.

Usage::

    .venv/bin/python benchmarks/bench_plan.py                      # 100,000 users
    .venv/bin/python benchmarks/bench_plan.py --users 10000 --only plan,apply
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measure import BASELINES, PISYNC, PYTHON, Run, machine, pisync_env, run_wrapped, start_emulator

from reconciler.core.model.privileges import PRIVILEGES as ALL_PRIVILEGES

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
PER_FILE = 500
FORENAMES = ["John", "Mary", "Ahmed", "Li", "Olga", "Sofia", "Kwame", "Aiko", "Pedro", "Anna"]
SURNAMES = ["Smith", "Jones", "Khan", "Wang", "Ivanova", "Garcia", "Mensah", "Sato", "Silva"]
TYPES = {"user": 3, "chart-viewer": 4, "designer": 1, "chart-explorer": 2}
TREE = {
    "Finance": ["Budgets", "Forecasts", "Payroll"],
    "Sales": ["Sales North", "Sales South", "Sales East"],
    "HR": ["Recruiting", "Benefits"],
    "Operations": ["Logistics", "Facilities"],
}
LEAVES = [c for kids in TREE.values() for c in kids]
PARENT = {c: top for top, kids in TREE.items() for c in kids}
ROLES = [f"Team {i:02d} Viewer" for i in range(12)]
PRIVILEGES = ["exportToCsv", "exportToExcel", "pdf", "schedule", "saveFilters", "subscription"]
ALWAYS = ["accessAccount", "audit", "editOwnPassword", "logoutEnabled"]
STAGES = ("reads", "plan", "apply", "naive", "changed", "validate")


# --- data --------------------------------------------------------------------------------


def user(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "usercode": f"U{n:06d}",
        "forenames": rng.choice(FORENAMES),
        "surname": rng.choice(SURNAMES),
        "email": f"u{n:06d}@example.com",
        "type": rng.choice(list(TYPES)),
        "roles": sorted(rng.sample(ROLES, rng.randint(1, 2))),
        "categories": sorted(rng.sample(LEAVES, rng.randint(1, 2))),
        "privileges": sorted(ALWAYS + rng.sample(PRIVILEGES, 2)),
        "region": rng.choice(["North", "South", "East", "West"]),
        "expires": f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() < 0.3
        else None,
    }


def element(u: dict[str, Any]) -> dict[str, Any]:
    """The complete sync payload element of a user (what the seed and a naive sync send)."""
    cats = sorted({*u["categories"], *(PARENT[c] for c in u["categories"])})
    return {
        "user": {
            "usercode": u["usercode"],
            "forenames": u["forenames"],
            "surname": u["surname"],
            "email": u["email"],
            "userTypeId": TYPES[u["type"]],
            "allowPasswordLogin": False,
            "allowExternalLogin": True,
            "userExpirationDate": u["expires"],
            **{p: p in u["privileges"] for p in ALL_PRIVILEGES},
        },
        "userRoles": [{"roleIdentifier": r} for r in u["roles"]],
        "userCategories": [{"categoryIdentifier": c} for c in cats],
        "variables": [{"name": "region", "value": u["region"], "isSecure": False}],
        "restrictions": [],
    }


def user_yaml(u: dict[str, Any]) -> str:
    lines = [
        f"  - usercode: {u['usercode']}",
        f"    forenames: {u['forenames']}",
        f"    surname: {u['surname']}",
        f"    email: {u['email']}",
        f"    type: {u['type']}",
        f"    roles: [{', '.join(u['roles'])}]",
        f"    categories: [{', '.join(u['categories'])}]",
        f"    privileges: [{', '.join(u['privileges'])}]",
        "    login: {password: false, external: true}",
        f"    variables: {{region: {u['region']}}}",
    ]
    if u["expires"]:
        lines.append(f"    expires: {u['expires']}")
    return "\n".join(lines) + "\n"


def generate(users: int, changed: float) -> Path:
    """The data for ``users`` users, generated once (seeded) and reused."""
    folder = DATA / f"plan-{users}-{changed:g}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "repo" / "users").mkdir(parents=True)
    rng = random.Random(20261201)
    desired = [user(rng, n) for n in range(users)]
    live = []
    for u in desired:
        old = dict(u)
        if rng.random() < changed:
            old["email"] = "old." + u["email"]
            if rng.random() < 0.5:
                old["roles"] = [ROLES[0]] if u["roles"] != [ROLES[0]] else [ROLES[1]]
        live.append(old)
    seed = {
        "categories": [
            *({"name": top, "parent": None} for top in TREE),
            *({"name": c, "parent": top} for top, kids in TREE.items() for c in kids),
        ],
        "roles": [{"name": r, "description": r, "categories": [], "privileges": []} for r in ROLES],
        "users": [element(u) for u in live],
    }
    (folder / "seed.json").write_text(json.dumps(seed), encoding="utf-8")
    (folder / "naive.json").write_text(json.dumps([element(u) for u in desired]), "utf-8")
    repo = folder / "repo"
    (repo / "pisync.yaml").write_text(
        'sources: ["users/**/*.yaml"]\nserver: {concurrency: 16, timeout: 60}\n'
        "users: {prune: 'off'}\n",
        encoding="utf-8",
    )
    for start in range(0, users, PER_FILE):
        body = "users:\n" + "".join(user_yaml(u) for u in desired[start : start + PER_FILE])
        (repo / "users" / f"team-{start // PER_FILE:04d}.yaml").write_text(body, "utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "desired state")
    expected = sum(1 for a, b in zip(desired, live, strict=True) if a != b)
    (folder / "done").write_text(str(expected), encoding="utf-8")
    return folder


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=b@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


# --- running -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = generate(args.users, args.changed)
        self.repo = self.folder / "repo"
        self.expected = int((self.folder / "done").read_text())
        self.rows: list[tuple[str, str, float, Run | None, str]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-plan-"))
        self.emu = start_emulator(
            self.tmp,
            self.folder / "seed.json",
            "--latency-ms",
            str(args.latency_ms),
            "--request-log-max",
            "100000",
        )
        self.env = pisync_env(self.emu.url)
        self.ideal_reads = (args.users + 1 + 2 * (-(-args.users // 500)) + 4) / args.concurrency

    def version(self) -> int:
        return int(self.emu.control("GET", "health")["version"])

    def script(self, name: str, *extra: str, client: str | None = None) -> Run:
        """A baseline client (benchmarks/baselines/NAME) against the emulator."""
        first = [] if client is None else [client]
        return run_wrapped(
            [
                PYTHON,
                str(BASELINES / name),
                *first,
                self.emu.url,
                str(self.args.concurrency),
                *extra,
            ],
            cwd=self.tmp,
            env=self.env,
        )

    def pisync(self, *args: str, cwd: Path | None = None) -> Run:
        run = run_wrapped([PISYNC, *args], cwd=cwd or self.repo, env=self.env)
        if run.exit not in (0, 2):
            raise SystemExit(f"pisync {' '.join(args)} exited {run.exit}:\n{run.tail()}")
        return run

    def add(self, stage: str, label: str, run: Run | None, seconds: float, note: str = "") -> None:
        self.rows.append((stage, label, seconds, run, note))
        shown = f"{seconds:.1f} s" + (
            f", {run.cpu_s:.1f} s CPU, {run.rss_mb:.0f} MB" if run else ""
        )
        print(f"  {label}: {shown} {note}", flush=True)

    def run(self) -> None:
        lat = self.args.latency_ms / 1000
        only = set(self.args.only.split(",")) if self.args.only else set(STAGES)
        if "reads" in only or "plan" in only:
            self.add("plan", "ideal read time", None, self.ideal_reads * lat)
        if "reads" in only:
            reads = self.script("raw_reads.py")
            self.add("plan", "minimal httpx client, same reads", reads, reads.wall_s)
        saved = self.tmp / "plan.json"
        if "plan" in only:
            plan = self.pisync("plan", "--out", str(saved))
            self.add(
                "plan",
                "pisync plan",
                plan,
                plan.wall_s,
                f"({plan.wall_s / (self.ideal_reads * lat):.2f}x ideal)",
            )
        if "apply" in only:
            before = self.version()
            apply = self.pisync("apply", "--auto-approve")
            writes = self.version() - before
            last = apply.lines()[-1] if apply.lines() else ""
            self.add(
                "apply", "pisync apply --auto-approve", apply, apply.wall_s,
                f"({writes} writes for {self.expected} changed users; {last})",
            )  # fmt: skip
            if saved.exists():  # the pull-request way: apply the reviewed plan
                self.emu.control("POST", "reset", timeout=600)
                before = self.version()
                applied = self.pisync("apply", str(saved))
                writes = self.version() - before
                self.add(
                    "apply", "pisync apply plan.json (the saved plan)", applied, applied.wall_s,
                    f"({writes} writes for {self.expected} changed users)",
                )  # fmt: skip
        if "naive" in only:
            for label in ("httpx", "aiohttp"):
                self.emu.control("POST", "reset", timeout=600)
                naive = self.script("naive_sync.py", str(self.folder / "naive.json"), client=label)
                self.add("apply", f"naive sync of every user ({label})", naive, naive.wall_s)
            self.emu.control("POST", "reset", timeout=600)
        if "changed" in only:
            self.changed_since()
        if "validate" in only:
            self.validate()

    def changed_since(self) -> None:
        first = sorted((self.repo / "users").glob("*.yaml"))[0]
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
            self.emu.control("DELETE", "requests")
            run = self.pisync("plan", "--changed-since", "HEAD")
            sent = len(self.emu.control("GET", "requests"))
            self.add("changed", "plan --changed-since HEAD (10 users changed)", run, run.wall_s,
                     f"({sent} requests; {run.lines()[-1]})")  # fmt: skip
        finally:
            first.write_text(original, encoding="utf-8")

    def validate(self) -> None:
        shutil.rmtree(self.repo / ".pisync-cache", ignore_errors=True)
        cold = self.pisync("validate")
        warm = self.pisync("validate")
        files = sorted((self.repo / "users").glob("*.yaml"))
        first = files[min(1, len(files) - 1)]  # not the file changed_since() edited, if any
        original = first.read_text(encoding="utf-8")
        first.write_text(original.replace("surname: ", "surname: Y", 1), encoding="utf-8")
        try:
            one = self.pisync("validate")
        finally:
            first.write_text(original, encoding="utf-8")
        self.add("validate", "pisync validate (cold)", cold, cold.wall_s)
        self.add("validate", "pisync validate (cache, nothing changed)", warm, warm.wall_s)
        self.add("validate", "pisync validate (cache, 1 of 200 files changed)", one, one.wall_s)

    def close(self) -> None:
        self.emu.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def table(self) -> str:
        out = [
            f"{self.args.users:,} users, {self.expected:,} changed, {self.args.latency_ms} ms"
            f" latency, {self.args.concurrency} in flight; {machine()}",
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
    print(f"\n(the whole benchmark took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
