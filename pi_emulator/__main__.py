"""``pi-emulator`` and ``python -m pi_emulator``: start the emulator (cli.py).

The server's own packages (Starlette, uvicorn, httpx, PyJWT, cryptography, httptools) come
with the ``emulator`` extra, ``pisync[emulator]``, so that a production install of pisync stays
lean. Without them this says so in one line and exits 1, instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

#: the top-level modules of the ``emulator`` extra's packages and what they pull in
EXTRA_MODULES: Final = frozenset(
    {"starlette", "uvicorn", "httpx", "httpcore", "h11", "anyio", "sniffio", "jwt",
     "cryptography", "httptools"}
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from pi_emulator import cli  # here: a missing extra is a message, not a traceback
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in EXTRA_MODULES:
            raise
        print(
            f"pi-emulator: the {missing} package is not installed: install pisync with its "
            f"emulator extra, pisync[emulator] (in a clone of pisync: pip install '.[emulator]')",
            file=sys.stderr,
        )
        return 1
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
