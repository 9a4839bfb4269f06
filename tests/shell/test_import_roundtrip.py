"""import -> plan is empty, for any server the emulator can hold (property test, in process).

The emulator runs in process (tests/shell/asgi.py) so hypothesis can try many servers; the
same path over real HTTP is covered by tests/e2e/test_import.py.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pi_emulator import EmulatorOptions, create_app
from reconciler.core.desired.export import Layout, export
from reconciler.core.diff.changes import diff
from reconciler.core.model.config import Config
from reconciler.core.model.privileges import PRIVILEGES
from reconciler.core.model.values import LiveState
from reconciler.pi.wire import NEW_USER_DEFAULTS
from reconciler.shell.repo.desired_files import load
from reconciler.shell.server.live import read_live
from tests.shell.asgi import server_for

CATEGORIES = [
    {"name": "Finance", "parent": None},
    {"name": "Budgets", "parent": "Finance"},
    {"name": "Q1 Budgets", "parent": "Budgets"},
    {"name": "Sales", "parent": None},
    {"name": "HR", "parent": None},
]
PARENTS = {c["name"]: c["parent"] for c in CATEGORIES}

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s != "")


def with_parents(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        while name is not None and name not in out:
            out.append(name)
            name = PARENTS[name]
    return out


@st.composite
def servers(draw: st.DrawFn) -> dict[str, Any]:
    role_names = draw(
        st.lists(st.sampled_from(["Viewers", "Editors", "Finance Team", "Ops [EU]"]), unique=True)
    )
    roles = [
        {
            "name": name,
            "description": draw(st.one_of(st.none(), text)),
            "categories": with_parents(draw(st.lists(st.sampled_from(list(PARENTS)), max_size=2))),
            "privileges": draw(st.lists(st.sampled_from(PRIVILEGES), unique=True, max_size=3)),
        }
        for name in role_names
    ]
    codes = draw(
        st.lists(
            st.from_regex(r"[A-Za-z][A-Za-z0-9._@-]{0,8}", fullmatch=True),
            min_size=1,
            max_size=5,
            unique_by=str.upper,
        ).filter(lambda cs: "ADMIN" not in {c.upper() for c in cs})
    )
    users = []
    for code in codes:
        password, external = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
        user: dict[str, Any] = {
            "usercode": code,
            "forenames": draw(text),
            "surname": draw(text),
            "userTypeId": draw(st.integers(0, 4)),
            "clientEnabled": draw(st.booleans()),
            "lite": draw(st.booleans()),
            "allowPasswordLogin": password,
            "allowExternalLogin": external,
            "requireMfa": draw(st.booleans()),
            **{p: True for p in draw(st.lists(st.sampled_from(PRIVILEGES), max_size=4))},
        }
        if draw(st.booleans()):
            user["email"] = f"{re.sub('[^a-z0-9]', '', code.lower()) or 'x'}@example.com"
        if draw(st.booleans()):
            user["userExpirationDate"] = draw(st.sampled_from(["2027-01-31", "2030-12-01"]))
        if draw(st.booleans()):
            user["themeName"] = draw(st.sampled_from(["dark", "piBerry", "Corporate Blue"]))
        variables = [
            {"name": name, "value": draw(text), "isSecure": draw(st.booleans())}
            for name in draw(st.lists(st.sampled_from(["region", "db pw", "x-1"]), unique=True))
        ]
        restrictions = [
            {"dataConnectionIdentifier": "Sales DB", "columnIdentifier": "Region", "value": v}
            for v in draw(st.lists(st.sampled_from(["N", "E", "South"]), unique=True))
        ]
        users.append(
            {
                "user": user,
                "variables": variables,
                "restrictions": restrictions,
                "userRoles": [
                    {"roleIdentifier": r}
                    for r in draw(st.lists(st.sampled_from(role_names or ["-"]), unique=True))
                    if r != "-"
                ],
                "userCategories": [
                    {"categoryIdentifier": c}
                    for c in with_parents(
                        draw(st.lists(st.sampled_from(list(PARENTS)), max_size=3))
                    )
                ],
            }
        )
    return {"categories": CATEGORIES, "roles": roles, "users": users}


async def live_of(seed: dict[str, Any]) -> LiveState:
    async with server_for(create_app(EmulatorOptions(seed=seed))) as server:
        return await read_live(server, payload_for=lambda code: True, concurrency=4)


def secrets_for(seed: dict[str, Any]) -> dict[str, str]:
    out = {}
    for element in seed["users"]:
        code = element["user"]["usercode"].upper()
        for var in element["variables"]:
            if var["isSecure"]:
                name = re.sub(r"[^A-Z0-9]+", "_", f"{code}_{var['name']}".upper()).strip("_")
                out[f"PISYNC_VAR_{name}"] = var["value"]
    return out


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=servers(), layout=st.sampled_from(list(Layout)))
def test_import_then_plan_is_empty(seed: dict[str, Any], layout: Layout, tmp_path: Path) -> None:
    live = asyncio.run(live_of(seed))
    result = export(live, defaults=NEW_USER_DEFAULTS, layout=layout, skip=["ADMIN"])
    root = tmp_path / f"repo-{abs(hash(repr(seed)))}-{layout.value}"
    for f in result.files:
        (root / f.path).parent.mkdir(parents=True, exist_ok=True)
        (root / f.path).write_text(f.text, encoding="utf-8")
    loaded = load([str(root / "users")], None) if result.files else None
    if loaded is None:
        assert live.users.keys() == {"ADMIN"}
        return
    assert [i for i in loaded.issues if i.severity == "error"] == []
    assert loaded.desired is not None
    plan = diff(loaded.desired, live, Config(), server="s", secrets=secrets_for(seed))
    assert plan.changes == ()
    # the why of a grant is the repository's to say: import writes no grant metadata
    assert all(not u.meta for u in loaded.desired.users)
