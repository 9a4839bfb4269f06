"""YAML emitters for ``pisync import``: pisync's own (``core/yamlfile/emit.py``) against ruamel's
safe and round-trip dumpers, on the same documents, ratios from this process; then the
growth table (``growth.py``).

    .venv/bin/python benchmarks/bench_emit.py --users 10000
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Any

import growth
from ruamel.yaml import YAML
from workload import Workload, document, people

from reconciler.core.yamlfile.emit import emit


def documents(n: int) -> dict[str, list[dict[str, Any]]]:
    """The shared generator's ``n`` users as the entries of one ``users:`` document."""
    return {"users": [document(p) for p in people(Workload(users=n))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    body = documents(args.users)
    started = time.perf_counter()
    emit(body)
    base = time.perf_counter() - started
    print(f"{args.users:,} users")
    print(f"{'emitter':28} {'seconds':>8} {'x pisync':>9}")
    print(f"{'core/yamlfile/emit.py':28} {base:8.2f} {1.0:9.1f}")
    figures = {"pisync emit s": base}
    for typ in ("safe", "rt"):
        yaml = YAML(typ=typ)
        yaml.default_flow_style = None
        started = time.perf_counter()
        yaml.dump(body, io.StringIO())
        seconds = time.perf_counter() - started
        figures[f"ruamel {typ} s"] = seconds
        print(f"{'ruamel YAML(typ=' + repr(typ) + ')':28} {seconds:8.2f} {seconds / base:9.1f}")
    growth.record("emit", args.users, figures)
    print()
    print(growth.table("emit"))


if __name__ == "__main__":
    main()
