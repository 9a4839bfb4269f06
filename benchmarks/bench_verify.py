"""Benchmark: what apply's write verification costs, ``pisync apply plan.json`` with and
without it (``--no-verify``), side by side, on the same saved plan and the same server.

A ``pi-emulator`` process (``--latency-ms 20``: every request sleeps 20 ms) is seeded with
``--users`` users (default 10,000), each with roles, categories, a variable and a
restriction; the repository declares every one of them with a new surname and one role
fewer, so the saved plan (``pisync plan --out plan.json``, once) updates every user. Then, for
each way the server may answer a sync (reference U6) — the stored payload (the emulator's
default: apply verifies from the answer, no request added) and the user object only
(``--sync-answer user``: apply reads each written user back) — the emulator is reset to the
seed and ``pisync apply plan.json`` runs without and with verification. Each run's wall time,
CPU and peak RSS are its own (a fresh process); the requests it made are counted from the
emulator's request log; the ratio is against ``--no-verify`` under the same answer.

The target (issue: apply proves every write): verification costs at most 1.5 x the apply
without it, with the same number of writes; with a payload answer it should cost close to
nothing but the canaries (one write of each kind, alone).

Every run's wall time goes to the growth table (``growth.py``), printed at the end.

Usage::

    .venv/bin/python benchmarks/bench_verify.py                  # 10,000 users
    .venv/bin/python benchmarks/bench_verify.py --users 1000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import growth
from measure import PISYNC, Run, machine, pisync_env, run_wrapped, start_emulator

from pi_emulator.process import EmulatorProcess as Emulator

ROLES = [f"Team {i:02d}" for i in range(8)]
CATEGORIES = {"Finance": ["Budgets", "Forecasts"], "Sales": ["Sales North", "Sales South"]}
REGIONS = ["North", "South", "East", "West"]


def seed_document(users: int, rng: random.Random) -> dict[str, Any]:
    categories: list[dict[str, Any]] = []
    for top, kids in CATEGORIES.items():
        categories.append({"name": top, "parent": None})
        categories += [{"name": k, "parent": top} for k in kids]
    elements = []
    for i in range(users):
        code = f"U{i:06d}"
        leaf = rng.choice(["Budgets", "Forecasts", "Sales North", "Sales South"])
        top = "Finance" if leaf in ("Budgets", "Forecasts") else "Sales"
        elements.append(
            {
                "user": {
                    "usercode": code,
                    "forenames": "Bench",
                    "surname": "Before",
                    "email": f"{code.lower()}@example.com",
                    "userTypeId": 3,
                    "exportToCsv": True,
                },
                "userRoles": [{"roleIdentifier": r} for r in rng.sample(ROLES, 2)],
                "userCategories": [{"categoryIdentifier": top}, {"categoryIdentifier": leaf}],
                "variables": [{"name": "region", "value": rng.choice(REGIONS), "isSecure": False}],
                "restrictions": [
                    {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region",
                     "value": v}
                    for v in rng.sample(REGIONS, 2)
                ],
            }
        )  # fmt: skip
    return {
        "categories": categories,
        "roles": [{"name": r, "description": "", "categories": []} for r in ROLES],
        "users": elements,
    }


def write_repo(root: Path, seed: dict[str, Any], per_file: int = 500) -> None:
    """Every seeded user declared with a new surname and only the first of its roles."""
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(
        'sources: ["users/**/*.y*ml"]\nserver: {timeout: 60, concurrency: 16}\n',
        encoding="utf-8",
    )
    users = seed["users"]
    for f, start in enumerate(range(0, len(users), per_file)):
        lines = ["users:"]
        for element in users[start : start + per_file]:
            code = element["user"]["usercode"]
            role = element["userRoles"][0]["roleIdentifier"]
            lines.append(f"  - {{usercode: {code}, surname: After, roles: [{role}]}}")
        (root / "users" / f"u{f:04d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def requests(emu: Emulator) -> Counter[str]:
    """The API requests made since the log was cleared, by method and path kind."""
    counts: Counter[str] = Counter()
    for e in emu.control("GET", "requests"):
        path = e["path"].split("/pi/api/v2", 1)[-1]
        counts[f"{e['method']} {'/users/{id}' if path[7:].isdigit() else path}"] += 1
    return counts


def run_apply(
    emu: Emulator, repo: Path, env: dict[str, str], verify: bool
) -> tuple[Run, Counter[str]]:
    emu.control("POST", "reset")
    emu.control("DELETE", "requests")
    args = ["apply", "plan.json", "--parallelism", "16"] + ([] if verify else ["--no-verify"])
    run = run_wrapped([PISYNC, *args], cwd=repo, env=env)
    return run, requests(emu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    print(machine())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-verify-"))
    emu = None
    try:
        seed = seed_document(args.users, random.Random(7))
        seed_file = tmp / "seed.json"
        seed_file.write_text(json.dumps(seed), encoding="utf-8")
        repo = tmp / "repo"
        write_repo(repo, seed)
        emu = start_emulator(
            tmp, seed_file, "--latency-ms", str(args.latency_ms), "--request-log-max", "200000"
        )
        env = pisync_env(emu.url)
        plan = run_wrapped([PISYNC, "plan", "--out", "plan.json", "-q"], cwd=repo, env=env)
        changes = len(json.loads((repo / "plan.json").read_text())["changes"])
        print(
            f"workload: {args.users} seeded users, {changes} changes (updates) in the saved"
            f" plan (planned in {plan.wall_s:.1f} s, exit {plan.exit}); --latency-ms"
            f" {args.latency_ms}; --parallelism 16"
        )
        rows = []
        for answer in ("payload", "user"):
            emu.control("PUT", "options", {"sync_answer": answer})
            base = None
            for verify in (False, True):
                run, counts = run_apply(emu, repo, env, verify)
                base = base or run
                rows.append((answer, verify, run, counts, run.wall_s / base.wall_s))
                print(
                    f"  answer {answer:7} verify {'on ' if verify else 'off'}: {run.wall_s:6.1f} s,"
                    f" exit {run.exit}; {dict(sorted(counts.items()))}"
                )
        print()
        head = (
            f"{'sync answer':12} {'verify':6} {'wall s':>7} {'CPU s':>6} {'RSS MB':>7}"
            f" {'writes':>7} {'reads':>7} {'x no-verify':>11}"
        )
        print(head)
        print("-" * len(head))
        for answer, verify, run, counts, ratio in rows:
            print(
                f"{answer:12} {'on' if verify else 'off':6} {run.wall_s:7.1f} {run.cpu_s:6.1f}"
                f" {run.rss_mb:7.0f} {counts['POST /users/sync']:7} "
                f"{counts['GET /users/syncPayload']:7} {ratio:10.2f}x"
            )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        growth.record(
            "apply verification",
            args.users,
            {
                f"{answer} answer, verify {'on' if verify else 'off'} wall s": run.wall_s
                for answer, verify, run, _, _ in rows
            }
            | {"plan --out wall s": plan.wall_s},
        )
        print()
        print(growth.table("apply verification"))
        bad = [r for r in rows if r[2].exit != 0 or r[3]["POST /users/sync"] != changes]
        print("correctness: every apply exit 0, one write per change" if not bad else
              f"PROBLEMS: {[(r[0], r[1], r[2].exit, r[2].tail()) for r in bad]}")  # fmt: skip
        return 1 if bad else 0
    finally:
        if emu is not None:
            emu.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
