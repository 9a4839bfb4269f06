"""The output edge: everything pisync prints or writes passes here, so that no secret leaves
the process and no user data becomes a GitHub workflow command.

- **Secrets** (:class:`Redactor`): pisync's own credentials (``PISYNC_PASSWORD``,
  ``PISYNC_TOKEN``, and the CI tokens a job may hold) and the value of every environment
  variable a ``{env: NAME}`` entry names are replaced by ``***`` wherever they appear — on
  stdout and stderr, in plan files, reports and job summaries (:func:`redact` for files), in
  any encoding pisync writes them (JSON, workflow-command, Markdown and HTML escapes). A value
  is matched as a whole token (``dashboard`` is hidden, ``dashboards`` is not), as GitHub
  hides its own secrets. ``pisync claims`` writes its document with the ``{env: …}`` values
  left in (:func:`claims_document`): carrying them is its job (SPEC §5a); the credentials stay
  hidden even there.
- **GitHub Actions** (:func:`enable_actions`, on under ``GITHUB_ACTIONS=true`` or ``--format
  github``): the runner acts on any log line that starts with ``::`` or holds ``##[``, from
  stdout or stderr. Every block of free text is written between ``::stop-commands::TOKEN`` and
  ``::TOKEN::`` (a fresh random token each time, so the text cannot end the block), and each
  of its lines that starts with ``::`` or holds ``##[`` is broken with an invisible word
  joiner as well. pisync's own workflow commands (annotations) go through :func:`command`,
  outside any block.

The streams are wrapped once per run by :func:`install` (the CLI does it first); everything
else keeps writing to ``sys.stdout`` and ``sys.stderr`` as before.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, TextIO

from reconciler.core.render.markup import (
    escape_data,
    escape_property,
    html_escape,
    md_text,
    neutralise_commands,
    printable,
)

#: Credentials pisync or its CI job may hold: never printed, whatever prints them.
CREDENTIALS: Final = (
    "PISYNC_PASSWORD",
    "PISYNC_TOKEN",
    "GITHUB_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
)
#: A fleet's credentials: each server's (``PISYNC_<NAME>_PASSWORD``, ``_TOKEN``) and all at once.
FLEET_CREDENTIAL = re.compile(r"PISYNC_\w+_(?:PASSWORD|TOKEN)|PISYNC_FLEET_CREDENTIALS")
MASK: Final = "***"


def is_credential_name(name: str) -> bool:
    """Whether the environment variable ``name`` holds a credential pisync never prints (a
    server's custom names are added by the fleet as it reads them)."""
    return name in CREDENTIALS or FLEET_CREDENTIAL.fullmatch(name) is not None


#: Shorter values are not hidden (they would hide ordinary words; nobody's secret is this short).
MIN_SECRET: Final = 4


#: (the environment, the credentials, the secret values) of a process: :meth:`Redactor.state`
SecretsState = tuple[dict[str, str], frozenset[str], frozenset[str]]


class Redactor:
    """The secrets of this run and how to hide them (see the module docstring)."""

    def __init__(self) -> None:
        #: the environment the values of ``{env: NAME}`` variables come from
        self.env: Mapping[str, str] = {}
        self._credentials: set[str] = set()
        self._values: set[str] = set()
        self._claims = False
        self._forms: tuple[str, ...] = ()
        self._credential_forms: tuple[str, ...] = ()
        self._encoded: tuple[bytes, ...] = ()

    def reset(self) -> None:
        """Forget every secret (a new run in the same process: tests)."""
        self._credentials.clear()
        self._values.clear()
        self._compile()

    def add_credentials(self, values: Iterable[str]) -> None:
        self._credentials.update(v for v in values if len(v) >= MIN_SECRET)
        self._compile()

    def add(self, values: Iterable[str]) -> None:
        """Hide these values too (the values of ``{env: …}`` variables)."""
        fresh = {v for v in values if len(v) >= MIN_SECRET} - self._values
        if fresh:
            self._values |= fresh
            self._compile()

    @property
    def values(self) -> frozenset[str]:
        """The secret values known so far (credentials aside)."""
        return frozenset(self._values)

    def state(self) -> SecretsState:
        """What another process needs to hide the same secrets (:meth:`adopt`)."""
        return dict(self.env), frozenset(self._credentials), frozenset(self._values)

    def adopt(self, state: SecretsState) -> None:
        """Know the secrets of the process that made ``state`` (a parser process)."""
        env, credentials, values = state
        self.env = env
        self._credentials, self._values = set(credentials), set(values)
        self._compile()

    def _compile(self) -> None:
        """Every encoding of every value, longest first; the credentials' alone besides."""
        self._credential_forms = _forms(self._credentials)
        self._forms = _forms(self._credentials | self._values)
        self._encoded = tuple(f.encode() for f in self._forms)

    def holds(self, data: bytes) -> bool:
        """Whether ``data`` (UTF-8) holds a secret where this redactor would hide it (a search
        of the bytes first: most data holds none)."""
        if not any(form in data for form in self._encoded):
            return False
        text = data.decode("utf-8", errors="replace")
        return self(text) != text

    def __call__(self, text: str) -> str:
        for form in self._credential_forms if self._claims else self._forms:
            if form in text:  # a substring search first: most text holds no secret at all
                text = _hide(text, form)
        return text

    @contextmanager
    def credentials_only(self) -> Iterator[None]:
        """While writing a claims document: the variable values stay, the credentials not."""
        self._claims = True
        try:
            yield
        finally:
            self._claims = False


def _forms(values: Iterable[str]) -> tuple[str, ...]:
    forms = {form for v in values for form in _encodings(v) if len(form) >= MIN_SECRET}
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


def _hide(text: str, form: str) -> str:
    """``text`` with each whole-token occurrence of ``form`` replaced by :data:`MASK`: no
    letter, digit or ``_`` glued to an end of it that is one itself."""
    head, tail = _is_word(form[0]), _is_word(form[-1])
    out, at = [], 0
    while (found := text.find(form, at)) != -1:
        end = found + len(form)
        glued = (head and found > 0 and _is_word(text[found - 1])) or (
            tail and end < len(text) and _is_word(text[end])
        )
        out.append(text[at:found] + (form if glued else MASK))
        at = end
    out.append(text[at:])
    return "".join(out)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _encodings(value: str) -> set[str]:
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        printable(value),
        escape_data(value),
        escape_property(value),
        md_text(value),
        html_escape(value),
    }


#: The secrets of this process (the output edge is one per process).
REDACTOR: Final = Redactor()


def redact(text: str) -> str:
    """``text`` with every known secret hidden (for what pisync writes to files)."""
    return REDACTOR(text)


#: Text a streamed output is redacted by at once, at least (cut after its last newline).
_BLOCK = 1 << 16


def redact_stream(pieces: Iterable[str]) -> Iterator[str]:
    """:func:`redact` over text that comes in pieces (a plan written a change at a time),
    never holding it whole: the pieces are joined into blocks of whole lines, each redacted
    as a whole. A secret never spans two blocks: every form of it pisync writes into a
    streamed output (JSON, a quoted name) escapes line breaks, so it lies within one line."""
    held: list[str] = []
    size = 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            text = "".join(held)
            cut = text.rfind("\n") + 1
            if cut:
                yield REDACTOR(text[:cut])
                held, size = [text[cut:]], len(text) - cut
    if held:
        yield REDACTOR("".join(held))


def note_env_values(names: Iterable[str]) -> None:
    """Hide the values of these environment variables (named by ``{env: …}`` entries)."""
    REDACTOR.add(env_values(names))


def env_values(names: Iterable[str]) -> frozenset[str]:
    """The values of these environment variables (those set)."""
    env = REDACTOR.env
    return frozenset(env[n] for n in names if n in env)


def holds_secret(data: bytes) -> bool:
    """Whether ``data`` (UTF-8) holds a known secret where :func:`redact` would hide it (a
    cache entry that does is not kept)."""
    return REDACTOR.holds(data)


def note_values(values: Iterable[str]) -> None:
    """Hide these values (secrets read from the environment)."""
    REDACTOR.add(values)


@contextmanager
def claims_document() -> Iterator[None]:
    """``pisync claims`` writing its document: variable values are its content."""
    with REDACTOR.credentials_only():
        yield


# --- the streams ---------------------------------------------------------------------------


class _Actions:
    """Free text under GitHub Actions: inside a stop-commands block, each line neutralised."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.at_line_start = True

    def free(self, text: str) -> str:
        out = ""
        if self.token is None and text:
            self.token = secrets.token_hex(16)
            out += ("" if self.at_line_start else "\n") + f"::stop-commands::{self.token}\n"
        out += neutralise_commands(text)
        return out

    def resume(self) -> str:
        """What ends the current block (empty when none is open)."""
        if self.token is None:
            return ""
        out = ("" if self.at_line_start else "\n") + f"::{self.token}::\n"
        self.token = None
        return out


class GuardedStream:
    """A text stream that hides secrets and, under Actions, keeps free text from running as
    workflow commands; everything else is the wrapped stream's."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self.actions: _Actions | None = None

    def write(self, text: str) -> int:
        self._free(REDACTOR(text))
        return len(text)

    def _free(self, text: str) -> None:
        """Free text, its secrets already hidden."""
        if self.actions is not None:
            text = self.actions.free(text)
        self._out(text)

    def writelines(self, pieces: Iterable[str]) -> None:
        """Write text that comes in pieces, in blocks of whole lines (:func:`redact_stream`;
        under Actions each line is neutralised whole)."""
        for block in redact_stream(pieces):
            self._free(block)

    def command(self, line: str) -> None:
        """One of pisync's own workflow commands (an annotation): outside any block."""
        line = REDACTOR(line)
        if self.actions is not None:
            self._out(self.actions.resume())
        self._out(line if line.endswith("\n") else line + "\n")

    def finish(self) -> None:
        """End an open stop-commands block (the job's later steps read commands again)."""
        if self.actions is not None:
            self._out(self.actions.resume())
        self.raw.flush()

    def _out(self, text: str) -> None:
        if not text:
            return
        self.raw.write(text)
        if self.actions is not None:
            self.actions.at_line_start = text.endswith("\n")

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def _guarded(name: str) -> GuardedStream:
    stream = getattr(sys, name)
    if not isinstance(stream, GuardedStream):
        stream = GuardedStream(stream)
        setattr(sys, name, stream)
    return stream


def install(env: Mapping[str, str]) -> None:
    """Wrap stdout and stderr for this run and learn its credentials from ``env``."""
    REDACTOR.reset()
    REDACTOR.env = env
    REDACTOR.add_credentials(env[n] for n in env if is_credential_name(n) and env[n])
    for name in ("stdout", "stderr"):
        _guarded(name).actions = None


def enable_actions() -> None:
    """Under GitHub Actions from here on (see the module docstring)."""
    for name in ("stdout", "stderr"):
        stream = _guarded(name)
        if stream.actions is None:
            stream.actions = _Actions()


def command(line: str) -> None:
    """Print one of pisync's own workflow commands on stdout."""
    _guarded("stdout").command(line)


def finish() -> None:
    """At the end of a run: close any open block, flush."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, GuardedStream):
            stream.finish()
