"""Did-you-mean: the option a misspelt word most likely meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Final


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` most likely meant: same but for case, a prefix, or a close spelling."""
    opts = [o for o in options if isinstance(o, str)]
    folded = word.casefold()
    for option in opts:
        if option.casefold() == folded:
            return option
    by_fold = {o.casefold(): o for o in opts}
    close = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.6)
    if close:
        return by_fold[close[0]]
    prefixed = [o for o in opts if len(folded) >= 3 and o.casefold().startswith(folded)]
    return prefixed[0] if len(prefixed) == 1 else None


#: How alike a word and a name must be (difflib's ratio) to be taken for a misspelling of it:
#: "Sales Viewr" and "Sales Viewer" are 0.96; "Sales Editor" and "Sales Viewer", two
#: plausible names, 0.67.
MISSPELLING: Final = 0.85


def misspelling_of(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` is almost surely a misspelling of (ignoring case), or None.

    Stricter than :func:`did_you_mean`, whose hint may point at another real name: this
    one is for turning an unknown name into an error, so no prefixes and a close spelling
    only."""
    by_fold = {o.casefold(): o for o in options}
    close = difflib.get_close_matches(word.casefold(), list(by_fold), n=1, cutoff=MISSPELLING)
    return by_fold[close[0]] if close else None
