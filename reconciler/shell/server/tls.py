"""What a failed TLS handshake means, in words a user can act on: which certificate problem
(untrusted issuer or self-signed, another host's name, expired, not valid yet), or a port that
does not speak TLS at all. Each message names the server and what to do; none is worth a
retry (the same certificate comes back).

OpenSSL says which check failed by a verify code (``X509_V_ERR_*``, stable across versions);
the codes read here are OpenSSL's own numbers.
"""

from __future__ import annotations

import ssl
from typing import Final

from reconciler.pi.statuses import printable

_EXPIRED: Final = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID: Final = 9  # X509_V_ERR_CERT_NOT_YET_VALID
_SELF_SIGNED: Final = 18  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
_SELF_SIGNED_IN_CHAIN: Final = 19  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
_UNKNOWN_ISSUER: Final = frozenset(
    {
        2,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        20,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        21,  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    }
)
_WRONG_NAME: Final = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH

_TRUST_FIX: Final = (
    "if your own certificate authority issued it, point SSL_CERT_FILE at that authority's"
    " certificate (PEM)"
)


def certificate_problem(error: BaseException, where: str) -> str:
    """The message for a certificate the client refused (``error``: the
    ``ssl.SSLCertVerificationError``; ``where``: ``host:port``)."""
    code = getattr(error, "verify_code", None)
    said = printable(str(getattr(error, "verify_message", "") or error), 200)
    host = where.rpartition(":")[0]
    if code == _SELF_SIGNED:
        return (
            f"the TLS certificate of {where} is self-signed, so nothing vouches for it:"
            f" {_TRUST_FIX}"
        )
    if code == _SELF_SIGNED_IN_CHAIN or code in _UNKNOWN_ISSUER:
        return (
            f"the TLS certificate of {where} is issued by an authority this machine does not"
            f" trust ({said}): {_TRUST_FIX}"
        )
    if code in _WRONG_NAME:
        return (
            f"the TLS certificate of {where} is for another host name ({said.rstrip('.')}):"
            f" use the host name it was issued for in the URL, or have it reissued for {host}"
        )
    if code == _EXPIRED:
        return (
            f"the TLS certificate of {where} has expired: renew it on the server (or check"
            " this machine's clock)"
        )
    if code == _NOT_YET_VALID:
        return f"the TLS certificate of {where} is not valid yet: check this machine's clock"
    return f"the TLS certificate of {where} is refused ({said})"


def handshake_problem(error: BaseException, where: str) -> str:
    """The message for a TLS handshake that failed before any certificate was checked
    (``error``: the ``ssl.SSLError``)."""
    reason = getattr(error, "reason", None) if isinstance(error, ssl.SSLError) else None
    if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"):
        return (
            f"{where} does not speak TLS (an https:// URL to a port that serves plain HTTP?):"
            " use http:// if the server has no TLS, or the port that serves https"
        )
    said = printable(str(reason or error), 200)
    return f"the TLS handshake with {where} failed ({said}): check the URL's scheme and port"
