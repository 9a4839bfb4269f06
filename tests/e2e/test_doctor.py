"""``pisync doctor`` against real emulator processes: every assumption holds for the shapes the
reference allows, a deliberately different server is reported DIFFERENT with what to change,
and the JSON report holds no name, email or value of the server's users."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import free_port, pisync

pytestmark = pytest.mark.e2e

ALL_OK = (
    "20 OK, 0 different, 0 unknown. Every assumption holds: pisync can plan against this server."
)


def results(out: str) -> dict[str, str]:
    """check id -> result, from the text report."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("OK", "DIFFERENT", "UNKNOWN"):
            found[parts[1]] = parts[0]
    return found


@pytest.mark.parametrize(
    "args",
    [[], ["--list-shape", "bare"], ["--list-shape", "bare", "--list-paging", "off"]],
    ids=["envelope", "bare-paged", "bare-unpaged"],
)
def test_every_assumption_holds_for_the_shapes_the_reference_allows(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path, args: list[str]
) -> None:
    emu = emulator_factory(example_seed, *args)
    r = pisync(["doctor"], cwd=tmp_path, url=emu.url)
    assert r.code == 0, r.all
    assert r.out.splitlines()[0] == f"pisync doctor: {emu.url}"
    assert r.out.splitlines()[-1] == ALL_OK
    assert set(results(r.out).values()) == {"OK"}
    assert len(results(r.out)) == 20


def test_a_server_that_looks_users_up_by_id_is_reported_with_the_fix(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--sync-payload-param", "id")
    r = pisync(["doctor"], cwd=tmp_path, url=emu.url)
    assert r.code == 1, r.all
    found = results(r.out)
    assert {k for k, v in found.items() if v != "OK"} == {"sync-payload-param", "not-found"}
    lines = r.out.splitlines()
    at = lines.index(
        "DIFFERENT  sync-payload-param [U5]: GET /users/syncPayload?usercode=X answers user X"
    )
    assert lines[at + 1 : at + 3] == [
        "           server: answers usercode: no, userId: yes, id: yes",
        "           to do:  set SYNC_PAYLOAD_PARAM to 'userId' in reconciler/pi/endpoints.py (and"
        " look users up by that key)",
    ]
    # the element shapes were still read, through the parameter that works
    assert found["role-refs"] == found["variables"] == "OK"


def test_grouped_restrictions_are_a_difference_in_what_pisync_writes(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--restriction-shape", "grouped")
    r = pisync(["doctor"], cwd=tmp_path, url=emu.url)
    assert r.code == 1, r.all
    assert {k for k, v in results(r.out).items() if v != "OK"} == {"restrictions"}
    assert (
        "           server: 2 elements shaped {columnIdentifier, dataConnectionIdentifier, values}"
        in r.out.splitlines()
    )
    assert (
        "           to do:  pisync reads these but writes {columnIdentifier,"
        " dataConnectionIdentifier, value}: check that an apply followed by a plan is empty on a"
        " test user, or change _overlay in reconciler/pi/wire.py"
    ) in r.out.splitlines()


def test_the_json_report_is_safe_to_share(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(["doctor", "--format", "json"], cwd=tmp_path, url=emu.url)
    assert r.code == 0, r.all
    doc = json.loads(r.out)
    assert doc["server"] == f"http://<host>:{emu.port}/pi/api/v2"
    assert doc["passed"] is True
    assert doc["counts"] == {"OK": 20, "DIFFERENT": 0, "UNKNOWN": 0}
    assert [c["id"] for c in doc["checks"]][:3] == ["connect", "sign-in", "sign-in-clear"]
    private = {"127.0.0.1", "dashboard"}
    for element in example_seed["users"]:
        user = element["user"]
        private |= {
            str(user[k]) for k in ("usercode", "forenames", "surname", "email") if k in user
        }
        private |= {str(v["value"]) for v in element.get("variables", [])}
    private |= {str(c["name"]) for c in example_seed.get("categories", [])}
    private |= {str(r_["name"]) for r_ in example_seed.get("roles", [])}
    # as words: "HR", a category, is in "through"
    leaked = sorted(p for p in private if p and re.search(rf"\b{re.escape(p)}\b", r.out, re.I))
    assert leaked == []


def test_a_server_that_is_not_there_is_not_an_api_difference(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/pi/api/v2"
    r = pisync(["doctor"], cwd=tmp_path, url=url)
    assert r.code == 1
    found = results(r.out)
    assert set(found.values()) == {"UNKNOWN"}
    assert r.out.splitlines()[2:4] == [
        "UNKNOWN  connect [§1.1]: the URL answers HTTP",
        "         server: no answer",
    ]
    assert r.out.splitlines()[-1] == (
        "0 OK, 0 different, 20 unknown. pisync could not connect to the server: check the URL"
        " (PISYNC_URL, or server.url in pisync.yaml) and that the server is up, then run"
        " pisync doctor again."
    )
    assert "share" not in r.out
    assert "Traceback" not in r.all


def test_a_wrong_password_says_so_and_what_to_do(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(["doctor"], cwd=tmp_path, url=emu.url, env={"PISYNC_PASSWORD": "wrong"})
    assert r.code == 1, r.all
    found = results(r.out)
    assert (found["connect"], found["sign-in"]) == ("OK", "UNKNOWN")
    assert set(found.values()) == {"OK", "UNKNOWN"}
    assert r.out.splitlines()[-1] == (
        "1 OK, 0 different, 19 unknown. The server refused the credentials (HTTP 401): check"
        " PISYNC_USERNAME and PISYNC_PASSWORD, then run pisync doctor again."
    )
    assert "wrong" not in r.out


def test_a_url_that_is_not_the_api_says_what_it_usually_ends_with(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(["doctor"], cwd=tmp_path, url=f"{emu.base}/pi")
    assert r.code == 1, r.all
    assert r.out.splitlines()[-1] == (
        "1 OK, 0 different, 19 unknown. The URL does not answer like the Panintelligence API"
        " (POST /tokens answered HTTP 404): it usually ends in /pi/api/v2; check PISYNC_URL (or"
        " server.url in pisync.yaml), then run pisync doctor again."
    )


def test_a_refused_token_says_so_and_what_to_do(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(
        ["doctor"],
        cwd=tmp_path,
        url=emu.url,
        env={"PISYNC_TOKEN": "stale"},
        unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"],
    )
    assert r.code == 1, r.all
    assert r.out.splitlines()[-1].endswith(
        "The server refused PISYNC_TOKEN (HTTP 401): set a fresh token, or PISYNC_USERNAME and"
        " PISYNC_PASSWORD so that pisync signs in itself, then run pisync doctor again."
    )


@pytest.mark.parametrize("reachable", [False, True], ids=["unreachable", "reachable"])
def test_the_json_report_never_holds_the_host_name(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path, reachable: bool
) -> None:
    """A host name is the customer's own (``acme-pi-prod.internal``); it is left out of every
    field, the server's words included, whether the server answers or not."""
    if reachable:
        emu = emulator_factory(example_seed)
        host = "localhost"  # resolves to the emulator: the whole probe runs
        url = f"http://{host}:{emu.port}/pi/api/v2"
    else:
        host = "acme-pi-prod-secret.invalid"
        url = f"https://{host}:8224/pi/api/v2"
    r = pisync(["doctor", "--format", "json"], cwd=tmp_path, url=url)
    doc = json.loads(r.out)
    assert host not in r.out
    assert doc["server"] == (
        f"http://<host>:{emu.port}/pi/api/v2" if reachable else "https://<host>:8224/pi/api/v2"
    )
    assert r.code == (0 if reachable else 1), r.all


def test_a_capped_user_list_is_not_a_server_without_users(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--list-cap", "0")
    r = pisync(["doctor"], cwd=tmp_path, url=emu.url)
    assert r.code == 1, r.all
    lines = r.out.splitlines()
    at = lines.index(
        "DIFFERENT  users-total [U16]: the list's totalElements matches the users it returns"
    )
    assert lines[at + 1] == (
        "           server: GET /users: the server reported 10 users but returned 0; not"
        " planning from an incomplete list"
    )
    at = lines.index(
        "UNKNOWN    sync-payload-param [U5]: GET /users/syncPayload?usercode=X answers user X"
    )
    assert lines[at + 1] == (
        "           server: the user list returned no user to read (it could not be read whole:"
        " see users-total)"
    )
    assert "no user to read" not in r.out.replace("returned no user to read", "")


def test_a_capped_list_still_samples_the_users_it_returned(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed, "--list-cap", "5")
    r = pisync(["doctor"], cwd=tmp_path, url=emu.url)
    found = results(r.out)
    assert found["users-total"] == "DIFFERENT"
    assert found["sync-payload-param"] == found["sync-payload-shape"] == "OK"


def test_with_only_a_token_signing_in_is_not_tried(
    emulator_factory: Any, example_seed: dict[str, Any], tmp_path: Path
) -> None:
    emu = emulator_factory(example_seed)
    r = pisync(
        ["doctor"],
        cwd=tmp_path,
        url=emu.url,
        env={"PISYNC_TOKEN": emu.token()},
        unset=["PISYNC_USERNAME", "PISYNC_PASSWORD"],
    )
    assert r.code == 0, r.all
    found = results(r.out)
    assert (found["sign-in"], found["sign-in-clear"], found["bearer"]) == (
        "UNKNOWN",
        "UNKNOWN",
        "OK",
    )
