"""The JWT login path's claims (reference §1.6, §3.1): the ``userSyncPayload`` claim value of
each declared user, built by the code that builds apply's payloads (:func:`wire.sync_element`).

Panintelligence syncs a user from the payload claim of the JWT the user signs in with, exactly
as ``POST /users/sync`` does, and just as non-additively: what the payload leaves out is
removed. So a claim holds the complete payload, merged the way apply merges it:

- a user the server has (``base``, its live payload, read by ``pisync claims --live``): the
  live payload with the managed fields overlaid, which is what apply sends;
- any other user: the managed fields, then ``defaults:`` of ``pisync.yaml``, then what the
  server gives a new user (:data:`wire.NEW_USER_DEFAULTS`) for the rest, written out because
  the claim is sent at every sign-in, not once.

A JWT is signed, not encrypted, and passes through the browser, so secure variables are left
out unless asked for (their names are reported; a sign-in with such a claim removes them from
the user, as any sync would). The identity claims carry the usercode (upper case, as the server
stores it) and the email; the server requires them to equal the payload's (reference S2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.plans.values import desired_json
from reconciler.pi import wire

CLAIM_NAMESPACE = "https://www.panintelligence.com/claims/"
USERCODE_CLAIM = CLAIM_NAMESPACE + "usercode"
EMAIL_CLAIM = CLAIM_NAMESPACE + "email"
PAYLOAD_CLAIM = CLAIM_NAMESPACE + "userSyncPayload"

#: The version of the claims document (``schemas/claims.schema.json``).
FORMAT_VERSION = 1

#: The document's top-level ``warning`` when it holds secure values (``--include-secure``).
SECURE_WARNING = (
    "This file holds the values of secure variables. A JWT is signed, not encrypted: whoever"
    " sees a token made from it (the browser, its history, a proxy, a log) can read every"
    " value in it. Keep this file and its tokens as secret as the values themselves, or leave"
    " secure variables out (the default) and set them another way."
)

#: The sections of a payload element, in the order a claim lists them (reference §3.2).
SECTIONS = ("user", "variables", "restrictions", "userRoles", "userCategories")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserClaims:
    """One user's claims, and what the command should say about them."""

    usercode: str  # upper case: the usercode claim
    email: str | None  # the email claim
    element: dict[str, Any]  # the one element of the payload claim
    #: secure variables left out of the claim (names, sorted)
    left_out: tuple[str, ...] = ()
    #: login fields whose value an identity-provider sign-in overrides (``login.password``…)
    overridden: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "usercode_claim": self.usercode,
            "email_claim": self.email,
            "userSyncPayload": [self.element],
        }


def claim_fields(
    fields: Mapping[str, Any], *, exists: bool, defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """The canonical fields a claim's payload sets: the managed ``fields`` for a user the
    server has (its live payload is the base), else the new-user merge (module docstring)."""
    if exists:
        return dict(fields)
    return {**wire.NEW_USER_DEFAULTS, **defaults, **fields}


def user_claims(
    usercode: str,
    fields: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    *,
    secrets: Mapping[str, str],
    include_secure: bool,
) -> UserClaims:
    """The claims of one user from its canonical ``fields`` (:func:`claim_fields`) over the
    live payload ``base`` (None: none read). ``secrets`` resolves ``{env: NAME}`` variables;
    without ``include_secure`` the secure ones need no value: they are left out."""
    managed = dict(fields)
    left_out: set[str] = set()
    if not include_secure and "variables" in managed:
        left_out.update(v.name for v in managed["variables"] if v.secure)
        managed["variables"] = tuple(v for v in managed["variables"] if not v.secure)
    element = wire.sync_element(base, usercode, desired_json(managed), secrets)
    if not include_secure:  # the live payload's own secure values, too
        variables = list(element.get("variables") or ())
        left_out.update(str(v.get("name")) for v in variables if v.get("isSecure") is True)
        element["variables"] = [v for v in variables if v.get("isSecure") is not True]
    user = element["user"]
    overridden = []
    if user.get("allowPasswordLogin") is True:
        overridden.append("login.password")
    if user.get("allowExternalLogin") is False:
        overridden.append("login.external")
    email = user.get("email")
    return UserClaims(
        usercode=usercode,
        email=email if isinstance(email, str) and email else None,
        element=_ordered(element),
        left_out=tuple(sorted(left_out)),
        overridden=tuple(overridden),
    )


def _ordered(element: Mapping[str, Any]) -> dict[str, Any]:
    """The element in a stable key order whatever its base: the sections as :data:`SECTIONS`
    lists them (any other after, by name), the ``user`` fields by name."""
    keys = [k for k in SECTIONS if k in element] + sorted(k for k in element if k not in SECTIONS)
    out = {k: element[k] for k in keys}
    out["user"] = dict(sorted(dict(element["user"]).items()))
    return out


def document(users: Iterable[UserClaims], *, include_secure: bool) -> dict[str, Any]:
    """The claims document (``schemas/claims.schema.json``), users by usercode."""
    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "claim": PAYLOAD_CLAIM,
        "identity_claims": {"usercode_claim": USERCODE_CLAIM, "email_claim": EMAIL_CLAIM},
    }
    if include_secure:
        doc["warning"] = SECURE_WARNING
    doc["users"] = {u.usercode: u.to_dict() for u in sorted(users, key=lambda u: u.usercode)}
    return doc


def render(doc: Mapping[str, Any]) -> str:
    """The document as JSON text: two-space indents, keys in the order built, UTF-8 as is."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
