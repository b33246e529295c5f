"""The command line: argparse sub-commands and the one error sink.

`main(argv)` is the only function that prints errors or decides the exit code. Every
sub-command lives in its own module under `memstall/cli/` and exposes
`register(subparsers, common)`; the handler it sets returns an exit code and writes
through the `Io` it is given (so tests need no subprocess).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, TextIO

from memstall import __version__
from memstall.errors import ExitCode, MemstallError

# Sub-command modules, in the order `--help` lists them.
COMMAND_MODULES = ("show", "snapshot", "diagnose", "whatif", "tune", "logs")


@dataclass
class Io:
    """Where a command writes; tests pass StringIO objects."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)


Handler = Callable[[argparse.Namespace, Io], int]


def common_options() -> argparse.ArgumentParser:
    """Global flags, accepted before or after the sub-command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=argparse.SUPPRESS, metavar="PATH",
                        help="/ (default), a directory laid out like a root, a snapshot "
                             "tarball or a sosreport")
    common.add_argument("--format", default=argparse.SUPPRESS, choices=("text", "json"),
                        help="output format (default: text)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks instead of one-line errors")
    return common


_OPTIONS_WITH_VALUE = frozenset({"--root", "--format"})


def chosen_command(args: Sequence[str]) -> str | None:
    """The sub-command named on the command line, if it is one of ours (else None)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (with `only`) one that knows just that sub-command.

    Importing every sub-command costs about 0.25 s (the log scanner, the rules...); a run
    imports only the one it runs. `--help` without a command and unknown commands get the
    full parser, so the listing and argparse's "invalid choice" message stay complete.
    """
    import importlib

    # Two instances on purpose: set_defaults() below edits the Action objects, and a
    # shared Action would make every sub-command reset --root to its default.
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="memstall", parents=[common_options()],
        description="Find, explain and fix Linux page-allocation stalls and memory fragmentation.")
    parser.add_argument("--version", action="version", version=f"memstall {__version__}")
    parser.set_defaults(root="/", format="text", debug=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES if only is None else (only,) if only else ():  # "": --version
        module = importlib.import_module(f"memstall.cli.{name}")
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None, io: Io | None = None) -> int:
    io = io or Io()
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        parser = build_parser(chosen_command(args_list) or ("" if "--version" in args_list else None))
        try:
            args = parser.parse_args(args_list)
        except SystemExit as exit_:  # argparse already printed its usage message
            return int(exit_.code or 0)
        handler: Handler = args.handler
        return handler(args, io)
    except MemstallError as err:
        if debug:
            raise
        io.stderr.write(f"memstall: error: {err.message}\n")
        if err.hint:
            io.stderr.write(f"hint: {err.hint}\n")
        return int(err.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `memstall ... | head`: the reader went away; not an error.
        return int(ExitCode.OK)
    except Exception as err:  # the one catch-all: a bug in memstall, reported as such
        if debug:
            raise
        io.stderr.write(f"memstall: internal error: {type(err).__name__}: {err} "
                        "(re-run with --debug and report it)\n")
        return int(ExitCode.INTERNAL)
