"""Authentication: Basic credentials for ``POST /tokens``, Bearer tokens for everything else.

* Basic [C] (S4): ``Basic base64(user:pass)`` or clear-text ``Basic user:pass``. A colon can
  never occur in base64, so its presence tells the two forms apart. Scheme keywords match
  case-insensitively [I].
* Tokens [G]: opaque random strings; they expire ``token_ttl`` seconds after their last use
  (``sliding``, so ``keepAlive`` and every call extend them) or after issue (``absolute``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from pi_emulator.errors import unauthorized
from pi_emulator.model import UserRecord
from pi_emulator.store import Store

BAD_CREDENTIALS = "invalid usercode or password"
_MAX_SESSIONS = 50_000


@dataclass(slots=True, kw_only=True)
class Session:
    token: str
    user_id: int
    usercode: str
    issued: float
    last_used: float


def credentials(header: str | None, scheme: str) -> str:
    """The credentials part of an ``Authorization`` header with the given scheme."""
    if header is None or header.strip() == "":
        raise unauthorized(f"missing Authorization header: send Authorization: {scheme} ...")
    keyword, _, rest = header.strip().partition(" ")
    if keyword.lower() != scheme.lower() or rest.strip() == "":
        raise unauthorized(f"the Authorization header must use the {scheme} scheme")
    return rest.strip()


def parse_basic(header: str | None) -> tuple[str, str]:
    """``(usercode, password)`` from a Basic header in either accepted form."""
    value = credentials(header, "Basic")
    if ":" not in value:
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized(
                "Basic credentials must be base64(usercode:password) or usercode:password"
            ) from None
    usercode, sep, password = value.partition(":")
    if not sep or usercode == "":
        raise unauthorized(
            "Basic credentials must be base64(usercode:password) or usercode:password"
        )
    return usercode, password


def check_login(store: Store, usercode: str, password: str, today: dt.date) -> UserRecord:
    """The user these credentials sign in as, or 401 naming why not."""
    user = store.user_by_code(usercode)
    if user is None or not store.check_password(user, password):
        if user is not None and not user.fields["allowPasswordLogin"]:
            raise unauthorized(f"password login is not allowed for user {user.usercode}")
        raise unauthorized(BAD_CREDENTIALS)
    return check_active(user, today)


def check_active(user: UserRecord, today: dt.date) -> UserRecord:
    if not user.fields["clientEnabled"]:
        raise unauthorized(f"user {user.usercode} is disabled")
    expires = user.fields["userExpirationDate"]
    if expires is not None and dt.date.fromisoformat(expires) < today:
        raise unauthorized(f"user {user.usercode} expired on {expires}")
    return user


class Sessions:
    """Issued tokens. ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def issue(self, user: UserRecord) -> str:
        if len(self._sessions) >= _MAX_SESSIONS:  # forget the oldest tenth
            for old in list(self._sessions)[: _MAX_SESSIONS // 10]:
                del self._sessions[old]
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self._sessions[token] = Session(
            token=token, user_id=user.id, usercode=user.usercode, issued=now, last_used=now
        )
        return token

    def resolve(self, header: str | None, ttl: float | None, sliding: bool) -> Session:
        """The live session a Bearer header names; refreshes it when ``sliding``."""
        token = credentials(header, "Bearer")
        session = self._sessions.get(token)
        if session is None:
            raise unauthorized("invalid token: sign in again with POST /tokens")
        now = self.clock()
        start = session.last_used if sliding else session.issued
        if ttl is not None and ttl > 0 and now - start > ttl:
            raise unauthorized("token expired: sign in again with POST /tokens")
        session.last_used = now
        return session

    def invalidate(self, token: str) -> None:
        self._sessions.pop(token, None)
