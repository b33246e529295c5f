"""The fixed-string prefilter of big plain logs, and starting it before the imports.

`memstall logs BIG.log` spends about 0.17 s of CPU importing its modules; the prefilter
(ripgrep: 0.09 s on a 512 MB syslog) does not need any of them. `start_early` is called by
the CLI as soon as it knows the command is `logs`, before it imports the command: the search
then runs on another core while Python imports, and `LogReader.sparse_blocks` takes the
running process (`take_early`) instead of starting its own. This module imports only the
standard library's os, shutil, subprocess and atexit, and nothing of memstall.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import subprocess
from collections.abc import Sequence

PREFILTER_MIN_BYTES = 8 << 20
"""Plain files at least this big are prefiltered (below, Python is as fast)."""
GREP_MEMORY_BYTES = 512 << 20
"""Address-space limit of the prefilter. grep holds a whole line in memory: a 5 GB file
without a newline made it grow to 4.6 GB (issue 9). Past the limit it fails, and the rest
is read block by block, where a line is cut at MAX_LINE."""
TRIGGER_WORDS = (b"page allo", b"oom-killer", b"Mem-", b"free:", b"PID: ", b"Pid: ", b"lowmem_reserve",
                 b"SysRq", b"ut of memory", b" order:", b"gfp_mask")
"""A line can only open a report (or a Mem-Info fragment without a header) if it holds one of
these (parsers.kernlog.scanner: its `PREFILTER_WORDS`, the same tuple: its `_TRIGGERS`, then
the `CUT_WORDS` that follow a trigger word a quoted-printable soft break cut)."""
COMPRESSED_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
"""(first bytes, format): such a file is decompressed in-process (sources/kernlog.py), never
prefiltered."""


def search_program() -> str | None:
    """The prefilter program: ripgrep when installed, else grep, else None."""
    return shutil.which("rg") or shutil.which("grep")


def plain_and_big(mode: int, size: int, head: bytes, min_bytes: int = PREFILTER_MIN_BYTES) -> bool:
    """A regular, uncompressed file (its `head`: its first bytes) of at least `min_bytes`."""
    return (stat.S_ISREG(mode) and size >= min_bytes
            and not any(head.startswith(magic) for magic, _ in COMPRESSED_MAGIC))
_MAX_EARLY = 4


def prefilter_command(words: Sequence[bytes], path: str, program: str | None = None) -> list[str]:
    """The fixed-string search for `words` printing `LINE:OFFSET:text` per hit line, its
    address space capped (GREP_MEMORY_BYTES) by the shell's ulimit before exec: ripgrep when
    installed (its multi-literal search takes 0.09 s on a 512 MB syslog where GNU grep -F
    takes 0.63 s, docs/benchmarks.md), else grep. `program` names one (tests)."""
    exe = program or search_program() or "grep"
    patterns = [arg for w in words for arg in ("-e", w.decode("ascii"))]
    limited = ["/bin/sh", "-c", 'ulimit -v "$0" && exec "$@"', str(GREP_MEMORY_BYTES >> 10)]
    if exe.rsplit("/", 1)[-1] == "rg":
        return [*limited, exe, "--no-config", "--no-mmap", "-j1", "--line-buffered", "--color", "never",
                "--no-filename", "-a", "-n", "-b", "-F", *patterns, "--", path]
    return [*limited, exe, "--line-buffered", "-a", "-b", "-n", "-F", *patterns, "--", path]


def start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "LC_ALL": "C"})


_EARLY: dict[tuple[str, ...], tuple[subprocess.Popen[bytes], int]] = {}
"""command -> (the running search, the file's size when it started)."""


def worth_prefiltering(path: str, min_bytes: int = PREFILTER_MIN_BYTES) -> int | None:
    """The size of a plain (uncompressed) regular file of at least `min_bytes`, else None
    (errors too)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        head = os.pread(fd, 8, 0) if stat.S_ISREG(st.st_mode) else b""
    except OSError:
        return None
    finally:
        os.close(fd)
    return st.st_size if plain_and_big(st.st_mode, st.st_size, head, min_bytes) else None


TOP_VALUED = ("--root", "--format")
"""The options before the command that take a value (cli.common_options)."""
LOGS_VALUED = ("--format", "--host", "--since", "--until", "--kind", "--kernel", "--as-snapshot", "--jobs")
"""The options of `logs` that take a value (cli/logs.py register; a test compares)."""


def _takes_value(arg: str, valued: Sequence[str]) -> bool:
    """argparse takes the next argument as the value of option `arg`: one of `valued` or, as
    argparse allows, an abbreviation of one, without `=value`."""
    return arg.startswith("--") and len(arg) > 2 and "=" not in arg and any(v.startswith(arg) for v in valued)


def log_files(args: Sequence[str]) -> list[str]:
    """The arguments argparse takes as the FILEs of `memstall ... logs ... FILE...` (`args`
    without the program name), never an option's value; [] for another command or --help.
    Written out so that it costs no import: `-5`-like files are missed (argparse takes them
    as files), which only means their search starts later."""
    end = args.index("--") if "--" in args else len(args)
    if any(a == "-h" or (len(a) > 3 and "--help".startswith(a)) for a in args[:end]):
        return []
    i = 0
    while True:  # the global options, then the command
        if i >= len(args) or args[i] in ("--", "-"):
            return []
        arg = args[i]
        i += 1
        if arg == "logs":
            break
        if not arg.startswith("-"):
            return []
        i += _takes_value(arg, TOP_VALUED)
    files: list[str] = []
    only_files = False
    while i < len(args):
        arg = args[i]
        i += 1
        if only_files or arg == "-" or not arg.startswith("-"):
            files.append(arg)
        elif arg == "--":
            only_files = True
        elif files:
            break  # argparse takes no FILE after an option that follows the files
        else:
            i += _takes_value(arg, LOGS_VALUED)
    return files


def asks_jobs(args: Sequence[str]) -> bool:
    """`--jobs` is among `args`, or an abbreviation argparse takes for it (`--j 2`, `--job=2`)."""
    return any(len(opt) > 2 and "--jobs".startswith(opt) for opt in (a.split("=", 1)[0] for a in args))


def start_early(args: Sequence[str]) -> None:
    """Start the prefilter of each big plain file among the FILEs of the `logs` command line
    `args` (`log_files`: not an option's value, such as `--since FILE`; a search nobody takes
    is killed at exit). Not with `--jobs`: its workers search their own parts."""
    if asks_jobs(args) or search_program() is None:
        return
    for arg in log_files(args):
        if len(_EARLY) >= _MAX_EARLY:
            return
        size = worth_prefiltering(arg)
        if size is None:
            continue
        command = prefilter_command(TRIGGER_WORDS, arg)
        if tuple(command) not in _EARLY:
            try:
                _EARLY[tuple(command)] = (start(command), size)
            except OSError:  # the shell cannot be started: sparse_blocks will say
                continue
    if _EARLY and not _REGISTERED:
        _REGISTERED.append(True)
        atexit.register(stop_early)


def take_early(command: list[str]) -> tuple[subprocess.Popen[bytes], int] | None:
    """The search `start_early` began with this very command, and the file's size then."""
    return _EARLY.pop(tuple(command), None)


_REGISTERED: list[bool] = []


def stop_early() -> None:
    """End the searches nobody took (an argument that was an option's value, a failed run)."""
    for proc, _ in _EARLY.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    _EARLY.clear()
