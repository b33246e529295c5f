"""version — the kernel release from proc/version or `uname -a` output.

Read only when proc/sys/kernel/osrelease is absent (an Android dump, a sosreport that kept
`uname -a` only): `Linux version <release> (<builder>) ...` and
`Linux <host> <release> #<build> ...`.

>>> parse_proc_version("Linux version 3.4.5 (builder@buildMachine) (gcc version 4.6.x) #1 SMP\\n")
'3.4.5'
>>> parse_uname_a("Linux compute4 5.4.0-97-generic #110-Ubuntu SMP Thu Jan 13 x86_64 GNU/Linux\\n")
'5.4.0-97-generic'
"""

from __future__ import annotations

import re

from memstall.errors import ParseError

_PROC_VERSION = re.compile(r"^Linux version (\S+)", re.ASCII)
_UNAME_A = re.compile(r"^Linux \S+ (\d\S*) ", re.ASCII)


def _first(pattern: re.Pattern[str], text: str, path: str, expected: str) -> str:
    line = (text.strip().splitlines() or [""])[0]
    m = pattern.match(line)
    if not m:
        raise ParseError(path, 1, line, expected)
    return m.group(1)


def parse_proc_version(text: str, path: str = "proc/version") -> str:
    return _first(_PROC_VERSION, text, path, "'Linux version <release> ...'")


def parse_uname_a(text: str, path: str = "sos_commands/kernel/uname_-a") -> str:
    return _first(_UNAME_A, text, path, "'Linux <host> <release> #<build> ...'")
