"""A fleet from one repository, through the real CLI against several real emulator processes
(``emulator_fleet``): examples/fleet's base and overlays on three servers, a pull request that
touches one overlay, a guard on one server, a server that is down, a bundle gone stale on one
server, shards, and import of several servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import pisync
from tests.e2e.fleet_repo import (
    SEED,
    SERVERS,
    as_emulator,
    fleet_repo,
    run,
    user,
    write,
)
from tests.emulator.fleet import Member, StartFleet, emulator_fleet

pytestmark = pytest.mark.e2e

__all__ = ["emulator_fleet"]  # the fixture, for this module's tests


def urls_as_names(text: str, emus: list[object]) -> str:
    """Each emulator's URL as ``<server>`` (the ports change from run to run)."""
    for name, emu in zip(SERVERS, emus, strict=True):
        text = text.replace(emu.url, f"<{name}>")  # type: ignore[attr-defined]
    return text


def test_base_and_two_overlays_on_three_servers(tmp_path: Path, emulator_fleet: StartFleet) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)

    plan = run(["plan", "--summary"], repo)
    applied = run(["apply", "--all-servers", "--auto-approve", "-q"], repo)
    again = run(["plan", "--detailed-exitcode"], repo)

    assert plan.code == 0, plan.all
    assert urls_as_names(plan.out, emus).splitlines()[:6] == [
        "pisync plan for 3 servers:",
        "",
        "  server       create  update  disable  delete  guards  policy  result",
        "  prod-acme         7       0        0       0       -  -       changes",
        "  prod-globex       5       0        0       0       -  -       changes",
        "  staging           5       0        0       0       -  -       changes",
    ]
    assert plan.out.splitlines()[-1] == (
        "Fleet: 17 to create, 0 to update, 0 to disable, 0 to delete on 3 servers."
    )
    assert applied.code == 0, applied.all
    assert urls_as_names(applied.out, emus) == (
        "=== prod-acme: <prod-acme>\n"
        "Apply complete: 7 created, 0 updated, 0 disabled, 0 deleted, 0 failed.\n"
        "=== prod-globex: <prod-globex>\n"
        "Apply complete: 5 created, 0 updated, 0 disabled, 0 deleted, 0 failed.\n"
        "=== staging: <staging>\n"
        "Apply complete: 5 created, 0 updated, 0 disabled, 0 deleted, 0 failed.\n"
        "Fleet apply: 3 of 3 servers succeeded.\n"
    )
    assert again.code == 0, again.all
    assert again.out.splitlines()[-1] == "No changes. Every server (3) matches its desired state."
    acme, globex, staging = emus
    # the base on every server, the vars of each, the overlays' additions, changes, exclusions
    assert user(acme, "SUPPORT.DESK")["variables"] == [
        {"name": "tenant", "value": "4711", "isSecure": False}
    ]
    assert user(globex, "SUPPORT.DESK")["variables"] == [
        {"name": "tenant", "value": "8080", "isSecure": False}
    ]
    assert user(staging, "SUPPORT.DESK")["user"]["userTypeId"] == 1  # designer on staging only
    assert user(acme, "SUPPORT.DESK")["user"]["userTypeId"] == 3
    assert user(acme, "A.SMITH")["restrictions"] == [
        {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": "EMEA"}
    ]
    assert user(acme, "ONCALL") is not None
    assert (user(globex, "ONCALL"), user(staging, "ONCALL")) == (None, None)
    assert (user(staging, "TESTER1") is not None, user(acme, "TESTER1")) == (True, None)
    assert (user(globex, "C.WU") is not None, user(acme, "C.WU")) == (True, None)


def test_show_desired_prints_one_servers_effective_state(tmp_path: Path) -> None:
    repo = fleet_repo(tmp_path, [_Fake(n) for n in SERVERS])

    shown = run(["show-desired", "--server", "staging"], repo)

    assert shown.code == 0, shown.all
    assert shown.out == (
        "# The effective desired state of server staging (http://staging.test/pi/api/v2):\n"
        "# the base with this server's overlay laid over it, each {var: NAME} resolved.\n"
        "roles:\n"
        "  # users/roles.yaml:4:5\n"
        "  - name: Analyst\n"
        '    description: "Dashboards of the customer\'s own data"\n'
        "    categories: [Finance, Sales]\n"
        "    privileges: [exportToCsv, pdf]\n"
        "  # users/roles.yaml:8:5\n"
        "  - name: Support\n"
        '    description: "The vendor\'s support staff"\n'
        "    categories: [Finance, Operations, Sales]\n"
        "    privileges: [editUsers, pdf]\n"
        "users:\n"
        "  # users/vendor.yaml:4:5\n"
        "  - usercode: OPS.LEAD\n"
        "    forenames: Olivia\n"
        "    surname: Park\n"
        "    email: olivia.park@vendor.example\n"
        "    type: administrator\n"
        "    login: {password: false, external: true, mfa: true}\n"
        "    roles: [Support]\n"
        "  # users/vendor.yaml:11:5, changed by servers/staging/testers.yaml:8:5\n"
        "  - usercode: SUPPORT.DESK\n"
        "    forenames: Support\n"
        "    surname: Desk\n"
        "    email: support@vendor.example\n"
        "    type: designer\n"
        "    roles: [Support]\n"
        '    variables: {tenant: "0000"}\n'
        "  # servers/staging/testers.yaml:4:5 (this server's overlay)\n"
        "  - usercode: TESTER1\n"
        "    forenames: Test\n"
        "    surname: One\n"
        "    roles: [Analyst]\n"
    )


class _Fake:
    """A server that is never contacted (offline commands), with a URL of its own."""

    def __init__(self, name: str) -> None:
        self.url = f"http://{name.removeprefix('prod-')}.test/pi/api/v2"


def test_a_pull_request_touching_one_overlay_plans_only_that_server(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus, git=True)
    assert run(["apply", "--all-servers", "--auto-approve", "-q"], repo).code == 0
    overlay = repo / "servers" / "prod-acme" / "users.yaml"
    overlay.write_text(
        overlay.read_text(encoding="utf-8").replace("surname: Jones", "surname: Jones-Lee"),
        encoding="utf-8",
    )
    for emu in emus:
        as_emulator(emu).clear_requests()

    comment = run(["plan", "--changed-since", "main", "--format", "markdown"], repo)

    assert comment.code == 0, comment.all
    head = comment.out.split("<details>")[0]
    assert head == (
        "## pisync plan: 1 server\n\n"
        "| Server | Create | Update | Disable | Delete | Guards | Policy | Result |\n"
        "|---|---:|---:|---:|---:|---:|---|---|\n"
        "| `prod-acme` | 0 | 1 | 0 | 0 | — | — | changes |\n\n"
        "**Fleet:** 0 to create, 1 to update, 0 to disable, 0 to delete.\n\n"
        "**Planned because** (changed since `main`):\n\n"
        "- servers/prod-acme/users.yaml changed: `prod-acme`\n\n"
        "**Not planned** (no change since main touches it): `prod-globex`, `staging`.\n\n"
    )
    assert '+ surname: "Jones-Lee"' in comment.out or '"Jones" -> "Jones-Lee"' in comment.out
    acme, globex, staging = emus
    assert len(as_emulator(acme).requests()) <= 5
    assert (as_emulator(globex).requests(), as_emulator(staging).requests()) == ([], [])


def test_a_change_to_a_shared_file_plans_each_server_it_goes_to(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus, git=True)
    assert run(["apply", "--all-servers", "--auto-approve", "-q"], repo).code == 0
    vendor = repo / "users" / "vendor.yaml"
    vendor.write_text(
        vendor.read_text(encoding="utf-8").replace("surname: Call", "surname: Call-Rota"),
        encoding="utf-8",
    )

    plan = run(["plan", "--changed-since", "main"], repo)

    assert plan.code == 0, plan.all
    lines = plan.out.splitlines()
    assert lines[:9] == [
        "pisync plan for 1 server:",
        "",
        "  server     create  update  disable  delete  guards  policy  result",
        "  prod-acme       0       1        0       0       -  -       changes",
        "",
        "Planned because (changed since main):",
        "  users/vendor.yaml: ONCALL changed: prod-acme",
        "Not planned (no change since main touches it): prod-globex, staging",
        "",
    ]


def test_a_guard_on_one_server_blocks_it_and_the_others_are_still_shown(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    crowded = {
        **SEED,
        "users": [
            {"user": {"usercode": f"OLD{i}", "forenames": "Old", "surname": str(i)}}
            for i in range(4)
        ],
    }
    emus = emulator_fleet(Member(seed=crowded), Member(seed=SEED), Member(seed=SEED))
    repo = fleet_repo(tmp_path, emus)

    plan = run(["plan", "--out", "fleet.json", "--detailed-exitcode"], repo)

    assert plan.code == 4, plan.all  # blocked (4) is more severe than changes (2)
    assert plan.out.splitlines()[2:6] == [
        "  server       create  update  disable  delete  guards  policy  result",
        "  prod-acme         7       0        4       0       1  -       blocked",
        "  prod-globex       5       0        0       0       -  -       changes",
        "  staging           5       0        0       0       -  -       changes",
    ]
    assert [line for line in plan.out.splitlines() if line.startswith("=== ")] == [
        f"=== prod-acme: {emus[0].url}  (blocked)",
        f"=== prod-globex: {emus[1].url}  (changes)",
        f"=== staging: {emus[2].url}  (changes)",
    ]
    assert plan.err == (
        "Error: server prod-acme: pisync apply would refuse its plan: it trips the safety"
        " guard(s) listed above; re-run with --force if this is intended\n"
    )
    bundle = json.loads((repo / "fleet.json").read_text(encoding="utf-8"))
    assert [(s["name"], s["exit_code"]) for s in bundle["servers"]] == [
        ("prod-acme", 4),
        ("prod-globex", 2),
        ("staging", 2),
    ]
    applied = run(["apply", "fleet.json"], repo)
    assert applied.code == 4, applied.all
    assert user(emus[0], "OPS.LEAD") is None  # the blocked server: nothing written
    assert [user(e, "OPS.LEAD") is not None for e in emus] == [False, True, True]


def test_one_server_down_while_the_others_apply(tmp_path: Path, emulator_fleet: StartFleet) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)
    emus[1].stop()  # prod-globex is down

    applied = run(["apply", "--all-servers", "--auto-approve", "--report", "report.json"], repo)

    assert applied.code == 1, applied.all
    assert "Fleet apply: 2 of 3 servers succeeded; not: prod-globex." in applied.out
    assert "Error: server prod-globex: POST /tokens:" in applied.err
    assert [user(emus[0], "A.SMITH") is None, user(emus[2], "TESTER1") is None] == [False, False]
    report = json.loads((repo / "report.json").read_text(encoding="utf-8"))
    assert [(s["name"], s["exit_code"]) for s in report["servers"]] == [
        ("prod-acme", 0),
        ("prod-globex", 1),
        ("staging", 0),
    ]
    assert report["servers"][0]["report"]["summary"]["created"] == 7
    assert report["servers"][1]["report"] is None


def test_a_bundle_with_one_server_changed_since_the_plan(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)
    assert run(["apply", "--all-servers", "--auto-approve", "-q"], repo).code == 0
    vendor = repo / "users" / "vendor.yaml"
    vendor.write_text(
        vendor.read_text(encoding="utf-8").replace("surname: Desk", "surname: Helpdesk"),
        encoding="utf-8",
    )
    assert run(["plan", "--out", "fleet.json", "-q"], repo).code == 0
    payload = user(emus[2], "SUPPORT.DESK")  # someone edits staging's user meanwhile
    payload["user"]["email"] = "desk@vendor.example"
    as_emulator(emus[2]).api("POST", "/users/sync", [payload])

    applied = run(["apply", "fleet.json"], repo)

    assert applied.code == 5, applied.all
    assert "Error: server staging: the saved plan is stale; nothing was applied:" in applied.err
    assert "Fleet apply: 2 of 3 servers succeeded; not: staging." in applied.out
    assert [user(e, "SUPPORT.DESK")["user"]["surname"] for e in emus] == [
        "Helpdesk",
        "Helpdesk",
        "Desk",
    ]


def test_shards_split_the_servers_and_join_into_one_bundle(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)
    (repo / "plans").mkdir()

    shards = [
        run(["plan", "--shard", f"{i}/2", "--out", f"plans/shard-{i}.json", "-q"], repo)
        for i in (1, 2)
    ]
    split = [
        [x["name"] for x in json.loads((repo / f"plans/shard-{i}.json").read_text())["servers"]]
        for i in (1, 2)
    ]
    joined = run(["show", "plans", "--out", "fleet.json", "--format", "markdown"], repo)
    (repo / "plans" / "shard-2.json").unlink()
    missing = run(["show", "plans"], repo)

    assert [s.code for s in shards] == [0, 0], [s.all for s in shards]
    assert split == [["prod-acme", "staging"], ["prod-globex"]]  # k-th server: shard k mod 2 + 1
    assert joined.code == 0, joined.all
    assert joined.out.startswith("## pisync plan: 3 servers\n")
    bundle = json.loads((repo / "fleet.json").read_text(encoding="utf-8"))
    assert ([s["name"] for s in bundle["servers"]], bundle["shard"]) == (list(SERVERS), None)
    assert (missing.code, missing.out, missing.err) == (
        3,
        "error: shard 2/2 missing\n1 error; nothing was planned or applied.\n",
        "",
    )
    applied = run(["apply", "fleet.json", "-q"], repo)
    assert applied.code == 0, applied.all


def test_import_of_several_servers_then_a_plan_of_each_is_empty(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)
    assert run(["apply", "--all-servers", "--auto-approve", "-q"], repo).code == 0

    imported = run(["import", "--all-servers", "--out", str(tmp_path / "imported")], repo)
    again = run(["plan", "--all-servers", "--detailed-exitcode"], tmp_path / "imported")

    assert imported.code == 0, imported.all
    assert imported.out.splitlines()[0] == (
        f"Imported 7 users and 2 roles of 3 servers into {tmp_path / 'imported'} (6 files;"
        " what is not the same on every server is in servers/)."
    )
    assert again.code == 0, again.all
    assert again.out.splitlines()[-1] == "No changes. Every server (3) matches its desired state."
    out = tmp_path / "imported"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == [
        "pisync.yaml",
        "servers/prod-acme/users.yaml",
        "servers/prod-globex/users.yaml",
        "servers/staging/users.yaml",
        "users/ops.lead.yaml",
        "users/roles.yaml",
        "users/support.desk.yaml",
    ]
    assert (out / "servers" / "staging" / "users.yaml").read_text(encoding="utf-8") == (
        "# yaml-language-server: $schema=../../schemas/pisync-file.schema.json\n"
        "# Imported from servers prod-acme, prod-globex, staging by pisync import; edit freely."
        " What server staging has differently from the base.\n"
        "users:\n"
        "  - usercode: SUPPORT.DESK\n"
        "    type: designer\n"
        '    variables: {tenant: "0000"}\n'
        "  - usercode: TESTER1\n"
        "    forenames: Test\n"
        "    surname: One\n"
        "    roles: [Analyst]\n"
    )


def test_the_options_that_choose_servers(tmp_path: Path) -> None:
    repo = fleet_repo(tmp_path, [_Fake(n) for n in SERVERS])
    plain = tmp_path / "plain"
    write(plain, "users/a.yaml", "users:\n  - usercode: a\n")

    unknown = run(["plan", "--server", "prod-acmee"], repo)
    refused_url = run(["plan", "--all-servers"], repo, PISYNC_URL="http://x.test/pi/api/v2")
    must_choose = run(["apply", "--auto-approve"], repo)
    bad_shard = run(["plan", "--shard", "3/2"], repo)
    no_fleet = run(["plan", "--all-servers"], plain)

    assert (unknown.code, unknown.err) == (
        64,
        "Error: --server prod-acmee: no server of pisync.yaml has this name; did you mean"
        ' "prod-acme"? (servers: prod-acme, prod-globex, staging)\n',
    )
    assert (refused_url.code, refused_url.err) == (
        64,
        "Error: --url (or PISYNC_URL) names one server, but pisync.yaml has servers:, each with"
        " its own url: unset PISYNC_URL (and drop --url), and choose with --server NAME or"
        " --all-servers\n",
    )
    assert (must_choose.code, must_choose.err) == (
        64,
        "Error: pisync.yaml has 3 servers (prod-acme, prod-globex, staging): choose which this"
        " apply covers with --server NAME (repeatable, globs) or --all-servers\n",
    )
    assert (bad_shard.code, bad_shard.err) == (
        64,
        "Error: --shard '3/2': write I/N with 1 <= I <= N <= 256, e.g. --shard 2/8 (shard 2 of"
        " 8)\n",
    )
    assert (no_fleet.code, no_fleet.err) == (
        64,
        "Error: --server, --all-servers and --shard choose among the servers: of pisync.yaml,"
        " which has none: this repository manages one server (server.url or --url)\n",
    )


CONFLICTS_CONFIG = """\
sources: ["users/**/*.yaml"]
servers:
  prod-a:
    url: https://a.test/pi/api/v2
    sources: ["servers/prod-a/**/*.yaml", "users/shared-a.yaml"]
    vars: {tenant: "1"}
  prod-b:
    url: https://b.test/pi/api/v2
    sources: ["servers/prod-b/**/*.yaml"]
"""


def test_every_conflict_is_an_error_at_its_file_line_and_column(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "pisync.yaml", CONFLICTS_CONFIG)
    write(
        repo,
        "users/base.yaml",
        "users:\n"
        "  - usercode: shared\n"
        "    forenames: S\n"
        "    surname: Hared\n"
        "    variables: {tenant: {var: tenant}}\n"
        "    pisync: {servers: [prod-*, prdo-b]}\n"
        "  - usercode: gone\n"
        "    pisync: {exclude: true}\n",
    )
    write(repo, "users/shared-a.yaml", "users:\n  - usercode: twice\n")
    write(
        repo,
        "servers/prod-a/a.yaml",
        "users:\n"
        "  - usercode: ghost\n"
        "    pisync: {exclude: true}\n"
        "  - usercode: shared\n"
        "    email: s@example.com\n"
        "    pisync: {exclude: true}\n"
        "  - usercode: c\n"
        "  - usercode: C\n"
        "  - usercode: d\n"
        "    pisync: {servers: [prod-b]}\n",
    )

    checked = run(["validate"], repo)

    assert checked.code == 3, checked.all
    assert checked.out == (
        "servers/prod-a/a.yaml:3:14: error: user GHOST is excluded on server prod-a, but no"
        " base file gives it to prod-a (nothing to leave out): remove this entry\n"
        "servers/prod-a/a.yaml:6:14: error: user SHARED is excluded on this server and also"
        " sets keys; an entry that excludes holds only its usercode and pisync: {exclude:"
        " true}: remove the other keys, or the exclude\n"
        'servers/prod-a/a.yaml:8:5: error: duplicate usercode "C"; first declared at'
        " servers/prod-a/a.yaml:7:5 (at users[3].usercode)\n"
        "servers/prod-a/a.yaml:10:24: error: pisync.servers chooses servers for a base entry;"
        " an overlay file is already one server's: remove pisync.servers here (or move the"
        " entry to a base file)\n"
        "users/base.yaml:5:31: error: {var: tenant} has no value on server prod-b: add tenant"
        " under servers.prod-b.vars in pisync.yaml\n"
        'users/base.yaml:6:32: error: no server of servers: in pisync.yaml is named "prdo-b"'
        " (servers: prod-a, prod-b); fix the name or add the server\n"
        "users/base.yaml:8:14: error: pisync.exclude leaves a shared entry out on one server,"
        " so it belongs in that server's overlay file (its sources in pisync.yaml), not in a"
        " base file; here, narrow pisync.servers instead\n"
        "users/shared-a.yaml:1:1: error: this file is matched by the top-level sources (the"
        " base) and by servers.prod-a.sources; a file belongs to one place: narrow the globs"
        " so that only one matches it\n"
        "note: 2 servers checked: prod-a (4 users, 0 roles), prod-b (3 users, 0 roles)\n"
        "8 errors in 3 of 5 files.\n"
    )


def test_a_var_in_the_defaults_of_every_server(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    config = CONFLICTS_CONFIG.replace(
        'sources: ["users/**/*.yaml"]\n',
        'sources: ["users/**/*.yaml"]\ndefaults:\n  variables: {tenant: {var: tenant}}\n',
    )
    write(repo, "pisync.yaml", config)
    write(repo, "users/a.yaml", "users:\n  - usercode: a\n    variables: {t: {var: tenant}}\n")

    checked = run(["validate"], repo)

    assert (checked.code, checked.out) == (
        3,
        "pisync.yaml:3:29: error: defaults cannot hold {var: tenant}: defaults are the same on"
        " every server; write the value here, or write {var: tenant} in the users' entries"
        " (at defaults)\n"
        "1 error in 1 of 2 files.\n",
    )


def test_fleet_syntax_in_a_repository_without_servers(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(
        repo,
        "users/a.yaml",
        "users:\n"
        "  - usercode: a\n"
        "    variables: {tenant: {var: tenant}}\n"
        "    pisync: {servers: [prod]}\n",
    )

    checked = run(["validate"], repo)

    assert (checked.code, checked.out) == (
        3,
        "users/a.yaml:3:31: error: {var: tenant} works only with servers: in pisync.yaml, which"
        " names none; add servers: to pisync.yaml, or remove it (at users[0].variables)\n"
        "users/a.yaml:4:14: error: pisync.servers works only with servers: in pisync.yaml,"
        " which names none; add servers: to pisync.yaml, or remove it (at"
        " users[0].pisync.servers)\n"
        "2 errors in 1 of 1 file.\n",
    )


def test_urls_and_credentials_from_the_ci_never_from_pisync_yaml(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, [_Fake(n) for n in SERVERS])  # pisync.yaml: hosts that fail
    pins = " ".join(f"{n}={e.url}" for n, e in zip(SERVERS, emus, strict=True))
    every = json.dumps({n: {"username": "admin", "password": "dashboard"} for n in SERVERS})
    ci = {"PISYNC_SERVER_URLS": pins, "PISYNC_FLEET_CREDENTIALS": every}
    env_only = dict(ci)

    plan = pisync(["plan", "--out", "fleet.json", "-q"], cwd=repo, env=env_only)
    applied = pisync(["apply", "fleet.json", "-q"], cwd=repo, env=env_only)
    one_short = pisync(
        ["plan", "-q"], cwd=repo, env={**env_only, "PISYNC_SERVER_URLS": pins.rsplit(" ", 1)[0]}
    )
    bad_secret = pisync(["plan"], cwd=repo, env={**env_only, "PISYNC_FLEET_CREDENTIALS": "[1"})

    assert plan.code == 0, plan.all
    assert plan.out == "Fleet: 17 to create, 0 to update, 0 to disable, 0 to delete on 3 servers.\n"
    assert applied.code == 0, applied.all
    assert [user(e, "OPS.LEAD") is None for e in emus] == [False, False, False]
    assert (one_short.code, one_short.err) == (
        64,
        "Error: --server-urls (or PISYNC_SERVER_URLS) names no url for server staging; add"
        " staging=URL to it (servers.staging.url of pisync.yaml is not used while it is set)\n",
    )
    assert (bad_secret.code, bad_secret.err) == (
        64,
        'Error: PISYNC_FLEET_CREDENTIALS must be a JSON object: server name -> {"username": …,'
        ' "password": …} or {"token": …} (its content is not shown)\n',
    )


def test_doctor_claims_and_review_of_several_servers(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)
    assert run(["apply", "--all-servers", "--auto-approve", "-q"], repo).code == 0

    doctor = run(["doctor", "--server", "prod-*", "-q"], repo)
    claims = run(["claims", "--all-servers", "--out", "claims.json"], repo)
    review = run(["review", "--server", "staging", "--format", "json"], repo)
    several = run(["review", "--all-servers"], repo)

    assert doctor.code == 0, doctor.all
    assert [line for line in doctor.out.splitlines() if line.startswith("=== ")] == [
        "=== prod-acme",
        "=== prod-globex",
    ]
    assert claims.code == 0, claims.all
    assert claims.out == (
        "Wrote the claims of 5 users to claims-prod-acme.json.\n"
        "Wrote the claims of 3 users to claims-prod-globex.json.\n"
        "Wrote the claims of 3 users to claims-staging.json.\n"
    )
    staging = json.loads((repo / "claims-staging.json").read_text(encoding="utf-8"))
    assert sorted(staging["users"]) == ["OPS.LEAD", "SUPPORT.DESK", "TESTER1"]
    assert review.code == 0, review.all
    assert json.loads(review.out)["server"] == emus[2].url
    assert (several.code, several.err) == (
        64,
        "Error: a review of 3 servers needs --out FILE (or a folder): one is written per"
        " server, named after it\n",
    )


def test_a_change_to_pisync_yaml_plans_the_servers_whose_settings_changed(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus, git=True)
    assert run(["apply", "--all-servers", "--auto-approve", "-q"], repo).code == 0
    config = repo / "pisync.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("safety: {max_prune_count: 2}", "safety: {max_prune_count: 3}"),
        encoding="utf-8",
    )

    one = run(["plan", "--changed-since", "main"], repo)
    config.write_text(text.replace("max_prune_count: 5", "max_prune_count: 6"), encoding="utf-8")
    every = run(["plan", "--changed-since", "main", "-q"], repo)

    assert one.code == 0, one.all
    assert one.out.splitlines()[:8] == [
        "pisync plan for 1 server:",
        "",
        "  server     create  update  disable  delete  guards  policy  result",
        "  prod-acme       0       0        0       0       -  -       no changes",
        "",
        "Planned because (changed since main):",
        "  pisync.yaml: servers.prod-acme changed: prod-acme",
        "Not planned (no change since main touches it): prod-globex, staging",
    ]
    assert every.code == 0, every.all
    assert every.out == "No changes. Every server (3) matches its desired state.\n"


def test_a_target_is_planned_on_the_servers_that_declare_it(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)

    plan = run(["plan", "--target", "oncall", "--target", "tester1"], repo)
    applied = run(["apply", "--all-servers", "--target", "tester1", "--auto-approve", "-q"], repo)

    assert applied.code == 0, applied.all
    assert [user(e, "TESTER1") is not None for e in emus] == [False, False, True]
    assert applied.out.count("Not applied: it declares none of the --target users.") == 2
    assert plan.code == 0, plan.all
    assert [line for line in plan.out.splitlines() if line.startswith("  + user")] == [
        "  + user ONCALL",
        "  + user TESTER1",
    ]
    assert plan.out.splitlines()[:7] == [
        "pisync plan for 2 servers:",
        "",
        "  server     create  update  disable  delete  guards  policy  result",
        "  prod-acme       2       0        0       0       -  -       changes",
        "  staging         2       0        0       0       -  -       changes",
        "",
        "Not planned (it declares none of the --target users): prod-globex",
    ]


def test_the_fleets_bound_holds_across_its_servers(
    tmp_path: Path, emulator_fleet: StartFleet
) -> None:
    """Three servers at one emulator (so that it sees every request): each may keep 8 in flight,
    the fleet 3 in all, and the emulator never serves more than 3 at once."""
    (emu,) = emulator_fleet(Member(seed=SEED, args=["--latency-ms", "60"]))
    repo = fleet_repo(tmp_path, [emu, emu, emu])
    config = repo / "pisync.yaml"
    text = config.read_text(encoding="utf-8").replace("max_in_flight: 16", "max_in_flight: 3")
    config.write_text(text, encoding="utf-8")
    as_emulator(emu).control("DELETE", "stats")

    r = run(["plan", "--all-servers", "-q"], repo)

    assert r.code == 0, r.all
    stats = as_emulator(emu).control("GET", "stats")
    assert stats["peak_serving"] == 3, stats
