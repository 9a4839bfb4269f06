"""How each benchmark's figures grow with the number of users: every benchmark records its
figures for the size it ran (``record``), and prints them beside the same benchmark's latest
figures at every other size (``table``): the value, the cost per user, and the ratio of the
cost per user to the size before, so that super-linear growth shows at once (a ratio of
1.00 is linear; 2.00 means each user costs twice what it did at a tenth of the size).

The figures are kept, one JSON line per run, in the git-ignored
``benchmarks/.data/results.jsonl``; ``run_all.py`` prints every benchmark's table at the end.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / ".data" / "results.jsonl"


def record(bench: str, users: int, figures: Mapping[str, float], *, note: str = "") -> None:
    """Keep one run's figures: seconds (names ending in ``s``) and megabytes (``MB``)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "bench": bench,
        "users": users,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "figures": dict(figures),
        "note": note,
    }
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def latest(bench: str) -> dict[int, dict[str, float]]:
    """The latest figures of ``bench`` at each size."""
    found: dict[int, dict[str, float]] = {}
    if not RESULTS.exists():
        return found
    for raw in RESULTS.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        if line["bench"] == bench:
            found[int(line["users"])] = {**found.get(int(line["users"]), {}), **line["figures"]}
    return found


def _per_user(name: str, value: float, users: int) -> tuple[float, str]:
    if name.endswith("MB"):
        return value * 1024 / users, "KB"
    return value * 1000 / users, "ms"


def table(bench: str) -> str:
    """The figures of ``bench`` at every size measured, per user, and the growth ratio."""
    sizes = latest(bench)
    if not sizes:
        return f"(no figures recorded for {bench})"
    names = list(dict.fromkeys(name for figs in sizes.values() for name in figs))
    ordered = sorted(sizes)
    head = "| figure | " + " | ".join(f"{n:,} users" for n in ordered) + " |"
    rows = [
        f"Growth of {bench} (value, per user, and x the cost per user at the size before):",
        "",
        head,
        "|---" * (len(ordered) + 1) + "|",
    ]
    for name in names:
        cells = []
        before: float | None = None
        for n in ordered:
            value = sizes[n].get(name)
            if value is None:
                cells.append("")
                before = None
                continue
            each, unit = _per_user(name, value, n)
            growth = f", x{each / before:.2f}" if before else ""
            cells.append(f"{value:,.2f} ({each:.3g} {unit}/user{growth})")
            before = each if each > 0 else None
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
