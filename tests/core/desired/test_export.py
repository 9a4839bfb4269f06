"""import's pure half: live state -> desired-state YAML that reads back to the same state."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.desired.export import (
    Layout,
    default_layout,
    env_name,
    export,
    file_stem,
    minimal_categories,
)
from reconciler.core.model.values import (
    Category,
    LiveRole,
    LiveState,
    LiveUser,
    Restriction,
    Variable,
)
from reconciler.core.yamlfile.read import parse_yaml
from reconciler.pi.wire import NEW_USER_DEFAULTS

CATS = {
    "finance": Category(name="Finance", id="1"),
    "budgets": Category(name="Budgets", id="2", parent_id="1"),
    "q1": Category(name="Q1", id="3", parent_id="2"),
    "hr": Category(name="HR", id="4"),
}


def record(**over: Any) -> dict[str, Any]:
    base = {
        "forenames": "Jo",
        "surname": "Bloggs",
        **NEW_USER_DEFAULTS,
        "parent": "ADMIN",
    }
    base.update(over)
    return base


def live(*users: LiveUser, roles: tuple[LiveRole, ...] = ()) -> LiveState:
    return LiveState(
        users={u.usercode: u for u in users},
        roles={r.name.casefold(): r for r in roles},
        categories=CATS,
    )


def user(code: str, **over: Any) -> LiveUser:
    return LiveUser(usercode=code, id=code, record=record(**over))


def only_file(state: LiveState, **kw: Any) -> str:
    result = export(state, defaults=NEW_USER_DEFAULTS, default_parent="ADMIN", **kw)
    assert len(result.files) == 1
    return result.files[0].text


HEADER = (
    "# yaml-language-server: $schema=../schemas/pisync-file.schema.json\n"
    "# A key you remove is left as it is on the server; a list you write is complete"
    " (roles: [] means none).\n"
)


def test_a_default_user_is_just_its_names() -> None:
    assert only_file(live(user("JB")), with_roles=False) == HEADER + (
        "users:\n  - usercode: JB\n    forenames: Jo\n    surname: Bloggs\n"
    )


def test_every_key_that_differs_is_written_in_spec_order() -> None:
    secret = Variable(name="db pw", secure=True, digest=hashlib.sha256(b"x").hexdigest())
    u = user(
        "A.B",
        email="a@b.c",
        type="administrator",
        enabled=False,
        lite=True,
        parent="BOSS",
        organisation="Org 2",
        theme="dark",
        expires="2027-01-31",
        **{"login.mfa": True},
        privileges=("editUsers", "pdf"),
        roles=("Sales",),
        categories=("Budgets", "Finance", "HR", "Q1"),
        variables=(secret, Variable(name="region", value="yes")),
        restrictions=(Restriction(connection="DB", column="Region", values=("E", "N")),),
    )
    result = export(live(u), defaults=NEW_USER_DEFAULTS, default_parent="ADMIN", with_roles=False)
    assert result.files[0].path == "users/a.b.yaml"
    assert result.secret_env == (("PISYNC_VAR_A_B_DB_PW", "A.B", "db pw"),)
    assert result.files[0].text == HEADER + (
        "users:\n"
        "  - usercode: A.B\n"
        "    forenames: Jo\n"
        "    surname: Bloggs\n"
        "    email: a@b.c\n"
        "    type: administrator\n"
        "    enabled: false\n"
        "    lite: true\n"
        "    parent: BOSS\n"
        "    organisation: Org 2\n"
        "    theme: dark\n"
        "    expires: 2027-01-31\n"
        "    login: {password: false, external: true, mfa: true}\n"
        "    privileges: [editUsers, pdf]\n"
        "    roles: [Sales]\n"
        "    categories: [HR, Q1]\n"
        "    variables:\n"
        "      db pw: {env: PISYNC_VAR_A_B_DB_PW, secure: true}\n"
        '      region: "yes"\n'
        "    restrictions:\n"
        '      - {connection: DB, column: Region, values: [E, "N"]}\n'
    )


def test_minimal_categories_drops_implied_parents_only() -> None:
    index = {"budgets": frozenset({"finance"}), "q1": frozenset({"budgets", "finance"})}
    assert minimal_categories(["Finance", "Budgets", "HR"], index) == ["Budgets", "HR"]
    assert minimal_categories(["Finance"], index) == ["Finance"]


def test_layouts_and_file_names() -> None:
    state = live(
        user("ZED", roles=("Sales Team",)),
        user("amy", roles=("Sales Team",)),
        user("BOB"),
        roles=(LiveRole(name="Sales Team", id="1", fields={"description": None}),),
    )
    paths = lambda layout: [  # noqa: E731
        f.path for f in export(state, defaults=NEW_USER_DEFAULTS, layout=layout).files
    ]
    assert paths(Layout.PER_USER) == [
        "users/amy.yaml",
        "users/bob.yaml",
        "users/roles.yaml",
        "users/zed.yaml",
    ]
    assert paths(Layout.PER_ROLE_FILE) == [
        "users/no-role.yaml",
        "users/roles.yaml",
        "users/sales_team.yaml",
    ]
    assert paths(Layout.SINGLE) == ["users/roles.yaml", "users/users.yaml"]
    assert paths(Layout.PER_LETTER) == [
        "users/a.yaml",
        "users/b.yaml",
        "users/roles.yaml",
        "users/z.yaml",
    ]


def test_per_letter_files_hold_500_users_at_most_in_usercode_order() -> None:
    state = live(*(user(f"U{n:04d}") for n in range(1001)), user("R1"), user("ROLES"))
    result = export(state, defaults=NEW_USER_DEFAULTS, layout=Layout.PER_LETTER)
    counts = {f.path: f.text.count("  - usercode: ") for f in result.files}
    assert counts == {
        "users/r.yaml": 2,
        "users/u-001.yaml": 500,
        "users/u-002.yaml": 500,
        "users/u-003.yaml": 1,
    }
    first = next(f.text for f in result.files if f.path == "users/u-002.yaml")
    assert first.split("  - usercode: ")[1].startswith("U0500\n")
    assert "  - usercode: U0999\n" in first


def test_the_default_layout_is_per_user_up_to_1000_users_then_per_letter() -> None:
    assert default_layout(1) is Layout.PER_USER
    assert default_layout(1_000) is Layout.PER_USER
    assert default_layout(1_001) is Layout.PER_LETTER
    small = export(live(user("AMY"), user("BOB")), defaults=NEW_USER_DEFAULTS)
    assert [f.path for f in small.files] == ["users/amy.yaml", "users/bob.yaml"]
    large = export(live(*(user(f"U{n:04d}") for n in range(1001))), defaults=NEW_USER_DEFAULTS)
    assert [f.path for f in large.files] == [
        "users/u-001.yaml",
        "users/u-002.yaml",
        "users/u-003.yaml",
    ]


def test_include_exclude_and_skip() -> None:
    state = live(user("ADMIN"), user("SVC_A"), user("JO"), user("JIM"))
    result = export(
        state,
        defaults=NEW_USER_DEFAULTS,
        include=["J*", "SVC_*"],
        exclude=["jim"],
        skip=["ADMIN"],
    )
    assert [f.path for f in result.files] == ["users/jo.yaml", "users/svc_a.yaml"]


def test_names() -> None:
    assert file_stem("../Evil/..Name") == "evil_..name"
    assert file_stem("...") == "user"
    assert env_name("j.smith@x", "api-key") == "PISYNC_VAR_J_SMITH_X_API_KEY"


@settings(max_examples=500, deadline=None)
@given(
    st.text(min_size=1, max_size=30),
    st.text(max_size=40),
)
def test_any_string_survives_the_round_trip(name: str, value: str) -> None:
    u = user("U", theme=value, variables=(Variable(name=name, value=value),))
    text = only_file(live(u), with_roles=False)
    parsed = parse_yaml(text.encode("utf-8"), "u.yaml")
    assert parsed.issues == ()
    assert parsed.data is not None
    entry = parsed.data["users"][0]
    assert entry.get("theme") == value or (value == "piBerry" and "theme" not in entry)
    assert entry["variables"][name] == value
