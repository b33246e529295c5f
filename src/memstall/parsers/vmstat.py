"""vmstat — /proc/vmstat and sys/devices/system/node/nodeN/vmstat

One `<name> <value>` pair per line. Names starting with `nr_` are gauges, all others are
event counters (monotonic until reboot). The set of names changes with every kernel
(allocstall became allocstall_<zone> in 4.8, ...: docs/kernel.md#vmstat-counters); all are kept.

>>> parse_vmstat("nr_free_pages 24566\\nallocstall_normal 3\\n").counters["allocstall_normal"]
3
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.vmstat import VmStat
from memstall.parsers._lines import numbered

_LINE = re.compile(r"^([a-z_][a-z0-9_]*)\s+(-?\d+)\s*$", re.ASCII)


def parse_vmstat(text: str, path: str = "proc/vmstat") -> VmStat:
    counters: dict[str, int] = {}
    for no, line in numbered(text):
        m = _LINE.match(line)
        if not m:
            raise ParseError(path, no, line, "'<name> <int>'")
        counters[m.group(1)] = int(m.group(2))
    if not counters:
        raise ParseError(path, 0, text[:40], "'<name> <int>' lines (the file is empty)")
    return VmStat(counters=counters)
