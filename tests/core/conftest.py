"""Fixtures shared by the core tests: golden-file comparison.

Golden files live in ``tests/golden/`` and are compared byte for byte. They change only on
purpose: ``PISYNC_UPDATE_GOLDEN=1 pytest tests/core/render/test_render.py`` (``make golden``)
rewrites them, and the diff is reviewed like code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
UPDATE_ENV = "PISYNC_UPDATE_GOLDEN"


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """``golden(name, actual)``: assert ``actual`` equals ``tests/golden/<name>`` exactly."""

    def check(name: str, actual: str) -> None:
        path = GOLDEN_DIR / name
        if os.environ.get(UPDATE_ENV) == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual.encode("utf-8"))
            return
        assert path.exists(), f"{path} is missing; run `make golden` and review the new file"
        expected = path.read_bytes().decode("utf-8")
        assert actual == expected, f"{name} differs from the golden file; see `make golden`"

    return check
