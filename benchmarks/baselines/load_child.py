"""Loads a desired-state repository once, in a process of its own (its own peak RSS), and
reports the figures as JSON: what ``pisync validate`` and ``plan`` spend reading files.

    python benchmarks/baselines/load_child.py USERS_DIR CONFIG|- cache|nocache TODAY|- \
        [build=False] [workers=1]

``CONFIG`` ``-``: none; ``TODAY`` ``-``: the policies are not checked. Prints
``{"import_s", "load_s", "cpu_s", "errors", "issues", "policy", "hits", "users", "files",
"rss_mb", "children_rss_mb"}`` (bench_validate.py, bench_policies.py).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path


def cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str]) -> None:
    t0 = time.perf_counter()
    from reconciler.shell.repo.desired_files import load

    t1 = time.perf_counter()
    config = Path(argv[1]) if argv[1] != "-" else None
    today = dt.date.fromisoformat(argv[3]) if argv[3] != "-" else None
    options = dict(option.split("=", 1) for option in argv[4:])
    cpu0 = cpu()
    result = load(
        [argv[0]],
        config,
        cache=argv[2] == "cache",
        policies_today=today,
        build=options.get("build", "True") != "False",
        workers=int(options["workers"]) if "workers" in options else None,
    )
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": t1 - t0,
                "load_s": t2 - t1,
                "cpu_s": cpu() - cpu0,
                "errors": sum(1 for i in result.issues if i.severity == "error"),
                "issues": len(result.issues),
                "policy": sum(1 for i in result.issues if i.message.startswith("policy ")),
                "hits": result.cache_hits,
                "users": 0 if result.desired is None else len(result.desired.users),
                "files": result.stats.files,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
