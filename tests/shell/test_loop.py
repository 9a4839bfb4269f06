"""The event-loop runner never formats a flow's result (a plan and live state of 100,000 users
would be a repr of hundreds of MB, built by Python 3.11's Runner for a message it drops)."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from reconciler.shell.loop import run, run_in


class Loud:
    """Counts how often it is formatted."""

    reprs = 0

    def __repr__(self) -> str:
        Loud.reprs += 1
        return "Loud()"


async def make() -> Loud:
    return Loud()


def test_run_returns_the_value_without_formatting_it() -> None:
    Loud.reprs = 0
    value = run(make())
    assert isinstance(value, Loud)
    assert Loud.reprs == 0


def test_run_in_returns_each_value_without_formatting_it() -> None:
    Loud.reprs = 0
    with asyncio.Runner() as runner:
        values = [run_in(runner, make()), run_in(runner, make())]
    assert [type(v) for v in values] == [Loud, Loud]
    assert Loud.reprs == 0


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the Runner behaviour of 3.11")
def test_plain_asyncio_run_formats_the_result_on_3_11() -> None:
    """The control: what loop.run exists to avoid. asyncio's Runner does this only while
    SIGINT has Python's default handler (a test before this one may have left another)."""
    Loud.reprs = 0
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        asyncio.run(make())
    finally:
        signal.signal(signal.SIGINT, before)
    assert Loud.reprs >= 1


def test_an_exception_still_propagates() -> None:
    async def fail() -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError, match=r"^boom$"):
        run(fail())


def test_the_loop_is_uvloops_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    assert run(loop_type()) is uvloop.Loop
