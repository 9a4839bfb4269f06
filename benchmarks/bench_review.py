"""Benchmark: ``pisync review`` of 10,000 users, every format, and where the time goes.

Reuses the organisation ``bench_plan.py`` generates (``benchmarks/.data/plan-N-0.1/``: an
emulator seed and desired-state YAML in files of 500 users; 10% of the users differ, so the
review finds drift), copies its repository and adds a history by three people: grant
metadata for 2% of the users, then a role change for 1%, each its own commit. A
``pi-emulator`` serves the seed (``--latency-ms``, default 0: the client's own cost) and every
command runs in a fresh wrapper process (wall time, CPU and peak RSS its own).

1. ``pisync review --format F --out FILE`` for each format;
2. in this process, the review's phases on the same inputs: git provenance (one blame per
   file), building the review (access, drift, policies), and each renderer; and the ratio of
   the review's own work (provenance and building) to its baseline, reading the live state
   (the part ``pisync plan`` shares).

Usage::

    .venv/bin/python benchmarks/bench_review.py                # 10,000 users
    .venv/bin/python benchmarks/bench_review.py --users 2000 --latency-ms 20
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

from bench_plan import generate
from measure import PISYNC, machine, pisync_env, run_wrapped, start_emulator

POLICIES = """\
policies:
  mfa_required_for: {types: [administrator], privileges: [editUsers]}
  administrators: {min: 1, max: 5}
  escalation_requires: {keys: [ticket, reason]}
  review_interval_days: {days: 365, severity: warning}
  email_domains: {allowed: [example.com], severity: warning}
"""
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

    from reconciler.core.review.build import build_review
    from reconciler.core.review.formats import render_csv, render_json, render_markdown
    from reconciler.core.review.html import render_html
    from reconciler.shell.repo.desired_state import load_desired
    from reconciler.shell.repo.provenance import history_of
    from reconciler.shell.settings import Settings

    here = Path.cwd()
    os.chdir(repo)
    try:
        settings = Settings(env={**pisync_env(url), "PISYNC_CACHE": "off"}, cache=False)
        out: dict[str, float] = {}
        t = time.perf_counter()
        loaded = load_desired((), settings)
        out["load the desired state"] = time.perf_counter() - t
        from reconciler.shell.flows.review import _read
        from reconciler.shell.loop import run

        t = time.perf_counter()
        live = run(_read(settings, loaded, url))
        out["read the live state (every payload)"] = time.perf_counter() - t
        t = time.perf_counter()
        history = history_of(loaded.desired)
        out["git provenance (one blame per file)"] = time.perf_counter() - t
        t = time.perf_counter()
        review = build_review(
            live,
            loaded.desired,
            loaded.config,
            server=url,
            today=dt.date(2026, 11, 26),
            history=history,
        )
        out["build the review (access, drift, policies)"] = time.perf_counter() - t
        for name, render in (
            ("json", render_json),
            ("csv", render_csv),
            ("markdown", render_markdown),
            ("html", render_html),
        ):
            t = time.perf_counter()
            text = render(review)
            out[f"render {name} ({len(text) / 1e6:.1f} MB)"] = time.perf_counter() - t
        out["provenance found for"] = float(len(history.changes))
        return out
    finally:
        os.chdir(here)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    data = generate(args.users, 0.1)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        repo = with_history(data / "repo", tmp / "repo")
        emu = start_emulator(tmp, data / "seed.json", "--latency-ms", str(args.latency_ms))
        try:
            env = pisync_env(emu.url)
            print(
                f"{args.users:,} users, {len(list((repo / 'users').glob('*.yaml')))} files,"
                f" 3 commits by 3 authors, emulator latency {args.latency_ms} ms"
            )
            for fmt in ("json", "csv", "markdown", "html"):
                out = tmp / f"review.{fmt}"
                run = run_wrapped(
                    [PISYNC, "review", "--format", fmt, "--out", str(out)], cwd=repo, env=env
                )
                assert run.exit == 0, run.tail()
                print(
                    f"pisync review --format {fmt}: {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s"
                    f" CPU, peak RSS {run.rss_mb:.0f} MB, {out.stat().st_size / 1e6:.1f} MB"
                )
            report = json.loads((tmp / "review.json").read_text(encoding="utf-8"))
            s = report["summary"]
            print(
                f"report: {s['users']:,} users, {len(s['drifted']):,} drifted,"
                f" {s['policy_violations']['error']:,} errors /"
                f" {s['policy_violations']['warning']:,} warnings,"
                f" {sum(1 for u in report['users'] if u['last_change']):,} with a last change"
            )
            parts = phases(repo, emu.url)
            for name, seconds in parts.items():
                if name == "provenance found for":
                    print(f"  {name}: {seconds:,.0f} users")
                else:
                    print(f"  {name}: {seconds:.2f} s")
            # the baseline, in this process: reading the live state, which plan does too
            read = parts["read the live state (every payload)"]
            own = sum(
                v for k, v in parts.items() if k.startswith(("git provenance", "build the review"))
            )
            print(
                f"ratio: provenance + building the review = {own / read:.2f}x reading the live"
                f" state ({own:.2f} s against {read:.2f} s)"
            )
        finally:
            emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
