"""Benchmark: ``pisync review`` at scale, side by side with the live read it cannot avoid.

Uses the shared generator's organisation (``workload.py``, as ``bench_plan.py`` does: an
emulator seed and desired-state YAML in files of 500 users; 10% of the users differ, so the
review finds drift), copies its repository and adds a history by three people: grant
metadata for 2% of the users, then a role change for 1%, each its own commit (so that tracing
grants back through older versions has work to do). A ``pi-emulator`` serves the seed
(``--latency-ms``, default 0: the client's own cost) and every command runs in a fresh wrapper
process (wall time, CPU and peak RSS its own).

1. the baseline: the live read alone (``baselines/review_read.py``: pisync's own client reading
   every user's payload and the user count, nothing else), run before and after the reviews,
   the two averaged, so that a machine busy with other work weighs on both sides;
2. ``pisync review --format json --out FILE`` with the validation cache cold (the first run
   fills it) and warm, and ``pisync review --out DIR`` (the bundle: every format, the
   manifest), warm;
3. the ratios of each to the baseline, and the peak RSS of each; ``--phases`` adds the
   review's phases measured in this process (holding everything: not for 100,000).

Usage::

    .venv/bin/python benchmarks/bench_review.py                # 10,000 users
    .venv/bin/python benchmarks/bench_review.py --users 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import growth
from measure import BASELINES, PISYNC, PYTHON, Run, machine, pisync_env, run_wrapped, start_emulator
from workload import Workload, materialise, secret_env

POLICIES = """\
policies:
  mfa_required_for: {types: [administrator], privileges: [editUsers]}
  administrators: {min: 1, max: 5}
  escalation_requires: {keys: [ticket, reason]}
  review_interval_days: {days: 365, severity: warning}
  email_domains: {allowed: [example.com], severity: warning}
"""
CONCURRENCY = 16
PEOPLE = {
    "anika": ("Anika Shah", "anika@example.com", "2026-09-01T09:00:00+01:00"),
    "dev": ("Dev Patel", "dev@example.com", "2026-10-14T16:20:00+01:00"),
}


def git(repo: Path, who: str, *args: str) -> str:
    name, email, date = PEOPLE[who]
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": date,
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout


def with_history(source: Path, target: Path) -> Path:
    """A copy of the generated repository, plus two commits by two other people."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    config = target / "pisync.yaml"
    config.write_text(config.read_text(encoding="utf-8") + POLICIES, encoding="utf-8")
    files = sorted((target / "users").glob("*.yaml"))
    for i, path in enumerate(files):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        out, n = [], 0
        for line in lines:
            out.append(line)
            if line.startswith("  - usercode:"):
                n += 1
                if n % 50 == i % 50:  # 2% of the users: why they have their access
                    out.append(
                        "    pisync: {reason: Quarterly close, ticket: FIN-1,"
                        " owner: ashah, review_by: 2027-06-30}\n"
                    )
        path.write_text("".join(out), encoding="utf-8")
    git(target, "anika", "commit", "-q", "-am", "Record why the close team has access (#11)")
    for path in files[::2]:  # 1% of the users: another role
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("roles: [Team 00 Viewer]", "roles: [Team 01 Viewer]", 5))
    git(target, "dev", "commit", "-q", "-am", "Move five people to team 01 per file (#12)")
    return target


def phases(repo: Path, url: str) -> dict[str, float]:
    """Each phase of the review in this process, on the inputs the command had."""
    import os

    from reconciler.core.model.values import LiveState
    from reconciler.core.review.build import Inputs, Rows, Tally
    from reconciler.core.review.formats import JSON, Context
    from reconciler.shell.loop import run
    from reconciler.shell.repo.desired_state import load_desired
    from reconciler.shell.repo.provenance import history_of
    from reconciler.shell.server.connect import open_server
    from reconciler.shell.server.live import read_live
    from reconciler.shell.settings import Settings

    here = Path.cwd()
    os.chdir(repo)
    try:
        settings = Settings(env={**pisync_env(url), "PISYNC_CACHE": "off"}, cache=False)
        out: dict[str, float] = {}
        t = time.perf_counter()
        loaded = load_desired((), settings)
        out["load the desired state (cold)"] = time.perf_counter() - t
        t = time.perf_counter()

        async def everyone() -> LiveState:
            async with open_server(settings, loaded.config, url) as server:
                return await read_live(
                    server,
                    payload_for=lambda code: True,
                    concurrency=loaded.config.server.concurrency,
                )

        live = run(everyone())
        out["read the live state (every payload)"] = time.perf_counter() - t
        t = time.perf_counter()
        history = history_of(loaded.desired)
        out["git provenance (per grant)"] = time.perf_counter() - t
        inputs = Inputs(
            live=live,
            desired=loaded.desired,
            config=loaded.config,
            server=url,
            today=dt.date(2026, 11, 26),
            history=history,
        )
        context = Context(today=inputs.today, approvals=inputs.approvals)
        t = time.perf_counter()
        rows, tally = Rows(inputs), Tally(inputs)
        size = 0
        for row in rows:
            tally.add(row)
            size += len(JSON.row(row, context))
        tally.head(rows.server_findings())
        out[f"rows, tally and JSON rows ({size / 1e6:.0f} MB)"] = time.perf_counter() - t
        return out
    finally:
        os.chdir(here)


def baseline(url: str, repo: Path, env: dict[str, str]) -> Run:
    run = run_wrapped(
        [PYTHON, str(BASELINES / "review_read.py"), url, str(CONCURRENCY)], cwd=repo, env=env
    )
    assert run.exit == 0, run.tail()
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--phases", action="store_true", help="also time each phase in process")
    args = parser.parse_args()
    print(machine())
    data = materialise(Workload(users=args.users)).folder
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        repo = with_history(data / "repo", tmp / "repo")
        emu = start_emulator(tmp, data / "seed.json", "--latency-ms", str(args.latency_ms))
        try:
            env = pisync_env(emu.url, secret_env())
            files = len(list((repo / "users").glob("*.yaml")))
            print(
                f"{args.users:,} users, {files} files, 3 commits by 3 authors, emulator latency"
                f" {args.latency_ms} ms, {CONCURRENCY} requests in flight"
            )
            before = baseline(emu.url, repo, env)
            runs: dict[str, Run] = {}
            bundle = tmp / "bundle"
            commands = {
                "review --format json (cold cache)": [
                    *("review", "--format", "json", "--out", str(tmp / "c.json"))
                ],
                "review --format json (warm cache)": [
                    *("review", "--format", "json", "--out", str(tmp / "w.json"))
                ],
                "review --out DIR (bundle, warm)": ["review", "--out", str(bundle)],
            }
            for name, command in commands.items():
                run = run_wrapped([PISYNC, *command], cwd=repo, env=env)
                assert run.exit == 0, run.tail()
                runs[name] = run
            after = baseline(emu.url, repo, env)
            read = (before.wall_s + after.wall_s) / 2
            print(
                f"baseline, the live read alone: {before.wall_s:.2f} s and {after.wall_s:.2f} s"
                f" (mean {read:.2f} s), {before.cpu_s:.2f} s and {after.cpu_s:.2f} s CPU,"
                f" peak RSS {max(before.rss_mb, after.rss_mb):.0f} MB"
            )
            for name, run in runs.items():
                print(
                    f"pisync {name}: {run.wall_s:.2f} s wall ({run.wall_s / read:.2f} x the read),"
                    f" {run.cpu_s:.2f} s CPU, peak RSS {run.rss_mb:.0f} MB"
                )
            report = json.loads((bundle / "review.json").read_text(encoding="utf-8"))
            s = report["summary"]
            print(
                f"report: {s['users']:,} users, {s['grants']:,} grants, {len(s['drifted']):,}"
                f" drifted, {s['policy_violations']['error']:,} errors /"
                f" {s['policy_violations']['warning']:,} warnings,"
                f" {sum(1 for u in report['users'] if u['last_change']):,} with a last change,"
                f" checks {[c['ok'] for c in report['manifest']['checks']]}"
            )
            sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(bundle.iterdir())}
            print("bundle: " + ", ".join(f"{n} {mb:.1f} MB" for n, mb in sizes.items()))
            if args.phases:
                for name, seconds in phases(repo, emu.url).items():
                    print(f"  {name}: {seconds:.2f} s")
            figures = {"baseline: the live read alone wall s": read}
            for name, run in runs.items():
                figures[f"{name} wall s"] = run.wall_s
                figures[f"{name} peak MB"] = run.rss_mb
            growth.record("review", args.users, figures)
            print()
            print(growth.table("review"))
        finally:
            emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
