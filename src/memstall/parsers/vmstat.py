"""vmstat — /proc/vmstat and sys/devices/system/node/nodeN/vmstat

One `<name> <value>` pair per line. Names starting with `nr_` are gauges, all others are
event counters (monotonic until reboot). The set of names changes with every kernel
(allocstall became allocstall_<zone> in 4.8, ...: docs/kernel.md#vmstat-counters); all are kept.

>>> parse_vmstat("nr_free_pages 24566\\nallocstall_normal 3\\n").counters["allocstall_normal"]
3

`parse_vmstat` takes a fast path (`str.split`, names checked once per process) on plain
text whose every line has the usual shape, and otherwise runs `reference_parse_vmstat`,
the regex parser; both give the same VmStat (tests/property/test_prop_fastpaths.py compares them
on every fixture root).
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.vmstat import VmStat
from memstall.parsers._lines import line_count, numbered, plain

_LINE = re.compile(r"^([a-z_][a-z0-9_]*)\s+(-?\d+)\s*$", re.ASCII)
# The reference line with [ \t] for \s (a \s could cross lines under re.MULTILINE).
_ALL_LINES = re.compile(r"^([a-z_][a-z0-9_]*)[ \t]+(-?\d+)[ \t]*$", re.ASCII | re.MULTILINE)


def fast_parse_vmstat(text: str) -> VmStat | None:
    """The VmStat of plain text whose every line is `<name> <int>`, or None (use the reference).

    One findall over the text: a match is one whole line, so as many matches as lines
    means that every line matched.
    """
    pairs = _ALL_LINES.findall(text)
    if not pairs or len(pairs) != line_count(text) or not plain(text):
        return None
    return VmStat(counters={name: int(value) for name, value in pairs})


def parse_vmstat(text: str, path: str = "proc/vmstat") -> VmStat:
    fast = fast_parse_vmstat(text)
    return fast if fast is not None else reference_parse_vmstat(text, path)


def reference_parse_vmstat(text: str, path: str = "proc/vmstat") -> VmStat:
    counters: dict[str, int] = {}
    for no, line in numbered(text):
        m = _LINE.match(line)
        if not m:
            raise ParseError(path, no, line, "'<name> <int>'")
        counters[m.group(1)] = int(m.group(2))
    if not counters:
        raise ParseError(path, 0, text[:40], "'<name> <int>' lines (the file is empty)")
    return VmStat(counters=counters)
