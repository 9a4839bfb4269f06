"""Turn one user's claims from ``pisync claims`` into a signed JWT, as an identity provider's
sign-in hook would, for Panintelligence's JWT login path.

    make_jwt.py CLAIMS_FILE USERCODE [--alg HS256|RS256] [--lifetime SECONDS]

The key comes from the environment, never from the command line (where other users and
shell history see it):

- HS256: the shared secret in ``PISYNC_JWT_SECRET``;
- RS256: the PEM private key in ``PISYNC_JWT_PRIVATE_KEY``, or in the file that
  ``PISYNC_JWT_PRIVATE_KEY_FILE`` names. Panintelligence checks it with the public key
  uploaded on its admin screen.

The token holds the usercode claim, the email claim (when the user has an email), the payload
claim, and ``iat``/``exp`` (a short lifetime: it is used once, to sign in). It is printed on
stdout. Bad input exits 2 with one line on stderr. Needs PyJWT (``pyjwt[crypto]`` for RS256).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt

ALGORITHMS = ("HS256", "RS256")
SECRET_ENV = "PISYNC_JWT_SECRET"  # noqa: S105 - the name of the variable, not a secret
PRIVATE_KEY_ENV = "PISYNC_JWT_PRIVATE_KEY"
PRIVATE_KEY_FILE_ENV = "PISYNC_JWT_PRIVATE_KEY_FILE"
#: seconds: long enough for the browser to reach Panintelligence, short if the token leaks
DEFAULT_LIFETIME = 120
FORMAT_VERSION = 1


class Refused(Exception):
    """Input this script cannot use; the message says what and how to fix it."""


def read_claims(path: Path) -> dict[str, Any]:
    """The claims document ``pisync claims --out`` wrote."""
    try:
        doc: object = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Refused(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise Refused(f"{path}: not JSON ({exc}); write it with pisync claims --out") from None
    if not (
        isinstance(doc, dict)
        and doc.get("format_version") == FORMAT_VERSION
        and isinstance(doc.get("claim"), str)
        and isinstance(doc.get("identity_claims"), dict)
        and isinstance(doc.get("users"), dict)
    ):
        raise Refused(
            f"{path}: not a claims document of format_version {FORMAT_VERSION};"
            " write it with pisync claims --out"
        )
    return doc


def token_claims(
    doc: Mapping[str, Any], usercode: str, *, now: int, lifetime: int
) -> dict[str, Any]:
    """The JWT's claims for ``usercode`` (any case): identity, payload, issued and expiry."""
    users: Mapping[str, Any] = doc["users"]
    user = users.get(usercode.upper())
    if user is None:
        known = ", ".join(sorted(users)[:10]) + (", ..." if len(users) > 10 else "")
        raise Refused(f"no user {usercode.upper()} in the claims (it has {known or 'none'})")
    names: Mapping[str, str] = doc["identity_claims"]
    claims: dict[str, Any] = {names["usercode_claim"]: user["usercode_claim"]}
    if user["email_claim"] is not None:
        claims[names["email_claim"]] = user["email_claim"]
    claims[doc["claim"]] = user["userSyncPayload"]
    claims["iat"] = now
    claims["exp"] = now + lifetime
    return claims


def signing_key(algorithm: str, env: Mapping[str, str]) -> str:
    """The key ``algorithm`` signs with, from the environment."""
    if algorithm == "HS256":
        secret = env.get(SECRET_ENV)
        if not secret:
            raise Refused(f"HS256 needs the shared secret in {SECRET_ENV}")
        return secret
    pem = env.get(PRIVATE_KEY_ENV)
    if not pem and env.get(PRIVATE_KEY_FILE_ENV):
        try:
            pem = Path(env[PRIVATE_KEY_FILE_ENV]).read_text(encoding="utf-8")
        except OSError as exc:
            raise Refused(
                f"{PRIVATE_KEY_FILE_ENV}: cannot read it: {exc.strerror or exc}"
            ) from None
    if not pem:
        raise Refused(
            f"RS256 needs the PEM private key in {PRIVATE_KEY_ENV}, or its path in"
            f" {PRIVATE_KEY_FILE_ENV}"
        )
    return pem


def make_jwt(
    doc: Mapping[str, Any],
    usercode: str,
    *,
    algorithm: str,
    key: str,
    now: int | None = None,
    lifetime: int = DEFAULT_LIFETIME,
) -> str:
    """The signed JWT for one user of the claims document."""
    claims = token_claims(
        doc, usercode, now=int(time.time()) if now is None else now, lifetime=lifetime
    )
    try:
        return jwt.encode(claims, key, algorithm=algorithm)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:  # e.g. a PEM that is not a key
        raise Refused(f"cannot sign with {algorithm}: {exc}") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("claims", type=Path, help="the file pisync claims --out wrote")
    parser.add_argument("usercode", help="the user signing in")
    parser.add_argument("--alg", choices=ALGORITHMS, default="HS256", help="default HS256")
    parser.add_argument(
        "--lifetime",
        type=int,
        default=DEFAULT_LIFETIME,
        help=f"seconds until the token expires (default {DEFAULT_LIFETIME})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.lifetime < 1:
            raise Refused("--lifetime must be at least 1 second")
        key = signing_key(args.alg, os.environ if env is None else env)
        doc = read_claims(args.claims)
        print(make_jwt(doc, args.usercode, algorithm=args.alg, key=key, lifetime=args.lifetime))
    except Refused as exc:
        print(f"make_jwt.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
