"""Benchmark: ``pisync import --out DIR`` of ``--users`` users, then ``validate`` and ``plan``
in the imported folder, and how the layout import chose validates against 200 files.

A ``pi-emulator`` process serves the shared generator's organisation (``workload.py``: every
user on the server as the files would declare it: a category tree, 20 roles, managers, every
non-administrator type, variables with a secure one on 10%, restrictions, expiry dates, 5%
disabled) with ``--latency-ms`` (default 20). Measured, each command in a fresh process:

1. baseline: a bare ``httpx`` client doing the same reads as the import (``GET /users`` pages
   of 500, ``/roles``, ``/categories``, then ``GET /users/syncPayload`` for every user with
   the same number of requests in flight) and nothing else: the network-and-server floor;
2. ``pisync import --out DIR`` (its default layout): wall time, users/s, peak RSS, CPU;
3. ``pisync validate --no-cache`` in the imported folder; then the same users' entries, as
   import wrote them, regrouped into 200 files (and into one file per user): the layout's
   cost against the 200 files (target: at most 1.5 x);
4. ``pisync plan --detailed-exitcode`` in the imported folder, with the secure variables
   the import names (``PISYNC_VAR_<USER>_<NAME>``) set to the seeded value: it must be
   empty (exit 0); otherwise the first 40 lines of the plan are printed.

Usage::

    .venv/bin/python benchmarks/bench_import.py                 # 10,000 users, 20 ms
    .venv/bin/python benchmarks/bench_import.py --users 2000 --concurrency 16 --keep

``--concurrency N`` sets ``server.concurrency`` (the readers in flight) for the import and
the plan (default: pisync's own default, 8); the baseline uses the same number.
``--profile`` also runs the import once more under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import pstats
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import growth
from measure import (
    BASELINES,
    PISYNC,
    PYTHON,
    Run,
    machine,
    pisync_env,
    run_wrapped,
    start_emulator,
)
from workload import SECRET_VALUE, Workload, materialise

from pi_emulator.process import EmulatorProcess as Emulator

DEFAULT_CONCURRENCY = 8  # pisync's server.concurrency default


# --- processes ---------------------------------------------------------------------------


def pisync(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Run:
    return run_wrapped([PISYNC, *args], cwd=cwd, env=env)


SECRET_LINE = re.compile(r"^\s+(PISYNC_VAR_\w+)\s+\(user (\S+), variable (.+)\)\s*$")


def secret_env(import_out: str) -> tuple[dict[str, str], list[str]]:
    """Environment for the plan from the names the import printed (every secure variable of
    the generated organisation holds the same value); and the lines that did not match."""
    env: dict[str, str] = {}
    unknown: list[str] = []
    for line in import_out.splitlines():
        m = SECRET_LINE.match(line)
        if not m:
            continue
        name, _, var = m.groups()
        if var == "warehouseKey":
            env[name] = SECRET_VALUE
        else:
            unknown.append(line.strip())
    return env, unknown


def folder_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def profile_import(work: Path, env: Mapping[str, str], top: int = 30) -> None:
    out = work / "import.prof"
    dest = work / "imported-profiled"
    command = [PYTHON, "-m", "cProfile", "-o", str(out), PISYNC, "import", "--out", str(dest)]
    run = run_wrapped(command, cwd=work, env=env)
    print(
        f"\ncProfile of `pisync import` ({run.wall_s:.2f} s under the profiler, exit {run.exit});"
        f" top {top} by cumulative, then by own time:"
    )
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def regroup(imported: Path, target: Path, files: int) -> int:
    """The user entries of an imported folder's files, as written, in ``files`` files under
    ``target/users`` (``roles.yaml`` copied as is); the number of files written."""
    entries: list[str] = []
    for path in sorted((imported / "users").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if path.name == "roles.yaml":
            (target / "users").mkdir(parents=True, exist_ok=True)
            (target / "users" / "roles.yaml").write_text(text, encoding="utf-8")
            continue
        body = text.split("\nusers:\n", 1)[1]
        entries += ["  - usercode: " + e for e in body.split("  - usercode: ")[1:]]
    (target / "users").mkdir(parents=True, exist_ok=True)
    shutil.copy(imported / "pisync.yaml", target / "pisync.yaml")
    per_file = -(-len(entries) // files)
    written = 0
    for n, start in enumerate(range(0, len(entries), per_file)):
        body = "users:\n" + "".join(entries[start : start + per_file])
        (target / "users" / f"part-{n:06d}.yaml").write_text(body, encoding="utf-8")
        written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument(
        "--concurrency", type=int, default=0, help="server.concurrency (default: pisync's, 8)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-httpx run")
    parser.add_argument("--profile", action="store_true", help="also cProfile the import")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    concurrency = args.concurrency or DEFAULT_CONCURRENCY

    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="pisync-bench-import-"))
    emu: Emulator | None = None
    figures: dict[str, float] = {}
    try:
        data = materialise(Workload(users=args.users, changed=0.0))
        seed_file = data.seed
        started = time.perf_counter()
        emu = start_emulator(tmp, seed_file, "--latency-ms", str(args.latency_ms))
        startup = time.perf_counter() - started
        users_live = int(emu.control("GET", "health")["users"])
        print(
            f"seed: {args.users} users ({users_live} live with ADMIN), the shared generator's"
            f" organisation, {seed_file.stat().st_size / 1e6:.1f} MB; emulator ready in"
            f" {startup:.1f} s; --latency-ms {args.latency_ms}; {concurrency} requests in"
            f" flight; {tmp}"
        )
        work = tmp / "work"
        work.mkdir()
        if args.concurrency:
            (work / "pisync.yaml").write_text(
                f"server:\n  concurrency: {args.concurrency}\n", encoding="utf-8"
            )
        env = pisync_env(emu.url)

        baseline: Run | None = None
        if not args.no_baseline:
            baseline = run_wrapped(
                [PYTHON, str(BASELINES / "raw_reads.py"), "httpx", emu.url, str(concurrency)],
                cwd=work,
                env=env,
            )
            if baseline.exit != 0:
                print("baseline FAILED:\n" + "\n".join(baseline.lines()[-20:]))
                baseline = None

        dest = work / "imported"
        cpu_before = emu.cpu_seconds()
        imp = pisync(["import", "--out", str(dest)], cwd=work, env=env)
        emu_cpu = emu.cpu_seconds() - cpu_before
        if imp.exit != 0:
            print(f"pisync import FAILED (exit {imp.exit}):\n" + "\n".join(imp.lines()[-40:]))
            return 1
        summary = [ln for ln in imp.stdout.splitlines() if ln.startswith("Imported")]
        files, size = folder_size(dest / "users")

        if args.concurrency:
            text = (dest / "pisync.yaml").read_text(encoding="utf-8")
            (dest / "pisync.yaml").write_text(
                text + f"server:\n  concurrency: {args.concurrency}\n", encoding="utf-8"
            )
        validate = pisync(["validate", "--no-cache"], cwd=dest, env=env)
        layouts: list[tuple[str, int, Run]] = []
        for label, count in (("200 files", 200), ("a file per user", args.users)):
            other = tmp / f"regrouped-{count}"
            written = regroup(dest, other, count)
            layouts.append((label, written, pisync(["validate", "--no-cache"], cwd=other, env=env)))
        plan_secrets, unknown = secret_env(imp.stdout)
        plan = pisync(["plan", "--detailed-exitcode"], cwd=dest, env=env | plan_secrets)

        print(f"import: {summary[0] if summary else imp.stdout.splitlines()[:1]}")
        print(f"        users/ holds {files} files, {size / 1e6:.1f} MB of YAML")
        print(
            f"        {len(plan_secrets)} secure-variable environment names printed and set "
            "for the plan" + (f"; {len(unknown)} NOT matched: {unknown[:3]}" if unknown else "")
        )
        print()
        floor = (args.users + 1) * args.latency_ms / 1000 / concurrency
        head = f"{'step':<44} {'wall s':>7} {'users/s':>8} {'ratio':>7} {'CPU s':>6} {'RSS MB':>7}"
        rows = [head, "-" * len(head)]

        def row(label: str, run: Run, ratio: str) -> str:
            return (
                f"{label:<44} {run.wall_s:>7.2f} {args.users / run.wall_s:>8.0f} {ratio:>7}"
                f" {run.cpu_s:>6.2f} {run.rss_mb:>7.0f}"
            )

        rows.append(
            f"{'latency bound (N users x 20ms / ' + str(concurrency) + ')':<44} {floor:>7.2f}"
            f" {args.users / floor:>8.0f}"
        )
        if baseline is not None:
            rows.append(row("baseline: bare httpx, same reads", baseline, "1.00x"))
            figures["baseline: bare httpx wall s"] = baseline.wall_s
        base_s = baseline.wall_s if baseline is not None else floor
        rows.append(row("pisync import --out DIR", imp, f"{imp.wall_s / base_s:.2f}x"))
        reference = layouts[0][2].wall_s
        rows.append(
            row(
                f"pisync validate, import's layout ({files} files)",
                validate,
                f"{validate.wall_s / reference:.2f}x",
            )
        )
        for label, written, run in layouts:
            rows.append(
                row(
                    f"pisync validate, {label} ({written + 1} files)",
                    run,
                    f"{run.wall_s / reference:.2f}x",
                )
            )
        rows.append(row("pisync plan (imported folder)", plan, f"{plan.wall_s / base_s:.2f}x"))
        print(
            "ratio = wall time over the "
            + ("bare-httpx baseline" if baseline is not None else "latency bound")
            + " (validate: over the same users in 200 files); CPU s / RSS MB = CPU time and"
            " peak RSS of the command's own process"
        )
        print("\n".join(rows))
        print(f"emulator CPU during the import: {emu_cpu:.2f} s")
        ratio = validate.wall_s / reference
        print(
            f"target (import's own layout validates within 1.5 x the same users in 200 files):"
            f" {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f} x)"
        )
        figures.update(
            {
                "import wall s": imp.wall_s,
                "import CPU s": imp.cpu_s,
                "import peak MB": imp.rss_mb,
                "validate, import's layout wall s": validate.wall_s,
                "validate, 200 files wall s": reference,
                "validate, a file per user wall s": layouts[1][2].wall_s,
                "plan after import wall s": plan.wall_s,
            }
        )
        for label, _, run in (("import's layout", 0, validate), *layouts):
            if run.exit != 0:
                print(f"validate ({label}) FAILED (exit {run.exit}):")
                print("\n".join(run.lines()[:40]))
        if plan.exit == 0:
            print("plan in the imported folder: EMPTY (exit 0), as it should be")
        else:
            print(f"plan in the imported folder: NOT EMPTY (exit {plan.exit}); first 40 lines:")
            print("\n".join(plan.lines()[:40]))
        growth.record("import", args.users, figures)
        print()
        print(growth.table("import"))
        if args.profile:
            profile_import(work, env)
        return 0 if plan.exit == 0 and validate.exit == 0 and not unknown else 1
    finally:
        if emu is not None:
            emu.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
