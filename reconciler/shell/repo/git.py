"""Running git: one place for the command line, for ``--changed-since`` and provenance.

Both raise what :func:`subprocess.run` raises (``FileNotFoundError`` when git is not
installed, ``CalledProcessError`` when it fails); each caller words those for its own user.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_bytes(cwd: Path, *args: str) -> bytes:
    """``git ARGS`` in ``cwd``: its standard output (stderr kept on the error)."""
    return subprocess.run(  # noqa: S603 - fixed git subcommands, arguments as a list
        ["git", *args],  # noqa: S607
        cwd=cwd,
        capture_output=True,
        check=True,
    ).stdout


def git(cwd: Path, *args: str) -> str:
    """``git ARGS`` in ``cwd``: its standard output as text (stderr text on the error)."""
    return subprocess.run(  # noqa: S603 - fixed git subcommands, arguments as a list
        ["git", *args],  # noqa: S607
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
