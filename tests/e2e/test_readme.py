"""The README's samples are what pisync prints: its worked example is run through the real CLI
against a real emulator process seeded with examples/seed.json, and every block marked
``<!-- sample: NAME -->`` must match the output line for line (a line ``...`` in a sample stands
for lines left out). The plain-shell CI steps of docs/ci-recipes.md are run the same way.

Only what differs from run to run is normalised: the emulator's address (shown as
``https://pi.example.com:8224``) and request times (``(N ms)``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BIN, ROOT, Result, free_port, pisync

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
CI_RECIPES = ROOT / "docs" / "ci-recipes.md"
SEED = ROOT / "examples" / "seed.json"

#: Every sample the README marks, each checked below.
SAMPLES = {
    "doctor",
    "doctor-write",
    "import",
    "no-changes",
    "validate",
    "plan",
    "changed-since",
    "verbose",
    "plan-quiet",
    "show-summary",
    "apply",
}


def marked(page: Path, kind: str) -> dict[str, str]:
    """The fenced blocks of ``page`` preceded by ``<!-- kind: NAME -->``, by NAME."""
    text = page.read_text(encoding="utf-8")
    found = re.findall(rf"^<!-- {kind}: (\S+) -->\n```[a-z]*\n(.*?)^```$", text, re.M | re.S)
    return dict(found)


def normalise(text: str, port: int) -> str:
    for host in (f"127.0.0.1:{port}", f"<host>:{port}"):
        shown = "pi.example.com:8224" if host.startswith("127") else "<host>:8224"
        text = text.replace(f"http://{host}", f"https://{shown}")
    return re.sub(r"\(\d+ ms\)", "(N ms)", text).strip("\n")


def assert_sample(name: str, output: str, port: int) -> None:
    """The README's sample ``name`` is ``output``: line for line, ``...`` skipping lines."""
    sample = re.sub(r"\(\d+ ms\)", "(N ms)", marked(README, "sample")[name]).strip("\n")
    shown = normalise(output, port)
    parts = [p.strip("\n") for p in re.split(r"^\.\.\.$", sample, flags=re.M)]
    if len(parts) == 1:
        assert shown == sample, f"README sample {name!r} differs from what pisync printed"
        return
    assert shown.startswith(parts[0]), name
    assert shown.endswith(parts[-1]), name
    at = 0
    for part in parts:
        found = shown.find(part, at)
        assert found >= 0, f"README sample {name!r}: not printed in this order:\n{part}"
        at = found + len(part)


def test_every_marked_sample_is_checked() -> None:
    assert set(marked(README, "sample")) == SAMPLES


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def edit_as_the_readme_says(repo: Path) -> None:
    (repo / "users" / "lchen.yaml").write_text(
        marked(README, "input")["users/lchen.yaml"], encoding="utf-8"
    )
    line = marked(README, "edit")["users/cjones.yaml"].rstrip("\n")
    new, _, was = line.partition("#")
    old = "    " + was.strip().removeprefix("was: ")
    path = repo / "users" / "cjones.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old + "\n") == 1, "the README's edit no longer matches what import writes"
    path.write_text(text.replace(old + "\n", new.rstrip() + "\n"), encoding="utf-8")


def ok(r: Result, code: int = 0) -> Result:
    assert r.code == code, r.all
    return r


def test_the_worked_example(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(_seed())
    port = emu.port

    assert_sample("doctor", ok(pisync(["doctor"], cwd=tmp_path, url=emu.url)).out, port)
    r = ok(pisync(["doctor", "--write-check", "--yes"], cwd=tmp_path, url=emu.url))
    assert_sample("doctor-write", r.out, port)
    r = ok(pisync(["import", "--out", "my-pi"], cwd=tmp_path, url=emu.url))
    assert_sample("import", r.out, port)
    repo = tmp_path / "my-pi"
    assert_sample("no-changes", ok(pisync(["plan"], cwd=repo, url=emu.url)).out, port)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Users and roles as of today")

    edit_as_the_readme_says(repo)
    assert_sample("validate", ok(pisync(["validate"], cwd=repo)).out, port)
    assert_sample("plan", ok(pisync(["plan"], cwd=repo, url=emu.url)).out, port)
    r = ok(pisync(["plan", "--changed-since", "main", "--summary"], cwd=repo, url=emu.url))
    assert_sample("changed-since", r.out, port)
    r = ok(pisync(["plan", "--target", "lchen", "-v"], cwd=repo, url=emu.url))
    assert_sample("verbose", r.err, port)
    r = ok(pisync(["plan", "--out", "plan.json", "-q"], cwd=repo, url=emu.url))
    assert_sample("plan-quiet", r.out, port)
    r = ok(pisync(["show", "plan.json", "--summary"], cwd=repo, unset=["PISYNC_PASSWORD"]))
    assert_sample("show-summary", r.out, port)
    assert_sample("apply", ok(pisync(["apply", "plan.json"], cwd=repo, url=emu.url)).out, port)
    r = ok(pisync(["plan"], cwd=repo, url=emu.url))
    assert_sample("no-changes", r.out, port)
    assert f"and the last `pisync plan` says `{r.out.strip()}`" in README.read_text("utf-8")


def _seed() -> dict[str, Any]:
    import json

    return dict(json.loads(SEED.read_text(encoding="utf-8")))


# --- the quick start's emulator ------------------------------------------------------------


def shell_env() -> dict[str, str]:
    """A new user's shell after ``make install``: pisync and pi-emulator on PATH, no pisync
    variables set yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1", COLUMNS="200")
    return env


def test_the_quick_start_emulator_block_works_as_written(tmp_path: Path) -> None:
    """The block is run as a person runs it, on a free port instead of 8224: the emulator in
    the background from the clone (the seed path is the clone's), the rest in a shell, then
    the quick start's two commands, which print exactly the quick start's samples."""
    block = marked(README, "try")["emulator"]
    port = free_port()
    first, *rest = block.replace("8224", str(port)).strip("\n").splitlines()
    assert first.endswith(" &"), "the quick start starts the emulator in the background"
    emulator = subprocess.Popen(
        shlex.split(first.removesuffix("&")),
        cwd=ROOT,
        env=shell_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_ready(emulator, port)
        quick = marked(README, "quick")["start"]
        script = "\n".join(["set -e", *rest, *quick.strip("\n").splitlines()])
        step = subprocess.run(
            ["sh", "-c", script],
            cwd=tmp_path,
            env=shell_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        emulator.terminate()
        emulator.communicate(timeout=20)
    assert step.returncode == 0, step.stdout + step.stderr
    samples = marked(README, "sample")
    shown = normalise(step.stdout, port)
    assert shown == samples["import"].strip("\n") + "\n" + samples["no-changes"].strip("\n")


def test_the_quick_start_names_the_emulators_sign_in() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") : text.index("## A worked example")]
    assert "`admin` / `dashboard`" in quick
    assert (
        "export PISYNC_USERNAME=admin PISYNC_PASSWORD=dashboard"
        in marked(README, "try")["emulator"]
    )


def wait_until_ready(emulator: subprocess.Popen[str], port: int) -> None:
    """Until its health check answers, as a person waits for its start-up line."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if emulator.poll() is not None:
            raise AssertionError(f"the emulator exited: {emulator.communicate()[1]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the emulator did not answer within 20 s")


# --- the plain-shell CI steps of docs/ci-recipes.md --------------------------------------


def run_step(name: str, repo: Path, url: str) -> subprocess.CompletedProcess[str]:
    script = marked(CI_RECIPES, "ci")[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PISYNC_", "GITHUB_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PISYNC_URL=url,
        PISYNC_USERNAME="admin",
        PISYNC_PASSWORD="dashboard",
        NO_COLOR="1",
    )
    return subprocess.run(
        ["sh", "-c", script], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


def test_the_ci_recipe_steps_are_the_ones_checked() -> None:
    assert set(marked(CI_RECIPES, "ci")) == {"plan", "apply"}


def test_the_plain_shell_ci_steps_plan_then_apply(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(_seed())
    ok(pisync(["import", "--out", "repo"], cwd=tmp_path, url=emu.url))
    repo = tmp_path / "repo"

    step = run_step("plan", repo, emu.url)  # no changes: exit 0, a plan to keep anyway
    assert (step.returncode, step.stderr) == (0, ""), step.stderr
    assert (repo / "plan.md").read_text(encoding="utf-8").strip() != ""

    edit_as_the_readme_says(repo)
    step = run_step("plan", repo, emu.url)  # changes: exit 2 from plan, and the step passes
    assert step.returncode == 0, step.stdout + step.stderr
    assert "Plan: 1 to create, 1 to update, 0 to disable, 0 to delete." in step.stdout
    assert "LCHEN" in (repo / "plan.md").read_text(encoding="utf-8")

    step = run_step("apply", repo, emu.url)
    assert step.returncode == 0, step.stdout + step.stderr
    assert "Apply complete: 1 created, 1 updated, 0 disabled, 0 deleted, 0 failed." in step.stdout
    assert (repo / "apply-report.json").is_file()
    r = ok(pisync(["plan"], cwd=repo, url=emu.url))
    assert r.out == "No changes. Panintelligence matches the desired state.\n"

    step = run_step("apply", repo, emu.url)  # the same plan again: its creations exist now
    assert step.returncode == 5, step.stdout + step.stderr


def test_the_plain_shell_plan_step_fails_on_invalid_yaml(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(_seed())
    ok(pisync(["import", "--out", "repo"], cwd=tmp_path, url=emu.url))
    repo = tmp_path / "repo"
    (repo / "users" / "bad.yaml").write_text("users:\n  - usercode: x\n    surnme: X\n", "utf-8")
    step = run_step("plan", repo, emu.url)
    assert step.returncode == 3
    assert 'unknown key "surnme" in this user; did you mean "surname"?' in step.stdout
    assert not (repo / "plan.json").exists()
