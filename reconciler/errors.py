"""Every exception pisync raises on purpose, and the exit code each one maps to.

::

    PisyncError                      exit 1 unless a subclass says otherwise
    ├── UsageError                   64: a bad command line (option values, missing file)
    ├── InvalidStateError            3: desired state or configuration is invalid
    │                                   (carries the list of Issues)
    ├── ServerError                  1: the server could not be read or written
    │   ├── ConnectionFailed            no connection, timeout, dropped connection
    │   ├── AuthenticationFailed        bad credentials or no token (401 after re-login)
    │   ├── UnexpectedResponse          a status or body the reference does not allow
    │   ├── IncompleteRead              a list read that came back short (paging)
    │   └── StoredDifferently           a write answered as done but stored otherwise than sent
    ├── GuardError                   4: a safety guard blocked the plan (--force overrides)
    ├── StalePlanError               5: a saved plan no longer matches the server
    └── ApplyFailed                  6: some changes failed; the rest were applied

Only ``shell/cli.py`` turns these into exit codes and messages; nothing else exits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PisyncError(Exception):
    exit_code = 1


class UsageError(PisyncError):
    exit_code = 64


class InvalidStateError(PisyncError):
    exit_code = 3

    def __init__(self, message: str, issues: Sequence[Any] = (), stats: Any = None) -> None:
        super().__init__(message)
        self.issues = tuple(issues)
        self.stats = stats  # what was loaded, when the issues come from loading files


class ServerError(PisyncError):
    exit_code = 1


class ConnectionFailed(ServerError):
    pass


class AuthenticationFailed(ServerError):
    pass


class UnexpectedResponse(ServerError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class IncompleteRead(ServerError):
    pass


class StoredDifferently(ServerError):
    """Apply's verification: the server took a write but stores something else than was sent
    (a wrong guess about the API); apply starts nothing more."""


class GuardError(PisyncError):
    exit_code = 4


class StalePlanError(PisyncError):
    exit_code = 5


class ApplyFailed(PisyncError):
    exit_code = 6
