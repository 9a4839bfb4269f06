"""Did-you-mean: the option a misspelt word most likely meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
