"""Writing a review as its rows are made: each output (:class:`Sink`) writes every row's piece
to a temporary spool file as the row passes (rows come in the order their users arrive from
the server), and once the head is known (after the last row) writes the file whole: head,
the spooled pieces in usercode order, tail; to a temporary name beside the target, then
renamed, so a reader never sees half of one (stdout gets the same three parts). Memory holds
one row at a time and, per output, where each piece is in its spool.

A bundle (``review --out DIR``) is a new folder with every format (:data:`BUNDLE`), the
manifest alone as CSV, and ``manifest.json`` with the SHA-256 of each of them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Final

import orjson

from reconciler.core.review.formats import CSV, GRANTS, JSON, Context, Format, manifest_csv
from reconciler.core.review.html import HTML
from reconciler.core.review.manifest import FileDigest, bundle_manifest
from reconciler.core.review.markdown import MARKDOWN
from reconciler.core.review.model import Review, Row
from reconciler.errors import UsageError
from reconciler.shell.flows.review.evidence import digest

#: The formats of ``--format`` (a single file or stdout).
FORMATS: Final[Mapping[str, Format]] = {
    "markdown": MARKDOWN,
    "csv": CSV,
    "json": JSON,
    "html": HTML,
}
#: A bundle's files, each in its format.
BUNDLE: Final[tuple[tuple[str, Format], ...]] = (
    ("review.json", JSON),
    ("review.csv", CSV),
    ("grants.csv", GRANTS),
    ("review.md", MARKDOWN),
    ("review.html", HTML),
)
MANIFEST_CSV: Final = "manifest.csv"
MANIFEST_JSON: Final = "manifest.json"


class Sink:
    """One output (a file, or stdout when ``target`` is None), written as rows pass."""

    def __init__(self, fmt: Format, target: Path | None, context: Context) -> None:
        self.fmt = fmt
        self.target = target
        self.context = context
        self._spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish
        self._codes: list[str] = []
        self._at = array("q")  # where each row's piece starts in the spool
        self._size = array("q")

    def add(self, row: Row) -> None:
        piece = self.fmt.row(row, self.context).encode("utf-8")
        if piece:
            self._codes.append(row.usercode)
            self._at.append(self._spool.tell())
            self._size.append(len(piece))
            self._spool.write(piece)

    def finish(self, review: Review) -> None:
        """Write the output whole: head, the rows by usercode, tail."""
        try:
            if self.target is None:
                self._copy(review, sys.stdout.buffer)
                sys.stdout.flush()
                return
            tmp = self.target.with_name(f".{self.target.name}.tmp")
            try:
                self.target.parent.mkdir(parents=True, exist_ok=True)
                with tmp.open("wb") as out:
                    self._copy(review, out)
                os.replace(tmp, self.target)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
                raise UsageError(
                    f"cannot write the review to {self.target}: {exc.strerror or exc}"
                ) from None
        finally:
            self._spool.close()

    def _copy(self, review: Review, out: IO[bytes]) -> None:
        out.write(self.fmt.head(review).encode("utf-8"))
        spool, at, size = self._spool, self._at, self._size
        spool.flush()
        separator = self.fmt.separator.encode("utf-8")
        codes = self._codes
        order = sorted(range(len(codes)), key=codes.__getitem__)
        for n, i in enumerate(order):
            if n and separator:
                out.write(separator)
            spool.seek(at[i])
            out.write(spool.read(size[i]))
        out.write(self.fmt.tail(review).encode("utf-8"))

    def discard(self) -> None:
        self._spool.close()


def check_bundle_folder(folder: Path) -> None:
    """A bundle goes into a new or empty folder (said before the server is read)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(
            f"--out {folder}: a bundle is written into a new or empty folder, and this one is"
            " not (an evidence bundle is never written over)"
        )


def bundle_sinks(folder: Path, context: Context) -> list[Sink]:
    """The sinks of a new bundle in ``folder`` (which must be new or empty)."""
    check_bundle_folder(folder)
    return [Sink(fmt, folder / name, context) for name, fmt in BUNDLE]


def finish_bundle(folder: Path, review: Review, extra: Sequence[Path] = ()) -> list[FileDigest]:
    """The manifest's own files, then ``manifest.json`` with the digest of every output
    (``extra``: other outputs inside the folder, the worksheet)."""
    manifest = {} if review.manifest is None else review.manifest.to_dict()
    (folder / MANIFEST_CSV).write_text(manifest_csv(manifest), encoding="utf-8", newline="")
    names = [name for name, _ in BUNDLE] + [MANIFEST_CSV]
    names += [p.resolve().relative_to(folder.resolve()).as_posix() for p in extra]
    outputs = [digest(folder / name, name) for name in names]
    body = bundle_manifest(manifest, outputs)
    text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"
    (folder / MANIFEST_JSON).write_text(text, encoding="utf-8")
    return outputs


def manifest_beside(path: Path) -> Path:
    """Where a single CSV's manifest goes: ``users.csv`` -> ``users.manifest.csv``."""
    return path.with_name(f"{path.stem}.manifest.csv")


def is_bundle(out: str) -> bool:
    """``--out`` names a bundle folder: an existing folder, a path ending in ``/``, or a
    name without a suffix."""
    path = Path(out)
    return out.endswith(("/", os.sep)) or path.is_dir() or not path.suffix
