"""The field diff: pisync's hand-written comparison against DeepDiff, on the same pairs.

For N pairs of (desired, live) user records in pisync's canonical form, of which 10% differ in
one or two fields, it times:

1. pisync's own path: ``reconciler.core.plans.compare.same`` per written field, the per-field work
   (``reconciler.core.plans.values.all_changes``) only for pairs that differ;
2. DeepDiff on every pair (``ignore_order=True``, ``threshold_to_diff_deeper=0``);
3. DeepDiff only on the pairs the plain comparison already found different (the one place it
   could serve: the nested values of pairs that differ).

It prints pairs per second and the ratio to (1), measured in this process, and the growth
table (``growth.py``: a pair counted as a user).

    .venv/bin/python benchmarks/bench_diff.py --pairs 20000     # needs: pip install deepdiff
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import growth
from workload import Person, Workload, element, live_copy, people, split

from reconciler.core.model.values import USER_FIELDS
from reconciler.core.plans.compare import same
from reconciler.core.plans.values import all_changes
from reconciler.pi.wire import live_user


def records(n: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(desired, live) canonical records of the shared generator's ``n`` users, 10% of them
    differing (another email, half of them a role): both read through pisync's own wire
    mapping, as a plan reads the server."""
    workload = Workload(users=n, changed=0.10)
    everyone = people(workload)
    _, changed = split(workload, everyone)

    def record(p: Person) -> dict[str, Any]:
        return dict(live_user({"usercode": p.usercode}, element(p)).record)

    return [(record(p), record(live_copy(p) if p.usercode in changed else p)) for p in everyone]


def pisync_diff(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
    changed = 0
    for desired, live in pairs:
        fields = [k for k in USER_FIELDS if k in desired and not same(k, desired[k], live.get(k))]
        if fields:
            all_changes((k, live.get(k), desired[k]) for k in fields)
            changed += 1
    return changed


def deepdiff_all(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
    from deepdiff import DeepDiff

    return sum(
        1
        for desired, live in pairs
        if DeepDiff(live, desired, ignore_order=True, threshold_to_diff_deeper=0)
    )


def deepdiff_changed(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> int:
    from deepdiff import DeepDiff

    return sum(
        1
        for desired, live in pairs
        if desired != live
        and DeepDiff(live, desired, ignore_order=True, threshold_to_diff_deeper=0)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20_000)
    args = parser.parse_args()
    pairs = records(args.pairs)
    rows = []
    for name, fn in (
        ("pisync (compare.same + planvalues)", pisync_diff),
        ("DeepDiff on every pair", deepdiff_all),
        ("DeepDiff on differing pairs only", deepdiff_changed),
    ):
        started = time.perf_counter()
        found = fn(pairs)
        rows.append((name, time.perf_counter() - started, found))
    base = rows[0][1]
    print(f"{args.pairs:,} pairs, {rows[0][2]:,} differ")
    print(f"{'what':40} {'seconds':>8} {'pairs/s':>10} {'x pisync':>9} {'differ':>7}")
    for name, seconds, found in rows:
        rate = args.pairs / seconds if seconds else float("inf")
        print(f"{name:40} {seconds:8.3f} {rate:10,.0f} {seconds / base:9.1f} {found:7,}")
    # a pair is a user's desired and live record: the growth table counts pairs as users
    growth.record("diff", args.pairs, {f"{name} s": seconds for name, seconds, _ in rows})
    print()
    print(growth.table("diff"))


if __name__ == "__main__":
    main()
