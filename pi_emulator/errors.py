"""The one error type the emulator's pure code raises.

``ApiError`` carries the HTTP status and the human message that the app layer sends as
``{"message": ...}``. The store, the sync validator and the query parser raise it; only
``app.py`` turns it into a response.
"""

from __future__ import annotations


class ApiError(Exception):
    """A request the emulator refuses, with the status and message to answer it with."""

    def __init__(self, status: int, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: why, precisely, when ``message`` is deliberately generic: for the request log only
        self.detail = detail


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)
