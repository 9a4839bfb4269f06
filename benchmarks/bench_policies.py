"""Benchmark: what ``policies:`` add to ``pisync validate`` on 100,000 users (target: well
under a second).

Uses the repository ``bench_validate.py`` generates (200 files of 500 users and a roles file,
under the git-ignored ``benchmarks/.data/``) with two ``pisync.yaml``, each configuring all
seven rules:

- **typical**: rules as a security team would write them (MFA and a 90-day expiry for
  administrators and the escalating privileges, a separation rule over two of the 40 roles,
  metadata and reviews for escalating access, the repository's email domain): every rule
  looks at every user, and the few who share the two separated roles break one;
- **worst**: the same rules aimed at the generated users themselves (MFA for every user and
  designer, a maximum access time for both, a foreign email domain…), so that each user
  breaks two rules: 200,000 findings to word, sort and print.

Each figure is a fresh process (best of ``--rounds``), so imports and caches never carry
over; CPU seconds (this process and its parser process) are given beside wall seconds
because the machine is shared:

- ``load(build=False)`` without and with the policies, the validation cache off (every file
  parsed) and warm (every file's analysis read back, with its users' policy view);
- ``pisync validate`` through the CLI, without and with the policies (cache off), which adds
  printing the findings;
- in one process: the evaluation alone (:func:`reconciler.core.policies.desired_issues`) on
  the subjects the analysis made.

Usage::

    .venv/bin/python benchmarks/bench_policies.py            # 100,000 users
    .venv/bin/python benchmarks/bench_policies.py --users 20000 --files 40
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_validate import generate  # noqa: E402

PYTHON = sys.executable
TODAY = "2026-11-26"
TYPICAL = """\
policies:
  mfa_required_for: {types: [administrator], privileges: [editUsers, editUserAccess, editRoles]}
  administrators: {min: 2, max: 5}
  separation_of_duties:
    - {roles: [Role 00, Role 01], reason: "four-eyes"}
  escalation_requires: {keys: [ticket, reason]}
  max_access_days: {administrator: 90, severity: warning}
  review_interval_days: {days: 180, severity: warning}
  email_domains: {allowed: [example.com], severity: warning}
"""
WORST = """\
policies:
  mfa_required_for: {types: [designer, user], privileges: [exportToCsv, editUsers]}
  administrators: {min: 2, max: 5}
  separation_of_duties:
    - {roles: [Role 00, Role 01], reason: "four-eyes"}
    - {roles: [Role 02, Role 03, Role 04], reason: "one of three", severity: warning}
  escalation_requires: {keys: [ticket, reason]}
  max_access_days: {administrator: 90, designer: 365, user: 365, severity: warning}
  review_interval_days: {days: 180, severity: warning}
  email_domains: {allowed: [example.org], severity: warning}
"""

CHILD = r"""
import datetime as dt, json, resource, sys, time
from pathlib import Path
from reconciler.shell.load import load
config = Path(sys.argv[2]) if sys.argv[2] != "-" else None
today = dt.date.fromisoformat(sys.argv[4]) if sys.argv[4] != "-" else None

def cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

start, cpu0 = time.perf_counter(), cpu()
result = load([sys.argv[1]], config, build=False, cache=sys.argv[3] == "cache",
              policies_today=today)
took, cpu_s = time.perf_counter() - start, cpu() - cpu0
policy = sum(1 for i in result.issues if i.message.startswith("policy "))
print(json.dumps({"load_s": took, "cpu_s": cpu_s, "issues": len(result.issues),
                  "policy": policy, "hits": result.cache_hits}))
"""


def load_once(repo: Path, config: Path | None, *, cache: bool, policies: bool) -> dict[str, float]:
    out = subprocess.run(
        [
            PYTHON,
            "-c",
            CHILD,
            str(repo / "users"),
            str(config) if config is not None else "-",
            "cache" if cache else "nocache",
            TODAY if policies else "-",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=repo,
    )
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def best(rounds: int, run: object) -> dict[str, float]:
    assert callable(run)
    results = [run() for _ in range(rounds)]
    return min(results, key=lambda r: float(r["load_s"]))


def cli_once(repo: Path, config: Path) -> float:
    pisync = Path(PYTHON).parent / "pisync"
    start = time.perf_counter()
    subprocess.run(
        [str(pisync), "--no-cache", "--config", str(config), "validate", "users"],
        cwd=repo,
        capture_output=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PISYNC_TODAY": TODAY},
    )
    return time.perf_counter() - start


def evaluation_alone(repo: Path, config: Path) -> tuple[float, int, int]:
    import datetime as dt

    from reconciler.core.analysis import analyse
    from reconciler.core.policies import desired_issues, role_defs
    from reconciler.shell.load import _checker, _read_one, load_config

    policies = load_config(config).policies
    results = [
        analyse(_read_one(p, p.name, 10_000_000), _checker(), build=False, subjects=True)
        for p in sorted((repo / "users").glob("*.yaml"))
    ]
    subjects = [s for r in results for s in r.subjects or ()]
    defs = role_defs(d for r in results for d in r.role_defs)
    start = time.process_time()
    issues = desired_issues(subjects, defs, policies, today=dt.date.fromisoformat(TODAY))
    return time.process_time() - start, len(subjects), len(issues)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    repo = generate(args.users, args.files)
    configs = {}
    for name, text in (
        ("plain", "plan: {expiring_days: 14}\n"),
        ("typical", TYPICAL),
        ("worst", WORST),
    ):
        path = repo / name / "pisync.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        configs[name] = path
    print(f"repository: {repo} ({args.users:,} users, {args.files} files + roles.yaml)")

    worst_added = 0.0
    for case in ("typical", "worst"):
        for label, cache in (("cache off", False), ("cache warm", True)):
            if cache:
                for name in ("plain", case):
                    shutil.rmtree(configs[name].parent / ".pisync-cache", ignore_errors=True)
                load_once(repo, configs["plain"], cache=True, policies=False)  # fill the caches
                load_once(repo, configs[case], cache=True, policies=True)
            without = best(
                args.rounds,
                lambda c=cache: load_once(repo, configs["plain"], cache=c, policies=False),
            )
            with_ = best(
                args.rounds,
                lambda c=cache, k=case: load_once(repo, configs[k], cache=c, policies=True),
            )
            added = with_["load_s"] - without["load_s"]
            if case == "typical":
                worst_added = max(worst_added, added)
            print(
                f"{case}, load(build=False), {label}: {without['load_s']:.2f} s"
                f" ({without['cpu_s']:.2f} s CPU) without policies, {with_['load_s']:.2f} s"
                f" ({with_['cpu_s']:.2f} s CPU) with them: +{added:.2f} s wall,"
                f" +{with_['cpu_s'] - without['cpu_s']:.2f} s CPU; {with_['policy']:,.0f}"
                f" findings; {with_['hits']:.0f} cache hits"
            )
        cli_without = min(cli_once(repo, configs["plain"]) for _ in range(args.rounds))
        cli_with = min(cli_once(repo, configs[case]) for _ in range(args.rounds))
        print(
            f"{case}, pisync validate (CLI, cache off): {cli_without:.2f} s without policies,"
            f" {cli_with:.2f} s with them (+{cli_with - cli_without:.2f} s, printing included)"
        )
        took, subjects, issues = evaluation_alone(repo, configs[case])
        print(
            f"{case}, evaluation alone: {took:.3f} s CPU for {subjects:,} users ({issues:,}"
            f" findings), {took / subjects * 1e6:.1f} us per user"
        )
    ok = worst_added < 0.75
    print(f"target (typical policies add well under 1 s): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
