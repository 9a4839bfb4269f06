"""How the command line shows and reads itself, apart from what each command does.

- :data:`COMMAND_EXITS`: every exit code each command can return, with what it means there:
  the one table ``--help`` prints (``tests/e2e/test_help.py`` holds it to the codes the code
  can return, and ``docs/exit-codes.md`` lists the same codes).
- :class:`PisyncCommand`: the help layout of every command: arguments written as the usage
  line writes them (``[PATH]...``, not ``PATH <list[str]>``), and the command's exit codes.
- :func:`single_dash_hint`: Terraform spells long options with one dash (``-out=plan.json``);
  click would read that as ``-o ut=…`` and answer "No such option: -o". pisync refuses it with
  the spelling it takes (exit 64): a misread option must never run a command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from typer import _click  # the click typer vendors: the types its help hooks receive
from typer.core import TyperArgument, TyperCommand, TyperGroup

#: What each code means, unless a command says more precisely (:data:`COMMAND_EXITS`).
MEANINGS: Final[Mapping[int, str]] = {
    0: "success",
    1: "runtime error: the server could not be read or written, or pisync failed",
    2: "with --detailed-exitcode: the plan has changes",
    3: "invalid desired state or configuration (every problem is listed)",
    4: "a safety guard blocks the plan (--force overrides)",
    5: "the saved plan is stale, was edited, or is for another server; nothing was applied",
    6: "some changes failed; the others were applied (run again to converge)",
    64: "command-line usage error",
    130: "interrupted (Ctrl-C)",
    143: "stopped by SIGTERM (the report is still written)",
}

#: Every exit code of each command, in order, with its meaning there (None: :data:`MEANINGS`).
COMMAND_EXITS: Final[Mapping[str, Mapping[int, str | None]]] = {
    "validate": {
        0: "valid (warnings allowed, unless --strict)",
        1: "pisync failed",
        3: "invalid: every problem is listed with file, line and column",
        64: None,
        130: None,
    },
    "plan": {
        0: "the plan was printed (with --detailed-exitcode: and it has no changes)",
        1: None,
        2: None,
        3: "invalid desired state or configuration, or what this server cannot take (an"
        " unknown role or category, a new user without names, an unset {env: …} variable, a"
        " policy error); every problem is listed",
        4: None,
        64: None,
        130: None,
    },
    "show": {
        0: "the plan was printed",
        1: "pisync failed",
        3: "not a pisync plan file",
        5: "the file was edited after pisync wrote it",
        64: None,
        130: None,
    },
    "show-desired": {
        0: "the desired state was printed",
        1: "pisync failed",
        3: "invalid desired state or configuration (every problem is listed)",
        64: None,
        130: None,
    },
    "apply": {
        0: "every change was applied, or there was nothing to do",
        1: "runtime error, or the answer at the prompt was no",
        3: "invalid desired state, configuration or plan file; nothing was applied",
        4: "a safety guard blocks the plan (--force overrides); nothing was applied",
        5: None,
        6: None,
        64: None,
        130: None,
        143: None,
    },
    "import": {
        0: "the files were written",
        1: None,
        3: "pisync.yaml is invalid",
        64: "command-line usage error, or files exist (--force overwrites them)",
        130: None,
    },
    "doctor": {
        0: "every assumption about the API holds",
        1: "an assumption does not hold, or the server could not be read",
        3: "pisync.yaml is invalid",
        64: None,
        130: None,
    },
    "claims": {0: "the claims were printed or written", 1: None, 3: None, 64: None, 130: None},
    "review": {
        0: "the report was printed or written, or a stored bundle checked out",
        1: "the server could not be read, the counts did not reconcile, or the bundle differs",
        3: None,
        64: None,
        130: None,
    },
    "revoke": {
        0: "the revocations were committed on a new branch, or there was nothing to revoke",
        1: None,
        3: "a decision cannot be made in the repository; nothing was written",
        64: "command-line usage error, or files with uncommitted changes",
        130: None,
    },
    "schema": {
        0: "the schemas were printed or written",
        1: "pisync failed",
        64: "command-line usage error, or a file cannot be written",
        130: None,
    },
}


def exit_meaning(command: str, code: int) -> str:
    """What ``code`` means for ``command`` (a code of its :data:`COMMAND_EXITS`)."""
    return COMMAND_EXITS[command][code] or MEANINGS[code]


def argument_form(param: TyperArgument) -> str:
    """An argument as the usage line writes it: ``[PATH]...``, ``PLANFILE``; a metavar that
    already says it all (``[PLANFILE | PATH...]``) as it is."""
    name = param.metavar or (param.name or "").upper()
    if name.startswith("["):
        return name
    if param.nargs != 1:
        return f"{name}..." if param.required else f"[{name}]..."
    return name if param.required else f"[{name}]"


class PisyncCommand(TyperCommand):
    """Typer's command, with arguments written as in the usage line and an ``Exit codes:``
    section from :data:`COMMAND_EXITS`."""

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(argument_form(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                args.append((argument_form(param), record[1]))
            else:
                opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def format_epilog(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        codes = COMMAND_EXITS.get(self.name or "")
        if codes:
            with formatter.section("Exit codes"):
                formatter.write_dl([(str(c), exit_meaning(self.name or "", c)) for c in codes])


_SINGLE_DASH: Final = re.compile(r"-([a-z][a-z0-9]*(?:-[a-z0-9]+)+|[a-z][a-z0-9]+)(=.*)?", re.S)

#: Long option names: the global ones (key None) and each command's.
OptionNames = Mapping[str | None, Iterable[str]]


def single_dash_hint(args: Sequence[str], options: Callable[[], OptionNames]) -> str | None:
    """The message for the first Terraform-style ``-name[=value]`` among ``args`` (up to a
    ``--``) where ``--name`` is an option of the command it follows or a global one; None
    when there is none. ``options`` is asked only when an argument looks like one."""
    names: OptionNames | None = None
    for at, arg in enumerate(args):
        if arg == "--":
            return None
        match = _SINGLE_DASH.fullmatch(arg)
        if match is None:
            continue
        names = options() if names is None else names
        command = next((a for a in args[:at] if a in names), None)
        known = {*names.get(None, ()), *(names.get(command, ()) if command else ())}
        if f"--{match[1]}" in known:
            return f"{arg}: pisync's long options start with two dashes; did you mean -{arg}?"
    return None


def option_names(group: _click.Command) -> OptionNames:
    """The long options of ``group`` (the global ones) and of each of its commands."""
    names: dict[str | None, list[str]] = {None: _long(group)}
    if isinstance(group, TyperGroup):
        names.update({name: _long(command) for name, command in group.commands.items()})
    return names


def _long(command: _click.Command) -> list[str]:
    return [o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
