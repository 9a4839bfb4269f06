"""A local emulator of the Panintelligence v2 REST API (users, roles, categories, user sync).

``pi-emulator`` serves it over HTTP; ``create_app`` gives the same ASGI app for in-process
tests. See ``pi_emulator/README.md`` for the endpoints and every guessed ([G]) choice.

The names below are imported on first use, so that importing the package (as the
``pi-emulator`` script does first) needs none of the ``emulator`` extra's packages:
``pi_emulator.__main__`` can then say that the extra is missing, and ``pi_emulator.process``
(a harness that runs the script) works anywhere.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pi_emulator.app import EmulatorApp, create_app
    from pi_emulator.emulator import Emulator, EmulatorOptions
    from pi_emulator.faults import FaultConfig
    from pi_emulator.jwtlogin import JwtKeys
    from pi_emulator.layer import ConnectionDropped
    from pi_emulator.shapes import ShapeConfig
    from pi_emulator.state import SeedError, StateError

__all__ = [
    "ConnectionDropped",
    "Emulator",
    "EmulatorApp",
    "EmulatorOptions",
    "FaultConfig",
    "JwtKeys",
    "SeedError",
    "ShapeConfig",
    "StateError",
    "create_app",
]

_HOMES = {
    "ConnectionDropped": "layer",
    "Emulator": "emulator",
    "EmulatorApp": "app",
    "EmulatorOptions": "emulator",
    "FaultConfig": "faults",
    "JwtKeys": "jwtlogin",
    "SeedError": "state",
    "ShapeConfig": "shapes",
    "StateError": "state",
    "create_app": "app",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pi_emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pi_emulator.{home}"), name)
