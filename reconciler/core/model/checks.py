"""What ``pisync doctor`` found: one :class:`Check` per API assumption, in a :class:`Findings`.

A check is about one thing pisync assumes of the server (``assumption``), what the server did
(``observed``: shapes and counts only, never a name, an email, a value or a host name), whether
that holds (:class:`Result`) and what to do about it (``advice``). ``detail`` may say more for
the person at the terminal (the server's own words, the names involved): the text report
shows it, the JSON report, made to be shared, never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Result(Enum):
    OK = "OK"
    DIFFERENT = "DIFFERENT"  # the server does something else than pisync assumes
    UNKNOWN = "UNKNOWN"  # could not be checked (no data, no credentials, an earlier failure)


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    id: str
    assumption: str
    observed: str
    result: Result
    advice: str = ""
    reference: str = ""  # the API reference item, e.g. "U5"
    detail: str = ""  # for the terminal only (may hold names): never in the JSON report

    @classmethod
    def of(
        cls,
        spec: tuple[str, str, str],
        observed: str,
        result: Result,
        advice: str = "",
        detail: str = "",
    ) -> Check:
        """A check from a table row ``(id, assumption, reference)`` (how the probes list
        what they check) and what was found."""
        id_, assumption, reference = spec
        return cls(
            id=id_,
            assumption=assumption,
            observed=observed,
            result=result,
            advice=advice,
            reference=reference,
            detail=detail,
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "reference": self.reference,
            "assumption": self.assumption,
            "observed": self.observed,
            "result": self.result.value,
            "advice": self.advice,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Findings:
    """Every check, and why the checks stopped early when something that is not about the
    API stood in the way (the server is down, the credentials were refused): what is wrong
    and what to do, never a host name."""

    checks: tuple[Check, ...]
    stopped: str | None = None

    @property
    def passed(self) -> bool:
        return self.stopped is None and passed(self.checks)


def passed(checks: Sequence[Check]) -> bool:
    """Every assumption that could be checked holds (an UNKNOWN is listed, not a failure)."""
    return not any(c.result is Result.DIFFERENT for c in checks)
