"""``pisync claims`` through the real CLI: its output pinned by golden files, secrets never
printed unless asked, its errors; and the two sync paths proved equal on real emulators.

Refresh the golden files on purpose only: ``make golden``, then review the diff.
"""

from __future__ import annotations

import importlib.util
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.schemas import load_schema
from tests.core.conftest import golden
from tests.e2e.conftest import ROOT, SECRET, Emulator, pisync

__all__ = ["golden"]  # the fixture, shared with the renderer tests

pytestmark = pytest.mark.e2e

JWT_SECRET = "claims-e2e-hs256-secret-0123456789abcdef"
JWT_SECRET_ENV = "PI_CLAIMS_E2E_JWT_SECRET"
NO_SERVER = ("PISYNC_USERNAME", "PISYNC_PASSWORD", "PISYNC_TOKEN", "PISYNC_URL")
LCHEN_LEFT_OUT = (
    "users/finance.yaml:31:5: {severity}: user LCHEN: secure variable warehousePassword is left"
    " out of its claim (a JWT is signed, not encrypted), so a sign-in would remove it from the"
    " user; --include-secure puts secure variables in (at LCHEN.variables)"
)
WARN_LCHEN = LCHEN_LEFT_OUT.format(severity="warning") + "\n"
OFFLINE = ["--offline", "--allow-incomplete"]


def warn_login(code: str) -> str:
    return (
        f"warning: user {code}: a sign-in through the identity provider sets login.password:"
        " false whatever the claim says, and the next plan would change it back; if the user"
        " signs in that way, add it to users.login_via_idp in pisync.yaml\n"
    )


def load_recipe() -> ModuleType:
    """examples/jwt/make_jwt.py, the recipe an identity provider's hook follows."""
    path = ROOT / "examples" / "jwt" / "make_jwt.py"
    spec = importlib.util.spec_from_file_location("make_jwt", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_schema(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    assert list(Draft202012Validator(load_schema("claims")).iter_errors(doc)) == []
    return doc


# --- offline: the output, pinned ------------------------------------------------------------


def test_claims_of_the_examples_offline(
    example_repo: Path, golden: Callable[[str, str], None]
) -> None:
    # no server and no credentials: nothing is read but the files
    r = pisync(["claims", *OFFLINE], cwd=example_repo, unset=NO_SERVER)
    assert r.code == 0, r.all
    golden("claims_examples.json", r.out)
    assert r.err.startswith(warn_login("DPATEL") + warn_login("RBROWN"))
    assert WARN_LCHEN in r.err
    doc = check_schema(r.out)
    declared = sorted(
        code.upper()
        for f in (example_repo / "users").glob("*.yaml")
        for code in _usercodes(f.read_text(encoding="utf-8"))
    )
    assert sorted(doc["users"]) == declared
    assert len(declared) == 20


def _usercodes(text: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if "- usercode:" in line]


def test_claims_of_chosen_users_with_secure_values(
    example_repo: Path, golden: Callable[[str, str], None]
) -> None:
    r = pisync(
        ["claims", "users/finance.yaml", "--target", "lchen", "--include-secure", *OFFLINE],
        cwd=example_repo,
        unset=NO_SERVER,
    )
    assert r.code == 0, r.all
    golden("claims_lchen_secure.json", r.out)
    assert "warehousePassword" not in r.err  # with the values in, nothing is left out
    doc = check_schema(r.out)
    assert list(doc["users"]) == ["LCHEN"]
    assert doc["warning"].startswith("This file holds the values of secure variables.")
    assert SECRET in r.out  # asked for


def test_live_claims_merge_over_the_live_payloads(
    emulator_factory: Callable[..., Emulator],
    example_repo: Path,
    example_seed: dict[str, Any],
    golden: Callable[[str, str], None],
) -> None:
    emu = emulator_factory(example_seed)
    # BWONG is on the server (its live payload is the base: live fields kept, restrictions
    # replaced); LCHEN is new (defaults:, then the server's, and Forecasts' parent Finance)
    r = pisync(
        ["claims", "--live", "--target", "bwong", "--target", "lchen", "--allow-incomplete"],
        cwd=example_repo,
        url=emu.url,
    )
    assert r.code == 0, r.all
    golden("claims_live.json", r.out)
    check_schema(r.out)
    assert r.err == WARN_LCHEN
    # read only: the one POST is the sign-in
    assert [(e["method"], e["path"]) for e in emu.requests() if e["method"] != "GET"] == [
        ("POST", "/pi/api/v2/tokens")
    ]


def test_login_via_idp_users_are_rendered_with_the_forced_login(example_repo: Path) -> None:
    add_to_config(example_repo, '  login_via_idp: ["RBROWN"]\n')
    r = pisync(["claims", "--target", "rbrown", *OFFLINE], cwd=example_repo, unset=NO_SERVER)
    assert r.code == 0, r.all
    user = json.loads(r.out)["users"]["RBROWN"]["userSyncPayload"][0]["user"]
    assert (user["allowPasswordLogin"], user["allowExternalLogin"]) == (False, True)
    # the entry's login.password: true is warned about at its key, as validate says it
    assert r.err.splitlines(keepends=True)[0] == (
        "users/finance.yaml:45:13: warning: user RBROWN signs in through the identity provider"
        " (users.login_via_idp), which sets login.password: false and login.external: true at"
        " each sign-in, so pisync plans those; remove login.password: true, or take the user"
        " out of users.login_via_idp (at users[4].login.password)\n"
    )


def test_out_writes_the_file_and_says_so(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "ci" / "claims.json"
    r = pisync(["claims", "--out", str(out), *OFFLINE], cwd=example_repo, unset=NO_SERVER)
    assert r.code == 0, r.all
    assert r.out == f"Wrote the claims of 20 users to {out}.\n"
    assert out.read_text(encoding="utf-8") == pisync(["claims", *OFFLINE], cwd=example_repo).out
    assert [p.name for p in out.parent.iterdir()] == ["claims.json"]  # no temp file left


@pytest.mark.parametrize(
    ("args", "code", "stdout", "stderr"),
    [
        (
            ["--target", "lchenn", "--target", "nobody"],
            3,
            'error: --target lchenn: no declared user has this usercode; did you mean "LCHEN"?\n'
            "error: --target nobody: no declared user has this usercode\n"
            "2 errors; nothing was planned or applied.\n",
            "",
        ),
        (
            [],
            64,
            "",
            "Error: no server URL: pass --url, set PISYNC_URL, or set server.url in pisync.yaml\n",
        ),
        (["nowhere/"], 64, "", "Error: nowhere/: no such file or folder\n"),
    ],
)
def test_bad_input_is_one_clear_line(
    example_repo: Path, args: list[str], code: int, stdout: str, stderr: str
) -> None:
    offline = ["--offline"] if args and args[0] == "--target" else []
    r = pisync(["claims", *args, *offline], cwd=example_repo, unset=NO_SERVER)
    assert (r.code, r.out, r.err) == (code, stdout, stderr)


def test_an_out_file_that_cannot_be_written(example_repo: Path) -> None:
    (example_repo / "taken").write_text("a file, not a folder", encoding="utf-8")
    r = pisync(
        ["claims", "--target", "ashah", "--out", "taken/claims.json", *OFFLINE],
        cwd=example_repo,
        unset=NO_SERVER,
    )
    assert r.code == 64
    assert r.out == ""
    assert r.err.splitlines()[-1] == (
        "Error: cannot write the claims to taken/claims.json: taken is a file, not a folder"
    )


def test_secure_values_are_read_only_when_asked_for(example_repo: Path) -> None:
    # without --include-secure the secret is not needed at all ...
    r = pisync(["claims", *OFFLINE], cwd=example_repo, unset=("FINANCE_DB_PASSWORD", *NO_SERVER))
    assert r.code == 0, r.all
    # ... with it, a missing one is named at the entry that reads it
    r = pisync(
        ["claims", "--include-secure", *OFFLINE],
        cwd=example_repo,
        unset=("FINANCE_DB_PASSWORD", *NO_SERVER),
    )
    assert (r.code, r.err) == (3, "")
    assert r.out == (
        "users/finance.yaml:31:5: error: user LCHEN: variable warehousePassword reads environment"
        " variable FINANCE_DB_PASSWORD, which is not set; set it where pisync runs (at"
        " users[LCHEN].variables.warehousePassword)\n"
        "1 error; nothing was planned or applied.\n"
    )


def test_no_secure_value_in_any_output_or_file_unless_asked(
    emulator_factory: Callable[..., Emulator],
    example_repo: Path,
    example_seed: dict[str, Any],
    tmp_path: Path,
) -> None:
    emu = emulator_factory(example_seed)
    # the live server holds the secret too: --live must leave the live value out as well
    assert pisync(["apply", "--auto-approve"], cwd=example_repo, url=emu.url).code == 0
    files = [tmp_path / f"claims-{i}.json" for i in range(2)]
    more = ["--allow-incomplete"]
    runs = [
        pisync(["claims", *OFFLINE], cwd=example_repo),
        pisync(["-vv", "claims", "--out", str(files[0]), *OFFLINE], cwd=example_repo),
        pisync(["-vv", "claims", *more], cwd=example_repo, url=emu.url),
        pisync(["-vv", "claims", "--out", str(files[1]), *more], cwd=example_repo, url=emu.url),
    ]
    assert [r.code for r in runs] == [0, 0, 0, 0], [r.all for r in runs]
    for text in [r.all for r in runs] + [f.read_text(encoding="utf-8") for f in files]:
        assert SECRET not in text
    reads = re.findall(r"^GET /users/syncPayload\?usercode=(\S+) -> 200 ", runs[2].err, re.M)
    assert len(reads) == len(set(reads)) == 20  # -vv: one read per user, its query shown
    assert WARN_LCHEN in runs[3].err
    secure = pisync(["claims", "--include-secure"], cwd=example_repo, url=emu.url)
    assert secure.code == 0, secure.all
    assert SECRET in secure.out
    assert SECRET not in secure.err


# --- a claim that would wipe live data is never handed over --------------------------------


def test_offline_claims_that_cannot_be_complete_are_errors_per_user_and_key(
    example_repo: Path,
) -> None:
    r = pisync(
        ["claims", "--offline", "--target", "ashah", "--target", "lchen"],
        cwd=example_repo,
        unset=NO_SERVER,
    )
    assert r.code == 3, r.all
    assert r.err == ""
    assert r.out.splitlines() == [
        "users/finance.yaml:3:5: error: user ASHAH: offline, its claim sets enabled, lite,"
        " organisation, theme, expires, login.mfa, restrictions to what the server gives a new"
        " user: if the user exists, a sign-in replaces its live values; declare them, or leave"
        " out --offline (pisync then reads the live ones) (at ASHAH)",
        "users/finance.yaml:9:5: error: user ASHAH: offline, the parents of its categories are"
        " not known, and the server refuses a sign-in whose categories lack their parents;"
        " leave out --offline (pisync then reads the category tree) (at ASHAH.categories)",
        "users/finance.yaml:22:5: error: user LCHEN: offline, its claim sets enabled, lite,"
        " organisation, theme, expires, login.mfa, restrictions to what the server gives a new"
        " user: if the user exists, a sign-in replaces its live values; declare them, or leave"
        " out --offline (pisync then reads the live ones) (at LCHEN)",
        "users/finance.yaml:29:5: error: user LCHEN: offline, the parents of its categories are"
        " not known, and the server refuses a sign-in whose categories lack their parents;"
        " leave out --offline (pisync then reads the category tree) (at LCHEN.categories)",
        LCHEN_LEFT_OUT.format(severity="error"),
        "5 errors; nothing was planned or applied.",
    ]


def test_live_claims_keep_the_live_variables_and_the_category_parents(
    emulator_factory: Callable[..., Emulator],
    example_repo: Path,
    example_seed: dict[str, Any],
) -> None:
    """The two cases the server would refuse or that would wipe live data, by default: a
    nested category gets its parent from the live tree, and a user whose entry omits
    ``variables`` keeps its live ones."""
    emu = emulator_factory(example_seed)
    emu.api(
        "POST",
        "/users/sync",
        [{"user": {"usercode": "BWONG"}, "variables": [{"name": "desk", "value": "B12"}],
          "userRoles": [{"roleIdentifier": "Sales Viewer"}]}],
    )  # fmt: skip
    r = pisync(["claims", "--target", "bwong", "--target", "ashah"], cwd=example_repo, url=emu.url)
    assert r.code == 0, r.all
    users = json.loads(r.out)["users"]
    bwong = users["BWONG"]["userSyncPayload"][0]
    assert bwong["variables"] == [{"name": "desk", "value": "B12", "isSecure": False}]
    ashah = users["ASHAH"]["userSyncPayload"][0]
    names = sorted(c["categoryIdentifier"] for c in ashah["userCategories"])
    assert "Finance" in names  # the parent the entry does not list
    # and the server takes it, as a sign-in would (once the repository's roles exist)
    emu.api("POST", "/roles", {"name": "Finance Viewer"})
    (stored,) = emu.api("POST", "/users/sync", [ashah])
    assert sorted(c["categoryIdentifier"] for c in stored["userCategories"]) == names


# --- the two sync paths, on real servers ----------------------------------------------------


def add_to_config(repo: Path, users_lines: str) -> None:
    config = repo / "pisync.yaml"
    text = config.read_text(encoding="utf-8")
    anchor = '  ignore: ["SVC_*"]        # service accounts are managed elsewhere\n'
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + users_lines), encoding="utf-8")


def jwt_login(emu: Emulator, token: str) -> int:
    request = urllib.request.Request(
        f"{emu.base}/pi/auth/jwtLogin",
        data=json.dumps({"jwt": token}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def parents_first(doc: dict[str, Any]) -> list[str]:
    """The users in an order that signs a new parent in before the users below it."""
    users, order, seen = doc["users"], [], set()

    def visit(code: str) -> None:
        if code not in seen:
            seen.add(code)
            parent = users[code]["userSyncPayload"][0]["user"].get("parentIdentifier")
            if parent in users:
                visit(parent)
            order.append(code)

    for code in sorted(users):
        visit(code)
    return order


def payload(emu: Emulator, code: str) -> Any:
    """A user's payload without ``parentId``: ids follow creation order, which differs between
    the paths (apply creates users concurrently); the parent is compared by usercode. Its
    sets (roles, categories, variables) in one order: apply writes only what changes, so a
    set that already matched keeps the order the server had; a claim sends it as declared."""
    (element,) = emu.api("GET", f"/users/syncPayload?usercode={code}")
    element["user"].pop("parentId")
    for key in ("userRoles", "userCategories", "variables", "restrictions"):
        element[key] = sorted(element.get(key) or (), key=lambda v: json.dumps(v, sort_keys=True))
    return element


def test_both_sync_paths_leave_the_server_in_the_same_state(
    emulator_factory: Callable[..., Emulator],
    example_repo: Path,
    example_seed: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The example organisation as a team whose people all sign in through the IdP runs it:
    # - login_via_idp: ["*"]: the JWT path forces password login off and external login on
    #   for every user it syncs, so apply must plan the same flags for the paths to agree
    #   (the examples themselves keep password login for DPATEL and RBROWN, as a team with
    #   both kinds of sign-in would);
    # - prune: off: a sign-in creates and updates, it never prunes, so pruning (apply's
    #   alone) is left out of what is compared.
    add_to_config(example_repo, '  login_via_idp: ["*"]\n')
    config = example_repo / "pisync.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("prune: disable", "prune: off"),
        encoding="utf-8",
    )
    monkeypatch.setenv(JWT_SECRET_ENV, JWT_SECRET)
    api_path = emulator_factory(example_seed)
    jwt_path = emulator_factory(example_seed, "--jwt-hs256-secret-env", JWT_SECRET_ENV)

    applied = pisync(["apply", "--auto-approve"], cwd=example_repo, url=api_path.url)
    assert applied.code == 0, applied.all

    # the JWT path: roles first (a sign-in assigns roles, it never creates one), a partial
    # apply of the roles file; then the claims as CI renders them, one sign-in per user
    roles = pisync(
        ["apply", "--auto-approve", "users/roles.yaml"], cwd=example_repo, url=jwt_path.url
    )
    assert roles.code == 0, roles.all
    assert "  + user " not in roles.out
    claims_file = tmp_path / "claims.json"
    rendered = pisync(
        # --include-secure: without it LCHEN's secure variable is left out, and a sign-in,
        # being a sync, removes it (test_no_secure_value… shows it is left out by default)
        ["claims", "--live", "--include-secure", "--out", str(claims_file)],
        cwd=example_repo,
        url=jwt_path.url,
    )
    assert rendered.code == 0, rendered.all
    doc = check_schema(claims_file.read_text(encoding="utf-8"))
    declared = sorted(doc["users"])
    assert len(declared) == 20
    recipe = load_recipe()
    statuses = {
        code: jwt_login(jwt_path, recipe.make_jwt(doc, code, algorithm="HS256", key=JWT_SECRET))
        for code in parents_first(doc)
    }
    # disabled users (TNGUYEN's entry says so; EMURPHY's keeps the server's "disabled"): the
    # emulator syncs the claim, then refuses the sign-in
    disabled = {"EMURPHY", "TNGUYEN"}
    assert statuses == {code: 401 if code in disabled else 200 for code in declared}

    seeded = sorted(u["user"]["usercode"] for u in example_seed["users"])
    for code in sorted({*declared, *seeded}):
        assert payload(jwt_path, code) == payload(api_path, code), code
    for emu in (api_path, jwt_path):
        again = pisync(["plan", "--detailed-exitcode"], cwd=example_repo, url=emu.url)
        assert again.code == 0, again.all
        assert "No changes. Panintelligence matches the desired state." in again.out
