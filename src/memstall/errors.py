"""The one exception hierarchy of memstall, and the exit codes the CLI maps it to.

Every error a user can cause is a `MemstallError`; the CLI prints it as one line
(`memstall: error: <message>`, then `hint: <hint>` when there is one) and exits with
`exit_code`. Anything else is a bug in memstall and is reported as such. `diagnose` maps
every failure to UNKNOWN (3) instead, see `PluginStatus`.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    WARNING = 1  # `diagnose`: a finding reached --fail-on
    USAGE = 2  # argparse's own code for bad flags
    INPUT = 3  # the user's input or system is the problem
    APPLY = 4  # a sysctl write failed (what was rolled back is said)
    INTERNAL = 70  # EX_SOFTWARE: a bug in memstall
    INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`memstall logs | head`)


class PluginStatus(enum.IntEnum):
    """`diagnose`'s exit codes: the monitoring-plugins convention (Nagios, Icinga, Naemon...).

    A command that declares `EXIT_ON_FAILURE = PluginStatus.UNKNOWN` in its cli module exits
    with it for every failure (bad flags, bad input, internal error, Ctrl-C, closed stdout),
    so a monitoring system never reads a failure as CRITICAL (2, argparse's usage code).
    """

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3  # the check could not run


class MemstallError(Exception):
    """Base class: a message for the user and an optional hint."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(MemstallError):
    """The user's input or the system is the problem."""

    exit_code = ExitCode.INPUT


class SourceUnavailable(InputError):
    """A file could not be read: missing, permission denied, not a directory..."""

    def __init__(self, path: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint)
        self.path = path
        self.reason = reason


class ParseError(InputError):
    """A file's text is not what the kernel writes.

    The message names the file (relative to --root), the 1-based line number, what was
    expected and what was found: ``proc/zoneinfo:57: expected '<key> <int>', got 'pages free x'``.
    """

    MAX_SHOWN = 80

    def __init__(self, path: str, line_no: int, line: str, expected: str) -> None:
        shown = line if len(line) <= self.MAX_SHOWN else line[: self.MAX_SHOWN] + "..."
        where = f"{path}:{line_no}" if line_no > 0 else path
        super().__init__(f"{where}: expected {expected}, got {shown!r}")
        self.path = path
        self.line_no = line_no
        self.line = line
        self.expected = expected

    def at(self, path: str) -> ParseError:
        """The same error, naming `path` (used when the reader knows the real file name)."""
        return ParseError(path, self.line_no, self.line, self.expected)


class UnsupportedInput(InputError):
    """Input we understand the shape of but cannot use (unknown unit, no MANIFEST...)."""


class UsageError(MemstallError):
    """Bad flag combinations."""

    exit_code = ExitCode.USAGE


class ApplyError(MemstallError):
    """A sysctl write failed; the message says what was rolled back."""

    exit_code = ExitCode.APPLY
