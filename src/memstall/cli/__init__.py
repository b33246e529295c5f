"""The command line: argparse sub-commands and the one error sink.

`main(argv)` is the only function that prints errors or decides the exit code. Every
sub-command lives in its own module under `memstall/cli/` and exposes
`register(subparsers, common)`; the handler it sets returns an exit code and writes
through the `Io` it is given (so tests need no subprocess).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, TextIO

from memstall import __version__
from memstall.errors import ExitCode, MemstallError
from memstall.outputs.render.safe import escaping

# Sub-command modules, in the order `--help` lists them.
COMMAND_MODULES = ("show", "snapshot", "diagnose", "whatif", "tune", "logs", "trace", "top", "record",
                   "report", "exporter", "fleet", "lab")


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


def _failure_code(command: str | None, code: int) -> int:
    """The exit code of a failure: the command's EXIT_ON_FAILURE when it declares one
    (diagnose: UNKNOWN, the monitoring-plugins convention), else the failure's own `code`."""
    module = sys.modules.get(f"{__name__}.{command}") if command else None
    own = getattr(module, "EXIT_ON_FAILURE", None)
    return int(code if own is None else own)


def _silence(stream: TextIO) -> None:
    """Point a broken stdout at /dev/null: Python flushes sys.stdout at exit, and a second
    BrokenPipeError there would print 'Exception ignored ...' and exit 120."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (StringIO), or closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _run(args_list: list[str], command: str | None, io: Io) -> int:
    # `memstall --version` alone needs no sub-command: "" builds the bare parser (0.05 s).
    parser = build_parser(command or ("" if "--version" in args_list else None))
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:  # argparse already printed its usage message (or --help)
        code = int(exit_.code or 0)
        return _failure_code(command, code) if code else 0
    handler: Handler = args.handler
    code = handler(args, io)
    io.stdout.flush()  # a closed pipe shows here, inside the sink, not at interpreter exit
    return code


def main(argv: Sequence[str] | None = None, io: Io | None = None) -> int:
    """Run one command; the one place that turns exceptions into messages and exit codes.

    Exit codes (errors.ExitCode): the handler's own (0, or 1 for `tune verify` drift...),
    2 usage, 3 input, 4 apply, 70 internal error (a bug), 130 Ctrl-C, 141 stdout closed by
    its reader (quiet: 128 + SIGPIPE, what the shell reports for `cat` or `grep` killed by
    SIGPIPE; 0 would claim the whole output was delivered). A command module may declare
    EXIT_ON_FAILURE to replace every failure code by its own (diagnose: 3, UNKNOWN).
    """
    io = io or _process_io()
    io = Io(escaping(io.stdout), escaping(io.stderr))  # no raw terminal controls (safe.py)
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    command = chosen_command(args_list)
    if command == "logs":
        # The prefilter of a big log needs none of the modules `logs` imports (0.17 s of CPU):
        # start it now, on another core (sources/prefilter.py).
        from memstall.sources.prefilter import start_early

        start_early(args_list)
    try:
        return _run(args_list, command, io)
    except MemstallError as err:
        if debug:
            raise
        io.stderr.write(f"memstall: error: {err.message}\n")
        if err.hint:
            io.stderr.write(f"hint: {err.hint}\n")
        return _failure_code(command, err.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        return _failure_code(command, ExitCode.INTERRUPTED)
    except BrokenPipeError:  # `memstall ... | head`: the reader went away; nothing to say
        _silence(io.stdout)
        return _failure_code(command, ExitCode.BROKEN_PIPE)
    except OSError as err:
        if debug:
            raise
        if err.errno == errno.EBADF:  # started with stdout closed (`memstall ... >&-`)
            io.stderr.write("memstall: error: standard output is closed: nothing could be written\n")
            return _failure_code(command, ExitCode.BROKEN_PIPE)
        return _internal(err, command, io)
    except Exception as err:  # the one catch-all: a bug in memstall, reported as such
        if debug:
            raise
        return _internal(err, command, io)
    finally:
        early = sys.modules.get("memstall.sources.prefilter")
        if early is not None:
            early.stop_early()


def _internal(err: BaseException, command: str | None, io: Io) -> int:
    io.stderr.write(f"memstall: internal error: {type(err).__name__}: {err} "
                    "(re-run with --debug and report it)\n")
    return _failure_code(command, ExitCode.INTERNAL)


def _process_io() -> Io:
    """The process's stdout/stderr, never failing on a character the locale cannot encode:
    under LANG=C a comm or host name with UTF-8 in it raised UnicodeEncodeError (exit 70)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    return Io()
