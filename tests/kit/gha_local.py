"""A small local stand-in for the GitHub Actions runner, enough to run the kit's workflows in a
test (imported by name: pytest puts this directory on sys.path).

It runs ONE job of a workflow file step by step, as the runner does: the job's ``if`` (with
the ``needs`` results the test gives); the secrets of the job's ``environment`` only (merged
over the repository's, as GitHub does); each step's ``if`` (with the implicit ``success() &&``);
``${{ … }}`` expressions in ``env``, ``with`` and ``run`` (contexts ``github``, ``env``,
``vars``, ``secrets``, ``inputs``, ``steps``, ``runner``, ``needs``, ``job``; operators
``! == != && || ( )``; functions ``success() failure() always() cancelled() hashFiles()
format() contains() startsWith()``; GitHub's loose equality and case-insensitive string
comparison); ``run:`` steps through ``bash --noprofile --norc -eo pipefail`` in the step's
``working-directory``, with ``GITHUB_ENV``, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` files
per step; workflow commands (``::error::`` …) collected from the output. ``uses:`` steps are
handed to stubs the test supplies (checkout, setup-python, upload/download-artifact).

What it does not do: concurrency groups, several jobs at once (a test runs each job, handing
it the ``needs`` of the ones before), environment protection rules (reviewers, branches),
permissions (the token is whatever the test gives), services, matrices, composite actions,
``continue-on-error``, timeouts, re-runs.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


def load_workflow(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text())
    assert isinstance(data, dict)
    return data


# --- expressions ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[()!<>,])"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_*][A-Za-z0-9_-]*)*))"
)
_STATUS_FUNCTIONS = ("success(", "failure(", "always(", "cancelled(")


class ExpressionError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 0)) if text.lower().startswith(("0x", "0o")) else float(text)
        except ValueError:
            return math.nan
    return math.nan


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _equal(a: Any, b: Any) -> bool:
    if type(a) is type(b) or (isinstance(a, str) and isinstance(b, str)):
        if isinstance(a, str):
            return a.casefold() == b.casefold()
        if isinstance(a, dict | list):
            return a is b
        return bool(a == b)
    x, y = _number(a), _number(b)
    return not (math.isnan(x) or math.isnan(y)) and x == y


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class Evaluator:
    def __init__(self, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]):
        self.contexts = contexts
        self.functions = functions

    def evaluate(self, text: str) -> Any:
        self._toks = _tokens(text)
        self._i = 0
        value = self._or()
        if self._i != len(self._toks):
            raise ExpressionError(f"unexpected {self._toks[self._i][1]!r} in {text!r}")
        return value

    def _peek(self) -> str | None:
        return self._toks[self._i][1] if self._i < len(self._toks) else None

    def _take(self) -> tuple[str, str]:
        tok = self._toks[self._i]
        self._i += 1
        return tok

    # Both sides are always parsed (and evaluated: the kit's expressions have no side effects).
    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._cmp()
        while self._peek() == "&&":
            self._take()
            right = self._cmp()
            value = right if truthy(value) else value
        return value

    def _cmp(self) -> Any:
        value = self._unary()
        op = self._peek()
        if op in ("==", "!=", "<", "<=", ">", ">="):
            self._take()
            right = self._unary()
            if op == "==":
                return _equal(value, right)
            if op == "!=":
                return not _equal(value, right)
            x, y = _number(value), _number(right)
            return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if text == "(":
            value = self._or()
            if self._take()[1] != ")":
                raise ExpressionError("missing )")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind != "id":
            raise ExpressionError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            self._take()
            args: list[Any] = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take()
            return self.functions[text.casefold()](*args)
        parts = text.split(".")
        value: Any = self.contexts.get(parts[0])
        for part in parts[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return value


_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def _format(fmt: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: to_text(args[int(m.group(1))]), fmt)


# --- the runner -----------------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    outcome: str  # success | failure | skipped
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    result: str  # success | failure | skipped
    steps: list[StepRun]
    summary: str
    env: dict[str, str]

    @property
    def outcomes(self) -> list[tuple[str, str]]:
        return [(s.name, s.outcome) for s in self.steps]

    @property
    def annotations(self) -> list[str]:
        return [
            line
            for s in self.steps
            for line in (s.stdout + s.stderr).splitlines()
            if line.startswith(("::error", "::warning", "::notice"))
        ]


#: A ``uses:`` stub: (the step's evaluated ``with``, the runner) -> None, or raise to fail.
Action = Callable[[dict[str, str], "LocalRunner"], None]


class StepFailed(Exception):
    pass


def parse_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` and ``NAME<<DELIMITER`` … ``DELIMITER`` lines, as the runner reads them."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


@dataclass
class LocalRunner:
    workflow: dict[str, Any]
    job: str
    workspace: Path
    temp: Path
    github: dict[str, Any]
    base_env: dict[str, str]
    actions: dict[str, Action]
    vars: dict[str, str] = field(default_factory=dict)
    #: repository-level secrets, and each environment's own
    secrets: dict[str, str] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    needs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env: dict[str, str] = {}
        self.steps_ctx: dict[str, Any] = {}
        self.failed = False
        self.summary = ""
        environment = self.workflow["jobs"][self.job].get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        self.job_secrets = {**self.secrets, **self.environments.get(str(name), {})}

    # expressions
    def _functions(self) -> dict[str, Callable[..., Any]]:
        return {
            "success": lambda: not self.failed,
            "failure": lambda: self.failed,
            "always": lambda: True,
            "cancelled": lambda: False,
            "hashfiles": self._hash_files,
            "format": _format,
            "contains": lambda a, b: (
                to_text(b).casefold() in to_text(a).casefold()
                if isinstance(a, str)
                else any(_equal(x, b) for x in a or [])
            ),
            "startswith": lambda a, b: to_text(a).casefold().startswith(to_text(b).casefold()),
        }

    def _hash_files(self, *patterns: str) -> str:
        found = sorted(
            str(p.relative_to(self.workspace))
            for p in self.workspace.rglob("*")
            if p.is_file()
            and ".git" not in p.relative_to(self.workspace).parts
            and any(fnmatch.fnmatch(str(p.relative_to(self.workspace)), pat) for pat in patterns)
        )
        return "hash:" + ",".join(found) if found else ""

    def evaluator(self, env: Mapping[str, str]) -> Evaluator:
        contexts = {
            "github": self.github,
            "env": dict(env),
            "vars": self.vars,
            "secrets": self.job_secrets,
            "inputs": self.inputs,
            "steps": self.steps_ctx,
            "runner": {"temp": str(self.temp), "os": "Linux"},
            "needs": self.needs,
            "job": {"status": "failure" if self.failed else "success"},
        }
        return Evaluator(contexts, self._functions())

    def interpolate(self, text: str, env: Mapping[str, str]) -> str:
        ev = self.evaluator(env)
        return _EXPR.sub(lambda m: to_text(ev.evaluate(m.group(1))), text)

    def condition(self, cond: Any, env: Mapping[str, str], *, step: bool) -> bool:
        if cond is None:
            return not self.failed if step else True
        if isinstance(cond, bool):
            return cond and (not self.failed or not step)
        text = str(cond).strip()
        match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
        if match:
            text = match.group(1)
        if step and not any(f in text for f in _STATUS_FUNCTIONS):
            text = f"success() && ({text})"
        return truthy(self.evaluator(env).evaluate(text))

    # running
    def run(self) -> JobRun:
        job = self.workflow["jobs"][self.job]
        if not self.condition(job.get("if"), {}, step=False):
            return JobRun("skipped", [], "", {})
        job_env = {k: self.interpolate(to_text(v), {}) for k, v in (job.get("env") or {}).items()}
        self.env = dict(job_env)
        results = []
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index}"
            if not self.condition(step.get("if"), self.env, step=True):
                results.append(StepRun(name, "skipped"))
                if "id" in step:
                    self.steps_ctx[step["id"]] = {"outputs": {}, "outcome": "skipped"}
                continue
            result = self._run_step(index, name, step)
            results.append(result)
            if result.outcome == "failure":
                self.failed = True
            if "id" in step:
                self.steps_ctx[step["id"]] = {"outputs": result.outputs, "outcome": result.outcome}
        return JobRun("failure" if self.failed else "success", results, self.summary, self.env)

    def _run_step(self, index: int, name: str, step: dict[str, Any]) -> StepRun:
        step_env = dict(self.env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = self.interpolate(to_text(value), self.env)
        if "uses" in step:
            action = self.actions[str(step["uses"]).split("@")[0]]
            inputs = {
                k: self.interpolate(to_text(v), self.env)
                for k, v in (step.get("with") or {}).items()
            }
            try:
                action(inputs, self)
            except StepFailed as exc:
                return StepRun(name, "failure", stderr=f"::error::{exc}\n")
            return StepRun(name, "success")
        files = {n: self.temp / f"_runner_{index}_{n}" for n in ("env", "output", "summary")}
        for path in files.values():
            path.write_text("")
        script = self.temp / f"_runner_{index}.sh"
        script.write_text(self.interpolate(str(step["run"]), self.env))
        environ = {
            **self.base_env,
            **step_env,
            "GITHUB_ENV": str(files["env"]),
            "GITHUB_OUTPUT": str(files["output"]),
            "GITHUB_STEP_SUMMARY": str(files["summary"]),
        }
        cwd = self.workspace / self.interpolate(str(step.get("working-directory", ".")), self.env)
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.env.update(parse_env_file(files["env"]))
        self.summary += files["summary"].read_text()
        outputs = parse_env_file(files["output"])
        outcome = "success" if proc.returncode == 0 else "failure"
        return StepRun(name, outcome, proc.stdout, proc.stderr, outputs)


def clean_environment(path_dirs: list[Path]) -> dict[str, str]:
    """The process environment a step starts from: our fake tools first, then the system's."""
    system = [d for d in ("/usr/local/bin", "/usr/bin", "/bin") if os.path.isdir(d)]
    return {"PATH": os.pathsep.join([*map(str, path_dirs), *system]), "LANG": "C.UTF-8"}
