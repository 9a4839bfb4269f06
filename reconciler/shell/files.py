"""Writing files so that a reader never sees half of one: temp file in the same folder, then
rename. Every file pisync writes (plans, reports, imported repositories) goes through here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.shell.output import redact, redact_stream


def write_atomic(path: str | Path, text: str | Iterable[str], *, what: str = "") -> None:
    """Write ``text`` to ``path`` (folders created), all or nothing; ``text`` may come in
    pieces (a large plan is written a change at a time, never held whole).

    A failure raises :class:`~reconciler.errors.UsageError` naming the file (``what``, e.g.
    "the plan", says what it was) and leaves no temp file behind.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:  # no secret leaves the process
            if isinstance(text, str):
                out.write(redact(text))
            else:
                out.writelines(redact_stream(text))  # may fail half-way: no file is left then
        os.replace(tmp, target)
    except OSError as exc:
        # the same cause (a file where a folder should be…) can make the clean-up fail too
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        label = f"{what} to {target}" if what else str(target)
        reason = exc.strerror or str(exc)
        blocked = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            reason = f"{blocked} is a file, not a folder"
        raise UsageError(f"cannot write {label}: {reason}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def per_server_path(path: str, server: str) -> str:
    """``review.html`` for server ``prod`` -> ``review-prod.html``: one file per server."""
    target = Path(path)
    return str(target.with_name(f"{target.stem}-{server}{target.suffix}"))
