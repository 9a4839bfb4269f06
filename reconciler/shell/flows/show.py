"""``pisync show PLANFILE``: a saved plan, rendered without a server (the apply job prints what
it is about to apply). The file is checked as apply checks it: against the plan schema and
its own digest. A bundle of several servers' plans is shown as ``pisync plan`` shows a
fleet; a folder of bundles (the shards of a CI matrix) is joined into one, which ``--out``
writes (:func:`reconciler.shell.bundle.read_bundles`)."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import UsageError
from reconciler.shell.bundle import is_bundle, read_bundles, write_bundle
from reconciler.shell.plan_output import write_fleet, write_plan
from reconciler.shell.planfile import read_plan_file
from reconciler.shell.settings import Settings


def show_command(
    settings: Settings,
    *,
    planfile: str,
    fmt: str,
    brief: bool,
    out: str | None = None,
) -> int:
    folder = Path(planfile)
    files = sorted(str(p) for p in folder.glob("*.json")) if folder.is_dir() else [planfile]
    if folder.is_dir() and not files:
        raise UsageError(f"{planfile} holds no *.json plan bundle")
    if folder.is_dir() or is_bundle(files[0]):
        fleet = read_bundles(files, join=folder.is_dir())
        write_fleet(settings, fleet, fmt, brief=brief)
        if out:
            write_bundle(fleet, out)
        return 0
    if out:
        raise UsageError(
            "--out writes the bundle that several plan bundles join into; a single plan is"
            " already its own file"
        )
    plan = read_plan_file(files[0], applying=False)
    write_plan(settings, plan, fmt, brief=brief)
    return 0
