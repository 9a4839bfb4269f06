"""The one seeded data generator every benchmark draws from: an organisation, the server that
holds it, and the desired-state repository that declares it.

A :class:`Workload` names what a benchmark measures; the rest follows from it and its seed:

- ``users`` declared users (each an entry of a desired-state file);
- ``new``: the share of them the server does not hold yet (a first rollout: 0.5 is "half of
  them are new"), chosen among the users who are not managers;
- ``changed``: the share of the users the server *does* hold whose live copy differs from the
  files (a new email, half of them a role too);
- ``per_file``: users per desired-state file (500: 200 files at 100,000 users).

(Fleet sizes, one repository for several servers, are to be added here as another parameter.)

The organisation looks like a real one: a two-level category tree, 20 roles (each with a
category and two privileges), every non-administrator user type, a manager for 30% of the
users (the first 1% are managers), 1-2 roles and 1-2 categories each, privileges, a region
variable (a cost centre on 30%, a secure variable on 10% read from ``SECRET_ENV``),
data-connection restrictions on 20%, expiry dates on 30%, 5% disabled; names with accents and
apostrophes.

:func:`materialise` writes it once into the git-ignored ``benchmarks/.data/`` (reused while
the generator's version and the workload are the same):

- ``seed.json``: the emulator's seed (``pi-emulator --seed``), the server's side;
- ``naive.json``: every declared user's complete sync element (a naive sync's payloads);
- ``repo/``: ``pisync.yaml``, ``users/roles.yaml`` and the users in files of ``per_file``,
  committed to git (``--changed-since`` needs history);
- ``codes.json``: every declared usercode (what a client that checks each one reads);
- ``meta.json``: the counts (:class:`Facts`).

Everything a benchmark compares is computed from this data in the same run; nothing here
knows pisync beyond the names the wire and the YAML share.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.core.model.privileges import PRIVILEGES as ALL_PRIVILEGES
from reconciler.core.model.privileges import USER_TYPES

#: Bump when the generated data changes, so that cached data is made again.
VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"

#: The environment variable the secure variables are read from, and its value.
SECRET_ENV = "BENCH_WAREHOUSE_KEY"
SECRET_VALUE = "bench-warehouse-key-7d1f"

FORENAMES = ["John", "Mary", "Ahmed", "Li", "Olga", "Sofia", "Kwame", "Aiko", "Pedro", "Anna",
             "Zoë", "José", "Siobhán", "Łukasz"]  # fmt: skip
SURNAMES = ["Smith", "Jones", "Khan", "Wang", "Ivanova", "Garcia", "Mensah", "Sato", "Silva",
            "O'Brien", "Müller", "van der Berg"]  # fmt: skip
#: user types and their weights (no administrators: a policy benchmark counts those)
TYPES = {"user": 4, "chart-viewer": 3, "chart-explorer": 2, "designer": 1}
TREE = {
    "Finance": ["Budgets", "Forecasts", "Payroll", "Tax"],
    "Sales": ["Sales North", "Sales South", "Sales East", "Sales West"],
    "HR": ["Recruiting", "Benefits", "Training"],
    "Operations": ["Logistics", "Facilities", "Procurement"],
    "Marketing": ["Campaigns", "Brand"],
    "Support": ["Tier 1", "Tier 2"],
}
LEAVES = [leaf for kids in TREE.values() for leaf in kids]
PARENT = {leaf: top for top, kids in TREE.items() for leaf in kids}
ROLES = [f"Team {i:02d} Viewer" for i in range(20)]
#: privileges a user may hold beyond the four everyone has
OPTIONAL = ["exportToCsv", "exportToExcel", "pdf", "schedule", "saveFilters", "subscription",
            "editCharts", "collaborate"]  # fmt: skip
ALWAYS = ["accessAccount", "audit", "editOwnPassword", "logoutEnabled"]
REGIONS = ["North", "South", "East", "West", "APAC", "UK", "EMEA"]
CONNECTIONS = [("Sales DB", "Region"), ("Finance DW", "Cost Centre"), ("HR Mart", "Department")]


@dataclass(frozen=True, slots=True)
class Workload:
    """What a benchmark measures (see the module docstring)."""

    users: int
    changed: float = 0.10
    new: float = 0.0
    per_file: int = 500
    seed: int = 20261201

    @property
    def name(self) -> str:
        return (
            f"v{VERSION}-{self.users}-c{self.changed:g}-n{self.new:g}-f{self.per_file}-s{self.seed}"
        )

    @property
    def label(self) -> str:
        """How a table names it."""
        parts = [f"{self.users:,} users"]
        if self.new:
            parts.append(f"{self.new:.0%} new")
        parts.append(f"{self.changed:.0%} of the existing differing")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    description: str
    categories: tuple[str, ...]
    privileges: tuple[str, ...]


@dataclass(slots=True)
class Person:
    """One declared user, as the files declare it."""

    usercode: str
    forenames: str
    surname: str
    email: str
    type: str
    enabled: bool
    parent: str | None
    roles: list[str]
    categories: list[str]  # leaves only: the server adds the parents
    privileges: list[str]
    variables: dict[str, Any]  # name -> value, or {"env": SECRET_ENV, "secure": True}
    restrictions: list[tuple[str, str, list[str]]]
    expires: str | None
    manager: bool = False


@dataclass(frozen=True, slots=True)
class Facts:
    """What the generated data holds: the counts a benchmark checks its results against."""

    users: int  # declared
    on_server: int  # declared users the server holds (its ADMIN aside)
    creates: int  # declared users the server does not hold
    updates: int  # declared users whose live copy differs
    files: int  # desired-state files of users (roles.yaml aside)
    yaml_bytes: int
    list_pages: int  # pages of 500 in the server's user list (ADMIN included)

    @property
    def changes(self) -> int:
        return self.creates + self.updates


@dataclass(frozen=True, slots=True)
class Generated:
    """A materialised workload: where its files are, and what they hold."""

    workload: Workload
    folder: Path
    facts: Facts
    seed: Path = field(init=False)
    naive: Path = field(init=False)
    repo: Path = field(init=False)
    codes: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", self.folder / "seed.json")
        object.__setattr__(self, "naive", self.folder / "naive.json")
        object.__setattr__(self, "repo", self.folder / "repo")
        object.__setattr__(self, "codes", self.folder / "codes.json")


# --- the organisation -------------------------------------------------------------------------


def roles(seed: int = 20261201) -> list[Role]:
    rng = random.Random(seed ^ 0x5EED)
    return [
        Role(
            name=name,
            description=f"{name}: generated role",
            categories=(rng.choice(LEAVES),),
            privileges=tuple(sorted(rng.sample(OPTIONAL, 2))),
        )
        for name in ROLES
    ]


def people(workload: Workload) -> list[Person]:
    """The declared users, in usercode order."""
    rng = random.Random(workload.seed)
    managers = workload.users // 100
    out = []
    for n in range(workload.users):
        code = f"U{n:06d}"
        variables: dict[str, Any] = {"region": rng.choice(REGIONS)}
        if rng.random() < 0.3:
            variables["costCentre"] = str(rng.randint(1000, 9999))
        if rng.random() < 0.1:
            variables["warehouseKey"] = {"env": SECRET_ENV, "secure": True}
        restrictions = []
        if rng.random() < 0.2:
            conn, col = rng.choice(CONNECTIONS)
            restrictions.append((conn, col, sorted(rng.sample(REGIONS, rng.randint(1, 2)))))
        out.append(
            Person(
                usercode=code,
                forenames=rng.choice(FORENAMES),
                surname=rng.choice(SURNAMES),
                email=f"{code.lower()}@example.com",
                type=rng.choices(list(TYPES), weights=list(TYPES.values()))[0],
                enabled=rng.random() >= 0.05,
                parent=(
                    f"U{rng.randrange(managers):06d}"
                    if n >= managers > 0 and rng.random() < 0.3
                    else None
                ),
                roles=sorted(rng.sample(ROLES, rng.randint(1, 2))),
                categories=sorted(rng.sample(LEAVES, rng.randint(1, 2))),
                privileges=sorted(ALWAYS + rng.sample(OPTIONAL, 2)),
                variables=variables,
                restrictions=restrictions,
                expires=(
                    f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                    if rng.random() < 0.3
                    else None
                ),
                manager=n < managers,
            )
        )
    return out


def split(workload: Workload, everyone: Sequence[Person]) -> tuple[set[str], set[str]]:
    """(new, changed) usercodes: exact shares of the users who are not managers (a manager is
    on the server as declared: the others' parent)."""
    rng = random.Random(workload.seed + 1)
    others = [p.usercode for p in everyone if not p.manager]
    new = set(rng.sample(others, round(workload.new * len(others))))
    existing = [c for c in others if c not in new]
    changed = set(rng.sample(existing, round(workload.changed * len(existing))))
    return new, changed


def element(p: Person) -> dict[str, Any]:
    """The complete sync element of a user as the server holds it (what the seed and a naive
    sync send)."""
    user: dict[str, Any] = {
        "usercode": p.usercode,
        "forenames": p.forenames,
        "surname": p.surname,
        "email": p.email,
        "userTypeId": USER_TYPES.index(p.type),
        "clientEnabled": p.enabled,
        "allowPasswordLogin": False,
        "allowExternalLogin": True,
        "userExpirationDate": p.expires,
        **{name: name in p.privileges for name in ALL_PRIVILEGES},
    }
    if p.parent is not None:
        user["parentIdentifier"] = p.parent
    cats = sorted({*p.categories, *(PARENT[c] for c in p.categories)})
    return {
        "user": user,
        "userRoles": [{"roleIdentifier": r} for r in p.roles],
        "userCategories": [{"categoryIdentifier": c} for c in cats],
        "variables": [
            {"name": k, "value": SECRET_VALUE, "isSecure": True}
            if isinstance(v, dict)
            else {"name": k, "value": v, "isSecure": False}
            for k, v in p.variables.items()
        ],
        "restrictions": [
            {"dataConnectionIdentifier": conn, "columnIdentifier": col, "value": v}
            for conn, col, values in p.restrictions
            for v in values
        ],
    }


def live_copy(p: Person) -> Person:
    """The server's copy of a user the files change: another email, and for half of them
    (by usercode) another role."""
    roles = p.roles
    if int(p.usercode[1:]) % 2 == 0:
        roles = [ROLES[0]] if p.roles != [ROLES[0]] else [ROLES[1]]
    return replace(p, email="old." + p.email, roles=roles)


def seed_document(workload: Workload, everyone: Sequence[Person] | None = None) -> dict[str, Any]:
    """The emulator's seed: categories, roles, and the declared users the server holds (the
    changed ones as they were before)."""
    everyone = people(workload) if everyone is None else everyone
    new, changed = split(workload, everyone)
    return {
        "categories": [
            *({"name": top, "parent": None, "helpText": f"{top} reporting"} for top in TREE),
            *({"name": c, "parent": top} for top, kids in TREE.items() for c in kids),
        ],
        "roles": [
            {
                "name": r.name,
                "description": r.description,
                "categories": list(r.categories),
                "privileges": list(r.privileges),
            }
            for r in roles(workload.seed)
        ],
        "users": [
            element(live_copy(p) if p.usercode in changed else p)
            for p in everyone
            if p.usercode not in new
        ],
    }


# --- YAML ---------------------------------------------------------------------------------


def user_yaml(p: Person) -> str:
    """One entry of ``users:``, as a person writes it (short lists inline)."""
    lines = [
        f"  - usercode: {p.usercode}",
        f"    forenames: {p.forenames}",
        f"    surname: {p.surname}",
        f"    email: {p.email}",
        f"    type: {p.type}",
    ]
    if not p.enabled:
        lines.append("    enabled: false")
    if p.parent is not None:
        lines.append(f"    parent: {p.parent}")
    lines += [
        f"    roles: [{', '.join(p.roles)}]",
        f"    categories: [{', '.join(p.categories)}]",
        f"    privileges: [{', '.join(p.privileges)}]",
        "    login: {password: false, external: true}",
        f"    variables: {{{', '.join(_variable(k, v) for k, v in p.variables.items())}}}",
    ]
    if p.restrictions:
        lines.append("    restrictions:")
        lines += [
            f"      - {{connection: {conn}, column: {col}, values: [{', '.join(values)}]}}"
            for conn, col, values in p.restrictions
        ]
    if p.expires:
        lines.append(f"    expires: {p.expires}")
    return "\n".join(lines) + "\n"


def _variable(name: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"{name}: {{env: {value['env']}, secure: true}}"
    return f'{name}: "{value}"' if value.isdigit() else f"{name}: {value}"


def roles_yaml(seed: int) -> str:
    return "roles:\n" + "".join(
        f"  - name: {r.name}\n    description: '{r.description}'\n"
        f"    categories: [{', '.join(r.categories)}]\n"
        f"    privileges: [{', '.join(r.privileges)}]\n"
        for r in roles(seed)
    )


def document(p: Person) -> dict[str, Any]:
    """One user's entry as a YAML document holds it (for the emitter benchmark)."""
    doc: dict[str, Any] = {
        "usercode": p.usercode,
        "forenames": p.forenames,
        "surname": p.surname,
        "email": p.email,
        "type": p.type,
        "roles": p.roles,
        "categories": p.categories,
        "privileges": p.privileges,
        "login": {"password": False, "external": True},
        "variables": p.variables,
    }
    if not p.enabled:
        doc["enabled"] = False
    if p.parent is not None:
        doc["parent"] = p.parent
    if p.restrictions:
        doc["restrictions"] = [
            {"connection": c, "column": k, "values": v} for c, k, v in p.restrictions
        ]
    if p.expires:
        doc["expires"] = p.expires
    return doc


CONFIG = """\
sources: ["users/**/*.yaml"]
server: {concurrency: 16, timeout: 60}
users: {prune: 'off'}
"""


def write_repo(repo: Path, workload: Workload, everyone: Sequence[Person]) -> tuple[int, int]:
    """``pisync.yaml``, ``users/roles.yaml`` and the users in files of ``per_file``; returns
    (files of users, bytes of YAML)."""
    (repo / "users").mkdir(parents=True)
    (repo / "pisync.yaml").write_text(CONFIG, encoding="utf-8")
    text = roles_yaml(workload.seed)
    (repo / "users" / "roles.yaml").write_text(text, encoding="utf-8")
    size, files = len(text.encode()), 0
    for start in range(0, len(everyone), workload.per_file):
        body = "users:\n" + "".join(
            user_yaml(p) for p in everyone[start : start + workload.per_file]
        )
        path = repo / "users" / f"team-{start // workload.per_file:04d}.yaml"
        path.write_text(body, encoding="utf-8")
        size += len(body.encode())
        files += 1
    return files, size


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=b@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def materialise(workload: Workload, *, root: Path = DATA) -> Generated:
    """The workload's files, generated once (seeded) and reused."""
    folder = root / workload.name
    meta = folder / "meta.json"
    if meta.exists():
        return Generated(workload, folder, Facts(**json.loads(meta.read_text("utf-8"))))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    everyone = people(workload)
    new, changed = split(workload, everyone)
    seed = seed_document(workload, everyone)
    (folder / "seed.json").write_text(json.dumps(seed), encoding="utf-8")
    (folder / "naive.json").write_text(json.dumps([element(p) for p in everyone]), encoding="utf-8")
    (folder / "codes.json").write_text(json.dumps([p.usercode for p in everyone]), "utf-8")
    files, size = write_repo(folder / "repo", workload, everyone)
    git(folder / "repo", "init", "-q")
    git(folder / "repo", "add", "-A")
    git(folder / "repo", "commit", "-q", "-m", "desired state")
    on_server = len(seed["users"])
    facts = Facts(
        users=len(everyone),
        on_server=on_server,
        creates=len(new),
        updates=len(changed),
        files=files,
        yaml_bytes=size,
        list_pages=-(-(on_server + 1) // 500),
    )
    meta.write_text(json.dumps(asdict(facts)), encoding="utf-8")
    return Generated(workload, folder, facts)


def secret_env() -> dict[str, str]:
    """The environment a plan of the generated repository needs."""
    return {SECRET_ENV: SECRET_VALUE}
