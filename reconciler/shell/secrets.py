"""Secrets from the environment: the values of ``{env: NAME}`` variables.

One collector for both sources of need — a desired state (``plan``, ``apply``) and a saved
plan (``apply PLANFILE``): every missing name is reported at once, at the place that asks for
it, as an invalid-state error (exit 3). Values never leave the process except to the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from reconciler.core.model.issues import Issue, error
from reconciler.core.model.values import DesiredState, SourcePos
from reconciler.core.plans.plan import Plan
from reconciler.errors import InvalidStateError
from reconciler.shell.output import note_values


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretNeed:
    """One variable that reads environment variable ``env``."""

    env: str
    usercode: str
    variable: str
    pos: SourcePos | None


def desired_needs(desired: DesiredState, *, secure: bool = True) -> Iterator[SecretNeed]:
    """The environment variables the desired state reads (``secure=False``: not those of
    secure variables, which ``pisync claims`` leaves out unless asked)."""
    for user in desired.users:
        for var in user.fields.get("variables", ()):
            if var.env is not None and (secure or not var.secure):
                yield SecretNeed(
                    env=var.env,
                    usercode=user.usercode,
                    variable=var.name,
                    pos=user.key_pos.get("variables", user.source),
                )


def plan_needs(plan: Plan) -> Iterator[SecretNeed]:
    for change in plan.changes:
        for name, ref in (change.desired.get("variables") or {}).items():
            if isinstance(ref, Mapping) and isinstance(ref.get("env"), str):
                yield SecretNeed(
                    env=ref["env"], usercode=change.key, variable=name, pos=change.source
                )


def read_secrets(needs: Iterable[SecretNeed], env: Mapping[str, str]) -> dict[str, str]:
    """``{NAME: value}`` for every need; all missing names raise at once (exit 3)."""
    values, missing = gather_secrets(needs, env)
    if missing:
        raise InvalidStateError("secrets are missing", missing)
    return values


def gather_secrets(
    needs: Iterable[SecretNeed], env: Mapping[str, str]
) -> tuple[dict[str, str], list[Issue]]:
    """``{NAME: value}`` for every need that is set, and an error for each missing name (once,
    at the first place that asks for it): a plan reports them with its other problems."""
    values: dict[str, str] = {}
    missing: dict[str, Issue] = {}
    for need in needs:
        if need.env in env:
            values[need.env] = env[need.env]
        elif need.env not in missing:
            missing[need.env] = error(
                need.pos,
                f"user {need.usercode}: variable {need.variable} reads environment variable"
                f" {need.env}, which is not set; set it where pisync runs",
                f"users[{need.usercode}].variables.{need.variable}",
            )
    note_values(values.values())  # hidden in every output from here on
    return values, list(missing.values())
