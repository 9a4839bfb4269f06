"""``pi-emulator``'s options and server (uvicorn); ``__main__`` starts it.

Exit codes: 0 after a clean shutdown (SIGTERM included), 130 after Ctrl-C, 2 for bad
options or an unusable seed or state file, 1 if the server cannot start (e.g. port taken).

The socket is bound before anything else is done (so a port in use fails at once, before a
large seed is loaded), and the ready line is printed only once the server listens.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib.util
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import uvicorn

from pi_emulator.app import create_app
from pi_emulator.emulator import Emulator, EmulatorOptions
from pi_emulator.errors import ApiError
from pi_emulator.faults import FAULT_KINDS, FaultConfig
from pi_emulator.jwtlogin import JwtKeys
from pi_emulator.licence import BUCKETS
from pi_emulator.quirks import STORE_QUIRKS
from pi_emulator.reqlog import RedactAccessLog
from pi_emulator.shapes import ShapeConfig
from pi_emulator.state import SeedError, StateError
from pi_emulator.wire import BASE_PATH


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false or on/off, got {text!r}")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _caps(text: str) -> dict[str, int]:
    caps: dict[str, int] = {}
    for part in _csv(text):
        name, _, count = part.partition("=")
        if not count.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"expected KIND=N[,KIND=N...] such as administrators=2,total=50, got {part!r}"
            )
        caps[name.strip()] = int(count)
    return caps


def _script(text: str) -> list[str | None]:
    items: list[str | None] = []
    for part in _csv(text):
        if part.lower() in ("none", "ok", "-"):
            items.append(None)
        elif part in FAULT_KINDS:
            items.append(part)
        else:
            raise argparse.ArgumentTypeError(
                f"fault script items are 500, 429, drop or none: {part!r}"
            )
    return items


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pi-emulator",
        description=f"Serve a local Panintelligence API emulator under {BASE_PATH}. "
        "Ready when GET /_emulator/health answers 200.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8224, help="port (default 8224; 0 picks a free one)"
    )
    parser.add_argument("--seed", type=Path, help="seed JSON: categories, roles, users")
    parser.add_argument(
        "--state",
        type=Path,
        help="state file: loaded if it exists (wins over --seed), kept up to date",
    )
    parser.add_argument(
        "--persist-interval", type=float, default=1.0, help="seconds between state writes"
    )
    parser.add_argument(
        "--log-level", default="warning", help="uvicorn log level (default warning)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--request-log-max",
        type=_count,
        metavar="N",
        help="keep only the newest N request log entries (default: all; 0 keeps none)",
    )
    parser.add_argument(
        "--http",
        choices=["auto", "httptools", "h11"],
        default="auto",
        help="uvicorn's HTTP parser (default auto: httptools if installed, else h11)",
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="event loop (default auto: uvloop if installed, else asyncio)",
    )
    login = parser.add_argument_group("JWT login (POST /pi/auth/jwtLogin, GET /pi/?jwt=)")
    login.add_argument(
        "--jwt-public-key",
        type=Path,
        metavar="FILE",
        help="RSA public key (PEM, or its base64 body alone) for RS256/RS384/RS512 JWTs",
    )
    login.add_argument(
        "--jwt-hs256-secret-env",
        metavar="NAME",
        help="accept HS256 JWTs signed with the secret held in this environment variable",
    )
    faults = parser.add_argument_group("fault injection (also settable via PUT /_emulator/faults)")
    faults.add_argument("--latency-ms", type=float, help="added to every API request")
    faults.add_argument("--latency-jitter-ms", type=float, help="plus a seeded random 0..N ms")
    faults.add_argument("--fail-rate", type=float, help="fraction answered 500")
    faults.add_argument("--rate-limit-rate", type=float, help="fraction answered 429")
    faults.add_argument("--retry-after", type=int, help="Retry-After seconds on a 429 (default 1)")
    faults.add_argument(
        "--drop-rate", type=float, help="fraction whose connection is closed unanswered"
    )
    faults.add_argument(
        "--fault-phase", choices=["before", "after"], help="500/drop before or after the write"
    )
    faults.add_argument("--fault-seed", type=int, help="seed for reproducible faults")
    faults.add_argument("--fault-methods", type=_csv, help="only these methods, e.g. POST,DELETE")
    faults.add_argument(
        "--fault-paths", type=_csv, help="only paths starting with these, e.g. /users/sync"
    )
    faults.add_argument(
        "--fault-script",
        dest="script",
        type=_script,
        help="faults for the next requests, e.g. 500,none,drop",
    )
    faults.add_argument(
        "--faults-on-login", type=_bool, help="whether POST /tokens is faulted (default true)"
    )
    faults.add_argument(
        "--token-ttl", type=float, help="token lifetime in seconds, 0 = never (default 1800)"
    )
    faults.add_argument(
        "--token-ttl-mode",
        choices=["sliding", "absolute"],
        help="from last use (default) or from issue",
    )
    faults.add_argument(
        "--capacity",
        type=int,
        metavar="K",
        help="at most K API requests served at once; the rest wait in arrival order",
    )
    shapes = parser.add_argument_group("server shape (also settable via PUT /_emulator/options)")
    shapes.add_argument(
        "--list-shape",
        choices=["envelope", "bare"],
        help="lists as a page envelope (default) or a bare JSON array",
    )
    shapes.add_argument(
        "--list-paging",
        type=_bool,
        metavar="on|off",
        help="off: page/pageSize are ignored and the whole list is returned (default on)",
    )
    shapes.add_argument(
        "--list-hide",
        type=_csv,
        metavar="USERCODE[,USERCODE...]",
        help="users left out of GET /users (still known to syncPayload and sync)",
    )
    shapes.add_argument(
        "--list-cap", type=int, metavar="N", help="a list returns at most N items in total"
    )
    shapes.add_argument(
        "--sync-payload-param",
        choices=["usercode", "id"],
        help="the parameter GET /users/syncPayload answers to (default usercode)",
    )
    shapes.add_argument(
        "--restriction-shape",
        choices=["per-value", "grouped"],
        help="restrictions returned one per value (default) or grouped per column",
    )
    shapes.add_argument(
        "--sync-answer",
        choices=["payload", "user", "empty"],
        help="what POST /users/sync answers: the stored payload elements (default), the user "
        "object, or an empty body",
    )
    shapes.add_argument(
        "--store-quirk",
        dest="store_quirks",
        type=_csv,
        metavar="NAME[,NAME...]",
        help=f"store or return users differently from what was sent: {', '.join(STORE_QUIRKS)}",
    )
    shapes.add_argument(
        "--licence",
        type=_caps,
        metavar="KIND=N[,KIND=N...]",
        help=f"licence caps on enabled users, checked on every sync; KIND is one of "
        f"{', '.join(BUCKETS)} (default: no licence)",
    )
    return parser


_SHAPE_OPTIONS = (
    "list_shape", "list_paging", "list_hide", "list_cap", "sync_payload_param",
    "restriction_shape", "sync_answer", "store_quirks", "licence",
)  # fmt: skip

_FAULT_OPTIONS = (
    "latency_ms", "latency_jitter_ms", "fail_rate", "rate_limit_rate", "retry_after", "drop_rate",
    "fault_phase", "fault_seed", "fault_methods", "fault_paths", "script", "faults_on_login",
    "token_ttl", "token_ttl_mode", "capacity",
)  # fmt: skip


def _fault_config(args: argparse.Namespace) -> FaultConfig:
    changes: dict[str, Any] = {
        name: getattr(args, name) for name in _FAULT_OPTIONS if getattr(args, name) is not None
    }
    return FaultConfig().updated(changes)


def _shape_config(args: argparse.Namespace) -> ShapeConfig:
    changes: dict[str, Any] = {
        name: getattr(args, name) for name in _SHAPE_OPTIONS if getattr(args, name) is not None
    }
    return ShapeConfig().updated(changes)


def _jwt_keys(args: argparse.Namespace) -> JwtKeys | None:
    """The JWT login keys the options name; a one-line ``ValueError`` if unusable."""
    public_key = None
    if args.jwt_public_key is not None:
        try:
            public_key = JwtKeys.load_public_key(args.jwt_public_key.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"--jwt-public-key {args.jwt_public_key}: {exc}") from None
    secret = None
    if args.jwt_hs256_secret_env is not None:
        secret = os.environ.get(args.jwt_hs256_secret_env, "")
        if secret == "":
            raise ValueError(
                f"--jwt-hs256-secret-env: the environment variable "
                f"{args.jwt_hs256_secret_env} is not set or empty"
            )
    if public_key is None and secret is None:
        return None
    return JwtKeys(public_key=public_key, hs256_secret=secret)


def _check_installed(args: argparse.Namespace) -> None:
    """A one-line ``ValueError`` if ``--http`` or ``--loop`` names a package that is missing."""
    for option, package in (("--http", args.http), ("--loop", args.loop)):
        if package in ("httptools", "uvloop") and importlib.util.find_spec(package) is None:
            raise ValueError(f"{option} {package}: the {package} package is not installed")


def _read_seed(path: Path | None) -> object:
    if path is None:
        return None
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SeedError(f"cannot read {path}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_installed(args)
        jwt_keys = _jwt_keys(args)
    except ValueError as exc:
        print(f"pi-emulator: {exc}", file=sys.stderr)
        return 2
    try:
        listener = _listen(args.host, args.port)
    except OSError as exc:
        print(_cannot_listen(args.host, args.port, exc), file=sys.stderr)
        return 1
    with listener:
        emulator = _load(parser, args, jwt_keys)
        if emulator is None:
            return 2
        return _serve(args, emulator, listener)


def _serve(args: argparse.Namespace, emulator: Emulator, listener: socket.socket) -> int:
    source = (
        f"state {args.state}"
        if emulator.loaded_from_state
        else f"seed {args.seed}"
        if args.seed
        else "no seed"
    )
    port = listener.getsockname()[1]
    ready = (
        f"pi-emulator: http://{args.host}:{port}{BASE_PATH} "
        f"({emulator.store.user_count} users, {source}; fault seed "
        f"{emulator.faults.config.fault_seed})"
    )
    config = uvicorn.Config(
        create_app(emulator),
        host=args.host,
        port=port,
        log_level=args.log_level,
        access_log=args.access_log,
        proxy_headers=False,
        http=args.http,
        loop=args.loop,
        ws="none",
        lifespan="on",
    )
    logging.getLogger("uvicorn.access").addFilter(RedactAccessLog())
    server = _Server(config, ready)
    # uvicorn shuts down gracefully (lifespan shutdown writes the state file) and then
    # re-raises the signal against the handlers it found; these make that a quiet exit.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if server.started else 1


class _Server(uvicorn.Server):
    """uvicorn's server, printing the ready line once it listens (never before)."""

    def __init__(self, config: uvicorn.Config, ready_line: str) -> None:
        super().__init__(config)
        self._ready_line = ready_line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self._ready_line, file=sys.stderr, flush=True)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it), or ``OSError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    """One line: where, why, and what to do."""
    if exc.errno == errno.EADDRINUSE:
        fix = (
            "another process listens on that port: stop it, or choose another port with "
            "--port (--port 0 picks a free one)"
        )
    elif exc.errno == errno.EACCES:
        fix = "this user may not listen on that port: choose one from 1024 up with --port"
    elif isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        fix = "this machine has no such address: check --host (127.0.0.1 is this machine only)"
    else:
        fix = "check --host and --port"
    return f"pi-emulator: cannot listen on {host}:{port} ({exc.strerror or exc}): {fix}"


def _load(
    parser: argparse.ArgumentParser, args: argparse.Namespace, jwt_keys: JwtKeys | None
) -> Emulator | None:
    """The emulator the options describe, or None after printing why not (exit 2).

    The seeded records live as long as the process and hold no reference cycles: they are
    built with the cyclic GC off (a third faster at 100k users) and then frozen, so that
    full collections never rescan them (hundreds of ms each at 100k users).
    """
    gc.disable()
    try:
        options = EmulatorOptions(
            seed=_read_seed(args.seed),
            state_path=args.state,
            faults=_fault_config(args),
            shape=_shape_config(args),
            persist_interval=args.persist_interval,
            request_log_max=args.request_log_max,
            jwt=jwt_keys,
        )
        emulator = Emulator(options)
    except ApiError as exc:
        parser.error(exc.message)
    except SeedError as exc:
        print(f"pi-emulator: invalid seed {args.seed}: {exc}", file=sys.stderr)
        return None
    except StateError as exc:
        print(f"pi-emulator: {exc}", file=sys.stderr)
        return None
    else:
        gc.freeze()
    finally:
        gc.enable()
    return emulator


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
