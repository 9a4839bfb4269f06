"""What ``pisync doctor`` found: one :class:`Check` per API assumption.

A check is about one thing pisync assumes of the server (``assumption``), what the server did
(``observed``: shapes and counts only, never a name, an email or a value), whether that holds
(:class:`Result`) and what to do about it (``advice``).
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

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "reference": self.reference,
            "assumption": self.assumption,
            "observed": self.observed,
            "result": self.result.value,
            "advice": self.advice,
        }


def passed(checks: Sequence[Check]) -> bool:
    """Every assumption that could be checked holds (an UNKNOWN is listed, not a failure)."""
    return not any(c.result is Result.DIFFERENT for c in checks)
