"""examples/jwt/make_jwt.py, the identity-provider hook recipe: the JWT it prints verifies with
the right key only, carries exactly one user's claims and a short lifetime, signs the user in
on the emulator (RS256, as the product takes it), and bad input is one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pi_emulator import Emulator, EmulatorOptions, JwtKeys, create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient prefers another httpx
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "jwt" / "make_jwt.py"
#: real `pisync claims` output of the example repository (a golden file of its tests)
CLAIMS = ROOT / "tests" / "golden" / "claims_examples.json"
SECRET = "make-jwt-test-secret-0123456789abcdef"
NS = "https://www.panintelligence.com/claims/"


def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def user_entry(code: str) -> Any:
    return json.loads(CLAIMS.read_text(encoding="utf-8"))["users"][code]


def test_hs256_carries_one_users_claims_and_a_short_lifetime() -> None:
    before = int(time.time())
    r = run(str(CLAIMS), "lchen", env={"PISYNC_JWT_SECRET": SECRET})
    assert (r.returncode, r.stderr) == (0, "")
    token = r.stdout.strip()
    assert r.stdout == token + "\n"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    entry = user_entry("LCHEN")
    assert set(claims) == {NS + "usercode", NS + "email", NS + "userSyncPayload", "iat", "exp"}
    assert claims[NS + "usercode"] == "LCHEN"
    assert claims[NS + "email"] == "li.chen@example.com"
    assert claims[NS + "userSyncPayload"] == entry["userSyncPayload"]
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 120
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_a_wrong_key_does_not_verify(private_key: rsa.RSAPrivateKey) -> None:
    hs = run(str(CLAIMS), "LCHEN", env={"PISYNC_JWT_SECRET": SECRET}).stdout.strip()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(hs, SECRET + "-not", algorithms=["HS256"])
    rs = run(
        str(CLAIMS), "LCHEN", "--alg", "RS256", env={"PISYNC_JWT_PRIVATE_KEY": pem(private_key)}
    ).stdout.strip()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(rs, other, algorithms=["RS256"])
    assert jwt.decode(rs, private_key.public_key(), algorithms=["RS256"])[NS + "usercode"] == (
        "LCHEN"
    )


def test_rs256_from_a_key_file_signs_a_user_in_on_the_emulator(
    private_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "idp-key.pem"
    key_file.write_text(pem(private_key), encoding="utf-8")
    r = run(
        str(CLAIMS),
        "jsmith",
        "--alg",
        "RS256",
        "--lifetime",
        "30",
        env={"PISYNC_JWT_PRIVATE_KEY_FILE": str(key_file)},
    )
    assert (r.returncode, r.stderr) == (0, "")
    token = r.stdout.strip()
    claims = jwt.decode(token, private_key.public_key(), algorithms=["RS256"])
    assert claims["exp"] - claims["iat"] == 30
    # the example server, with the role JSMITH's claim names (claims never create roles)
    seed = json.loads((ROOT / "examples" / "seed.json").read_text(encoding="utf-8"))
    seed["roles"].append({"name": "Finance Viewer", "categories": ["Finance"]})
    app = create_app(
        Emulator(EmulatorOptions(seed=seed, jwt=JwtKeys(public_key=private_key.public_key())))
    )
    with TestClient(app, base_url="http://pi.test") as client:
        assert client.post("/pi/auth/jwtLogin", json={"jwt": token}).status_code == 200
    user = app.emulator.store.user_by_code("JSMITH")
    assert user is not None  # created from the claim at its first sign-in
    assert user.fields["userExpirationDate"] == "2027-06-30"


def test_a_user_without_email_gets_no_email_claim(tmp_path: Path) -> None:
    doc = json.loads(CLAIMS.read_text(encoding="utf-8"))
    doc["users"]["LCHEN"]["email_claim"] = None
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    token = run(str(path), "lchen", env={"PISYNC_JWT_SECRET": SECRET}).stdout.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert NS + "email" not in claims
    assert claims[NS + "usercode"] == "LCHEN"


def test_an_expired_token_is_refused_by_the_verifier() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import make_jwt
    finally:
        sys.path.remove(str(SCRIPT.parent))
    doc = json.loads(CLAIMS.read_text(encoding="utf-8"))
    token = make_jwt.make_jwt(doc, "lchen", algorithm="HS256", key=SECRET, now=1_000, lifetime=60)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([str(CLAIMS), "lchen"], {}, "HS256 needs the shared secret in PISYNC_JWT_SECRET"),
        (
            [str(CLAIMS), "lchen", "--alg", "RS256"],
            {},
            "RS256 needs the PEM private key in PISYNC_JWT_PRIVATE_KEY, or its path in"
            " PISYNC_JWT_PRIVATE_KEY_FILE",
        ),
        (
            [str(CLAIMS), "lchen", "--alg", "RS256"],
            {"PISYNC_JWT_PRIVATE_KEY": "not a key"},
            "cannot sign with RS256: ",
        ),
        (
            [str(CLAIMS), "nobody"],
            {"PISYNC_JWT_SECRET": SECRET},
            "no user NOBODY in the claims (it has ASHAH, BWONG, CJONES, DPATEL, EMURPHY,"
            " FGARCIA, GKIM, JSMITH, KMORRIS, LCHEN, ...)",
        ),
        (
            ["/no/such/claims.json", "lchen"],
            {"PISYNC_JWT_SECRET": SECRET},
            "/no/such/claims.json: cannot read it: No such file or directory",
        ),
        (
            [str(ROOT / "Makefile"), "lchen"],
            {"PISYNC_JWT_SECRET": SECRET},
            f"{ROOT / 'Makefile'}: not JSON (Expecting value: line 1 column 1 (char 0));"
            " write it with pisync claims --out",
        ),
        (
            [str(ROOT / "schemas" / "claims.schema.json"), "lchen"],
            {"PISYNC_JWT_SECRET": SECRET},
            f"{ROOT / 'schemas' / 'claims.schema.json'}: not a claims document of"
            " format_version 1; write it with pisync claims --out",
        ),
        (
            [str(CLAIMS), "lchen", "--lifetime", "0"],
            {"PISYNC_JWT_SECRET": SECRET},
            "--lifetime must be at least 1 second",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    r = run(*args, env=env)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"make_jwt.py: {message}")
    assert r.stderr.count("\n") == 1
    assert SECRET not in r.stderr
