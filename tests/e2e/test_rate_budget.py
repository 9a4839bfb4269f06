"""The rate budget: ``server.max_requests_per_second`` (or ``--max-rps``) caps the requests a
run sends per second, every attempt counted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import pisync

pytestmark = pytest.mark.e2e

CODES = [f"R{i:02d}" for i in range(20)]


def repo(root: Path, config: str) -> Path:
    (root / "users").mkdir(parents=True)
    (root / "pisync.yaml").write_text(config, encoding="utf-8")
    (root / "users" / "a.yaml").write_text(
        "users:\n" + "".join(f"  - {{usercode: {c}, forenames: F, surname: {c}}}\n" for c in CODES),
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize(
    ("config", "args"),
    [("server: {max_requests_per_second: 8}\n", []), ("", ["--max-rps", "8"])],
    ids=["config", "flag"],
)
def test_the_rate_budget_spaces_the_requests(
    emulator_factory: Any, tmp_path: Path, config: str, args: list[str]
) -> None:
    emu = emulator_factory(
        {"users": [{"user": {"usercode": c, "forenames": "F", "surname": c}} for c in CODES]}
    )
    root = repo(tmp_path / "repo", config)
    free = pisync(["plan"], cwd=root, url=emu.url)
    emu.clear_requests()
    started = time.monotonic()
    capped = pisync([*args, "plan"], cwd=root, url=emu.url)
    elapsed = time.monotonic() - started
    sent = len(emu.requests())

    assert (free.code, capped.code) == (0, 0), capped.all
    assert capped.out == free.out
    assert sent >= 24  # sign-in, three lists, twenty payloads
    # a burst of 8 in the first second, then 8 per second
    assert elapsed >= (sent - 8) / 8 - 0.2, (sent, elapsed)
