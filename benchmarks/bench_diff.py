"""The field diff: pisync's hand-written comparison against DeepDiff, on the same pairs.

For N pairs of (desired, live) user records in pisync's canonical form, of which 10% differ in
one or two fields, it times:

1. pisync's own path: ``reconciler.core.plans.compare.same`` per written field, the per-field work
   (``reconciler.core.plans.values.all_changes``) only for pairs that differ;
2. DeepDiff on every pair (``ignore_order=True``, ``threshold_to_diff_deeper=0``);
3. DeepDiff only on the pairs the plain comparison already found different (the one place it
   could serve: the nested values of pairs that differ).

It prints pairs per second and the ratio to (1), measured in this process.

    .venv/bin/python benchmarks/bench_diff.py --pairs 20000     # needs: pip install deepdiff
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from reconciler.core.model.values import USER_FIELDS, Restriction, Variable
from reconciler.core.plans.compare import same
from reconciler.core.plans.values import all_changes


def records(n: int, seed: int = 7) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        live: dict[str, Any] = {
            "forenames": f"First{i}",
            "surname": f"Last{i}",
            "email": f"user{i}@example.com",
            "type": "user",
            "enabled": True,
            "lite": False,
            "parent": "ADMIN",
            "organisation": "Dashboard",
            "theme": "piBerry",
            "expires": None,
            "login.password": False,
            "login.external": True,
            "login.mfa": False,
            "privileges": ("accessAccount", "audit", "pdf"),
            "roles": ("Finance Viewer", "Sales"),
            "categories": ("Budgets", "Finance"),
            "variables": (Variable(name="region", value="North"),),
            "restrictions": (Restriction(connection="Sales DB", column="Region", values=("N",)),),
        }
        desired = dict(live)
        if rng.random() < 0.10:
            desired["email"] = f"changed{i}@example.com"
            if rng.random() < 0.5:
                desired["roles"] = ("Finance Viewer", "Sales", "Ops")
        pairs.append((desired, live))
    return pairs


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


if __name__ == "__main__":
    main()
