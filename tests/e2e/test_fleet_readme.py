"""The README's "Many servers" samples are what pisync prints: examples/fleet/ run through the
real CLI against three emulator processes, and every block marked ``<!-- fleet-sample: NAME
-->`` must match the output (a line ``...`` stands for lines left out). Only each emulator's
address differs from the example's ``url`` of its server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.fleet_repo import EXAMPLE, SEED, SERVERS, fleet_repo, run
from tests.emulator.fleet import Member, StartFleet, emulator_fleet

pytestmark = pytest.mark.e2e

__all__ = ["emulator_fleet"]  # the fixture, for this module's tests

README = ROOT / "README.md"


def samples() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"^<!-- fleet-sample: (\S+) -->\n```[a-z]*\n(.*?)^```$", text, re.M | re.S)
    return dict(found)


def example_urls() -> dict[str, str]:
    text = (EXAMPLE / "pisync.yaml").read_text(encoding="utf-8")
    return dict(re.findall(r"\n  (\S+):\n    url: (\S+)", text))


def matches(sample: str, actual: str) -> bool:
    """``sample``'s lines appear in ``actual`` in order, each run between ``...`` lines
    contiguous; without ``...`` at an end, that end must be ``actual``'s."""
    wanted = sample.strip("\n").split("\n")
    lines = actual.strip("\n").split("\n")
    chunks: list[list[str]] = [[]]
    for line in wanted:
        if line == "...":
            chunks.append([])
        else:
            chunks[-1].append(line)
    at = 0
    for i, chunk in enumerate(chunks):
        if not chunk:
            continue
        found = next(
            (
                j
                for j in range(at, len(lines) - len(chunk) + 1)
                if lines[j : j + len(chunk)] == chunk
            ),
            None,
        )
        if found is None or (i == 0 and found != 0):
            return False
        at = found + len(chunk)
    return not chunks[-1] or at == len(lines)


def test_the_many_servers_samples(tmp_path: Path, emulator_fleet: StartFleet) -> None:
    emus = emulator_fleet(*(Member(seed=SEED) for _ in SERVERS))
    repo = fleet_repo(tmp_path, emus)
    shown = example_urls()

    def said(*args: str) -> str:
        r = run(list(args), repo)
        assert r.code == 0, r.all
        text = r.out
        for name, emu in zip(SERVERS, emus, strict=True):
            text = text.replace(emu.url, shown[name])
        return text

    outputs = {
        "show-desired": said("show-desired", "--server", "staging"),
        "plan": said("plan", "--summary"),
    }
    said("plan", "--out", "fleet.json", "-q")
    outputs["apply"] = said("apply", "fleet.json")
    outputs["no-changes"] = said("plan", "--all-servers", "-q")

    assert sorted(samples()) == sorted(outputs)
    for name, sample in samples().items():
        assert matches(sample, outputs[name]), f"{name}:\n{outputs[name]}"


def test_the_sample_matcher_needs_the_lines_in_order() -> None:
    assert matches("a\n...\nc", "a\nb\nc")
    assert not matches("a\n...\nc", "x\na\nb\nc")
    assert not matches("c\n...\na", "a\nb\nc")
    assert matches("...\nb\n...", "a\nb\nc")
    assert not matches("a\nb", "a\nb\nc")
