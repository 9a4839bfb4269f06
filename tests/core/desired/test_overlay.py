"""A fleet's desired state (core/desired/overlay.py): the base with each server's overlay laid
over it, key by key; and every conflict, once, at its file:line:col, naming its servers."""

from __future__ import annotations

from typing import Any

from reconciler.core.desired.analysis import FileResult, analyse
from reconciler.core.desired.overlay import fleet_state, placement_issues
from reconciler.core.desired.schema import SchemaChecker
from reconciler.core.model.config import Config
from reconciler.core.model.issues import format_issue
from reconciler.core.model.values import Restriction, SourcePos, Variable
from reconciler.core.yamlfile.read import parse_yaml
from reconciler.schemas import load_schema

CHECKER = SchemaChecker(load_schema("pisync-file"))


def config(**servers: dict[str, Any]) -> Config:
    blocks = {name: {"url": f"https://{name}.test/pi/api/v2", **b} for name, b in servers.items()}
    return Config.from_dict({"servers": blocks, "users": {"prune": "disable"}})


def result(name: str, text: str) -> FileResult:
    return analyse(parse_yaml(text.encode(), name), CHECKER)


THREE = config(
    staging={"vars": {"tenant": "0000", "region": "Test"}},
    **{"prod-a": {"vars": {"tenant": "1"}}, "prod-b": {"vars": {"tenant": "2"}}},
)

BASE = result(
    "users/base.yaml",
    """\
users:
  - usercode: shared
    forenames: Sam
    surname: Share
    email: sam@example.com
    roles: [Viewer, Editor]
    login: {password: false, external: true, mfa: true}
    variables: {tenant: {var: tenant}}
    pisync: {reason: Support, ticket: T-1}
  - usercode: prodonly
    forenames: Pro
    surname: Duction
    pisync: {servers: ["prod-*"]}
roles:
  - name: Viewer
    categories: [Sales]
  - name: Editor
    privileges: [editCharts]
""",
)


def test_an_overlay_replaces_each_key_it_writes_whole_and_adds_and_leaves_out() -> None:
    staging = result(
        "servers/staging/a.yaml",
        """\
users:
  - usercode: SHARED
    roles: [Viewer]
    login: {mfa: false}
    pisync: {reason: Testing}
  - usercode: tester
    forenames: Test
    surname: Er
roles:
  - name: editor
    pisync: {exclude: true}
""",
    )
    state = fleet_state(THREE, [BASE], {"staging": [staging], "prod-a": [], "prod-b": []})

    assert state.issues == ()
    on = {s.name: s for s in state.servers}
    shared = {u.usercode: u for u in on["staging"].desired.users}["SHARED"]
    assert dict(shared.fields) == {
        "forenames": "Sam",
        "surname": "Share",
        "email": "sam@example.com",
        "login.mfa": False,  # login written in the overlay: the whole login is the overlay's
        "roles": ("Viewer",),
        "variables": (Variable(name="tenant", value="0000"),),
    }
    assert (shared.meta.reason, shared.meta.ticket) == ("Testing", None)  # pisync: whole too
    assert shared.key_pos["roles"] == SourcePos(file="servers/staging/a.yaml", line=3, col=5)
    assert shared.key_pos["email"] == SourcePos(file="users/base.yaml", line=5, col=5)
    assert [u.usercode for u in on["staging"].desired.users] == ["SHARED", "TESTER"]
    assert [r.name for r in on["staging"].desired.roles] == ["Viewer"]
    assert [u.usercode for u in on["prod-a"].desired.users] == ["PRODONLY", "SHARED"]
    assert [r.name for r in on["prod-a"].desired.roles] == ["Editor", "Viewer"]
    prod_b = {u.usercode: u for u in on["prod-b"].desired.users}
    assert prod_b["SHARED"].fields["variables"] == (Variable(name="tenant", value="2"),)
    assert prod_b["SHARED"].fields["login.password"] is False  # the base's login, untouched
    assert on["staging"].overlaid == {
        ("user", "SHARED"): SourcePos(file="servers/staging/a.yaml", line=2, col=5),
        ("user", "TESTER"): SourcePos(file="servers/staging/a.yaml", line=6, col=5),
    }


def test_a_var_in_a_restriction_value_takes_each_servers_value() -> None:
    base = result(
        "users/r.yaml",
        "users:\n  - usercode: r\n    restrictions:\n"
        "      - {connection: DB, column: Region, values: [{var: region}, Global]}\n",
    )
    two = config(a={"vars": {"region": "North"}}, b={"vars": {"region": "South"}})

    state = fleet_state(two, [base], {"a": [], "b": []})

    assert [s.desired.users[0].fields["restrictions"] for s in state.servers] == [
        (Restriction(connection="DB", column="Region", values=("Global", "North")),),
        (Restriction(connection="DB", column="Region", values=("Global", "South")),),
    ]


def issues(state: Any) -> list[str]:
    return [format_issue(i) for i in state.issues]


def test_every_conflict_is_an_error_at_its_place_naming_its_servers() -> None:
    base = result(
        "users/base.yaml",
        """\
users:
  - usercode: a
    variables: {t: {var: tenant}, r: {var: region}}
    pisync: {servers: [prod-*, prdo-b]}
  - usercode: b
    pisync: {exclude: true}
""",
    )
    prod_a = result(
        "servers/prod-a/u.yaml",
        """\
users:
  - usercode: ghost
    pisync: {exclude: true}
  - usercode: a
    email: a@example.com
    pisync: {exclude: true}
  - usercode: c
  - usercode: C
  - usercode: d
    pisync: {servers: [staging]}
""",
    )

    state = fleet_state(THREE, [base], {"staging": [], "prod-a": [prod_a], "prod-b": []})

    assert issues(state) == [
        "servers/prod-a/u.yaml:3:14: error: user GHOST is excluded on server prod-a, but no"
        " base file gives it to prod-a (nothing to leave out): remove this entry",
        "servers/prod-a/u.yaml:6:14: error: user A is excluded on this server and also sets"
        " keys; an entry that excludes holds only its usercode and pisync: {exclude: true}:"
        " remove the other keys, or the exclude",
        'servers/prod-a/u.yaml:8:5: error: duplicate usercode "C"; first declared at'
        " servers/prod-a/u.yaml:7:5 (at users[3].usercode)",
        "servers/prod-a/u.yaml:10:24: error: pisync.servers chooses servers for a base entry;"
        " an overlay file is already one server's: remove pisync.servers here (or move the"
        " entry to a base file)",
        "users/base.yaml:3:44: error: {var: region} has no value on server prod-b: add region"
        " under servers.prod-b.vars in pisync.yaml",
        'users/base.yaml:4:32: error: no server of servers: in pisync.yaml is named "prdo-b"'
        " (servers: prod-a, prod-b, staging); fix the name or add the server",
        "users/base.yaml:6:14: error: pisync.exclude leaves a shared entry out on one server,"
        " so it belongs in that server's overlay file (its sources in pisync.yaml), not in a"
        " base file; here, narrow pisync.servers instead",
    ]


def test_a_file_two_places_claim() -> None:
    assert [
        format_issue(i)
        for i in placement_issues(
            {
                "users/a.yaml": ["the top-level sources (the base)", "servers.prod.sources"],
                "users/b.yaml": ["the top-level sources (the base)"],
            }
        )
    ] == [
        "users/a.yaml:1:1: error: this file is matched by the top-level sources (the base) and"
        " by servers.prod.sources; a file belongs to one place: narrow the globs so that only"
        " one matches it"
    ]


def test_a_problem_of_every_server_says_so_once() -> None:
    base = result("users/base.yaml", "users:\n  - usercode: a\n    roles: [Viewr]\n")
    roles = result("users/roles.yaml", "roles:\n  - name: Viewer\n")

    state = fleet_state(THREE, [base, roles], {n: [] for n in ("prod-a", "prod-b", "staging")})

    assert issues(state) == [
        'users/base.yaml:3:13: error: role "Viewr" is not declared in any desired-state file;'
        ' did you mean "Viewer"? If the server has a role of exactly this name, declare it'
        " under roles: with its name alone (that leaves it as it is) (every server: prod-a,"
        " prod-b, staging) (at users[0].roles[0])"
    ]


def test_server_overrides_are_laid_over_the_top_level_key_by_key() -> None:
    data = {
        "safety": {"max_prune_count": 25, "max_prune_percent": 10},
        "users": {"prune": "disable", "protected": ["ADMIN"]},
        "policies": {
            "administrators": {"min": 2},
            "email_domains": {"allowed": ["example.com"]},
        },
        "servers": {
            "prod": {
                "url": "https://prod.test/pi/api/v2",
                "safety": {"max_prune_count": 3},
                "users": {"protected": ["ADMIN", "BREAKGLASS"]},
                "policies": {"administrators": {"max": 4}},
                "credentials": {"password": "PROD_SECRET"},
            },
            "dev-1": {"url": "https://dev.test/pi/api/v2"},
        },
    }

    parsed = Config.from_dict(data)
    prod = parsed.server_named("prod")
    dev = parsed.server_named("dev-1")

    assert [e.name for e in parsed.servers] == ["dev-1", "prod"]
    assert (prod.config.safety.max_prune_count, prod.config.safety.max_prune_percent) == (3, 10)
    assert prod.config.protected == ("ADMIN", "BREAKGLASS")
    assert prod.config.users_prune.value == "disable"
    policies = prod.config.policies
    assert policies.administrators is not None
    assert (policies.administrators.min, policies.administrators.max) == (None, 4)
    assert policies.email_domains is not None
    assert prod.config.server.url == "https://prod.test/pi/api/v2"
    assert prod.credentials == {
        "username": "PISYNC_PROD_USERNAME",
        "password": "PROD_SECRET",
        "token": "PISYNC_PROD_TOKEN",
        "account": "PISYNC_PROD_ACCOUNT",
    }
    assert dev.credentials["username"] == "PISYNC_DEV_1_USERNAME"
    assert dev.config.safety.max_prune_count == 25


def test_each_servers_policies_judge_its_effective_state() -> None:
    import datetime as dt

    data = {
        "servers": {
            "strict": {
                "url": "https://strict.test/pi/api/v2",
                "policies": {"mfa_required_for": {"types": ["administrator"]}},
                "licence": {"administrators": 1},
            },
            "lax": {"url": "https://lax.test/pi/api/v2"},
        }
    }
    two = Config.from_dict(data)
    base = result("users/a.yaml", "users:\n  - usercode: boss\n    type: administrator\n")

    state = fleet_state(two, [base], {"lax": [], "strict": []}, policies_today=dt.date(2026, 1, 1))

    assert two.server_named("strict").config.licence == {"administrators": 1}
    assert two.server_named("lax").config.licence == {}
    assert issues(state) == [
        "users/a.yaml:2:5: error: policy mfa_required_for: BOSS is an administrator, which"
        " requires MFA; set login.mfa: true (server strict) (at users[BOSS])"
    ]
