"""A local emulator of the Panintelligence v2 REST API (users, roles, categories, user sync).

``pi-emulator`` serves it over HTTP; ``create_app`` gives the same ASGI app for in-process
tests. See ``pi_emulator/README.md`` for the endpoints and every guessed ([G]) choice.
"""

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
