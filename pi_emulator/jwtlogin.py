"""The JWT login path (reference §1.1, §1.6, §3.1): ``POST /pi/auth/jwtLogin``, ``GET /pi/?jwt=``.

A JWT signed with RS256/RS384/RS512 (the key given at start-up, as the real product) or, for
tests and simple identity-provider hooks, HS256 (a shared secret) signs a user in. Its claims:

* ``…/claims/usercode`` identifies the user; without it, ``…/claims/email`` does (S6, S10);
* ``…/claims/userSyncPayload`` (optional) is a sync payload array of one element: the user is
  created or updated from it exactly as ``POST /users/sync`` does (system actor), except that
  ``allowPasswordLogin`` is forced false and ``allowExternalLogin`` true (S2). The identifying
  claim must equal the payload's usercode (or email), so a payload cannot rename a user.

Every refusal is the same generic 401 to the client (S2: "the JWT path shows only a generic
login error"); ``LoginRefused.reason`` says precisely why, for the request log only.
``exp``, ``nbf`` and ``iat`` are checked when present; ``aud`` is not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pi_emulator.auth import check_active
from pi_emulator.errors import ApiError
from pi_emulator.model import UserRecord
from pi_emulator.shapes import ShapeConfig
from pi_emulator.store import Store
from pi_emulator.wire import SUPER_ADMIN_ID, describe
from pi_emulator.writes import sync_users

CLAIMS = "https://www.panintelligence.com/claims/"
USERCODE_CLAIM = CLAIMS + "usercode"
EMAIL_CLAIM = CLAIMS + "email"
PAYLOAD_CLAIM = CLAIMS + "userSyncPayload"
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
LOGIN_FAILED = "JWT login failed"
NOT_CONFIGURED = (
    "JWT login is not configured (start with --jwt-public-key or --jwt-hs256-secret-env)"
)
_PEM_HEADER = b"-----BEGIN PUBLIC KEY-----"


class LoginRefused(Exception):
    """A JWT login that does not succeed; ``reason`` is for the log, never for the client."""

    def __init__(self, reason: str, usercode: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usercode = usercode


@dataclass(frozen=True, slots=True, kw_only=True)
class JwtKeys:
    """The keys JWT logins are checked against: an RSA public key, an HS256 secret, or both."""

    public_key: RSAPublicKey | None = None
    hs256_secret: str | None = field(default=None, repr=False)

    @staticmethod
    def load_public_key(data: bytes) -> RSAPublicKey:
        """An RSA public key from PEM, also with its header and footer stripped (as the
        product's admin screen takes it); ValueError if it is not one."""
        if _PEM_HEADER not in data:
            body = b"".join(data.split())
            data = b"%s\n%s\n-----END PUBLIC KEY-----\n" % (_PEM_HEADER, body)
        try:
            key = load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError("not a PEM public key") from None
        if not isinstance(key, RSAPublicKey):
            raise ValueError("not an RSA public key (JWT login uses RS256, RS384 or RS512)")
        return key

    @property
    def algorithms(self) -> tuple[str, ...]:
        rsa = RSA_ALGORITHMS if self.public_key is not None else ()
        return rsa + (("HS256",) if self.hs256_secret else ())

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a JWT whose signature and times check out, else LoginRefused."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise LoginRefused(f"the JWT is malformed: {exc}") from None
        key: RSAPublicKey | str | None = None
        if algorithm in RSA_ALGORITHMS:
            key = self.public_key
        elif algorithm == "HS256":
            key = self.hs256_secret
        if key is None:
            accepted = ", ".join(self.algorithms)
            raise LoginRefused(f"JWT algorithm {describe(algorithm)} is not accepted ({accepted})")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[str(algorithm)], options={"verify_aud": False}
            )
        except jwt.ExpiredSignatureError:
            raise LoginRefused("the JWT has expired (exp)") from None
        except jwt.ImmatureSignatureError as exc:
            raise LoginRefused(f"the JWT is not valid yet: {exc}") from None
        except jwt.InvalidSignatureError:
            raise LoginRefused("the JWT signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise LoginRefused(f"the JWT is invalid: {exc}") from None
        return claims


def sign_in(
    store: Store, claims: Mapping[str, Any], today: dt.date, shape: ShapeConfig
) -> UserRecord:
    """The user these verified claims sign in as, created or updated from their payload
    (as ``POST /users/sync`` would store it on a server of this ``shape``)."""
    usercode, email = _text(claims.get(USERCODE_CLAIM)), _text(claims.get(EMAIL_CLAIM))
    if PAYLOAD_CLAIM in claims:
        user = _sync(store, claims[PAYLOAD_CLAIM], usercode, email, shape)
    elif usercode is not None:
        user = _by_usercode(store, usercode)
    elif email is not None:
        user = _by_email(store, email)
    else:
        raise LoginRefused("the JWT has neither a usercode nor an email claim")
    if not user.fields["allowExternalLogin"]:
        raise LoginRefused(f"user {user.usercode} does not allow external login", user.usercode)
    try:
        return check_active(user, today)
    except ApiError as exc:
        raise LoginRefused(exc.message, user.usercode) from None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() != "" else None


def _by_usercode(store: Store, usercode: str) -> UserRecord:
    user = store.user_by_code(usercode)
    if user is None:
        raise LoginRefused(f'no user has usercode "{usercode}"', usercode.upper())
    return user


def _by_email(store: Store, email: str) -> UserRecord:
    wanted = email.casefold()
    found = [u for u in store.iter_users() if (u.fields["email"] or "").casefold() == wanted]
    if len(found) != 1:
        many = f"{len(found)} users have" if found else "no user has"
        raise LoginRefused(f'{many} email "{email}"')
    return found[0]


def _sync(
    store: Store, payload: object, usercode: str | None, email: str | None, shape: ShapeConfig
) -> UserRecord:
    """Create or update the user from the payload claim, as ``POST /users/sync`` would."""
    if usercode is None and email is None:
        raise LoginRefused("the JWT has neither a usercode nor an email claim")
    if not isinstance(payload, list) or len(payload) != 1 or not isinstance(payload[0], dict):
        raise LoginRefused(
            f"the userSyncPayload claim must be an array of one payload element, "
            f"got {describe(payload)}"
        )
    element: dict[str, Any] = payload[0]
    user = element.get("user")
    if not isinstance(user, dict):
        raise LoginRefused('the userSyncPayload element must have a "user" object')
    code = user.get("usercode")
    shown = code.upper() if isinstance(code, str) else None
    if usercode is not None:
        if not isinstance(code, str) or code.upper() != usercode.upper():
            raise LoginRefused(
                f'the usercode claim "{usercode}" does not match the payload usercode '
                f"{describe(code)}",
                usercode.upper(),
            )
    elif email is not None:
        given = user.get("email")
        if not isinstance(given, str) or given.casefold() != email.casefold():
            raise LoginRefused(
                f'the email claim "{email}" does not match the payload email {describe(given)}',
                shown,
            )
    forced = {**user, "allowPasswordLogin": False, "allowExternalLogin": True}
    try:
        admin = store.users[SUPER_ADMIN_ID]
        records = sync_users(store, admin, [{**element, "user": forced}], shape)
    except ApiError as exc:
        raise LoginRefused(f"the userSyncPayload claim was refused: {exc.message}", shown) from None
    return records[0]
