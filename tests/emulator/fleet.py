"""A fleet of real ``pi-emulator`` processes for tests: ``emulator_fleet(*members)`` starts
them (each with its own seed and options, on its own free port), waits until each is ready,
returns them in order (``.url`` is each one's API base, ``.control`` its ``/_emulator``) and
stops every one at the end of the test, failed or not.

The machinery is ``pi_emulator.process.fleet`` (standard library only), so that end-to-end
tests and benchmarks outside this folder can use it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pi_emulator.process import EmulatorProcess, Member, fleet

__all__ = ["Member", "emulator_fleet"]

StartFleet = Callable[..., list[EmulatorProcess]]


@pytest.fixture
def emulator_fleet(tmp_path: Path) -> Iterator[StartFleet]:
    """``emulator_fleet(Member(seed=...), Member(args=[...]), ...)`` -> the started emulators."""
    with contextlib.ExitStack() as stack:

        def start(*members: Member, ready_timeout: float = 60.0) -> list[EmulatorProcess]:
            return stack.enter_context(fleet(tmp_path, members, ready_timeout=ready_timeout))

        yield start
