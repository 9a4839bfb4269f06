"""Runs one command and reports what it cost: a fresh wrapper process per command, so that
``RUSAGE_CHILDREN`` is that command's own peak.

    python benchmarks/baselines/measured.py COMMAND [ARGS...]

Prints ``{"wall_s", "rss_mb", "cpu_s", "exit", "stdout", "stderr"}`` as JSON
(:func:`benchmarks.measure.run_wrapped` reads it).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(command: list[str]) -> None:
    start = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "rss_mb": usage.ru_maxrss / 1024,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "exit": proc.returncode,
                "stdout": proc.stdout,
                "stderr": proc.stderr,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
