"""meminfo — /proc/meminfo and sys/devices/system/node/nodeN/meminfo

`Name:   value kB` lines (and unitless `HugePages_*` counts). The per-node file prefixes
every line with `Node N `. Any unit other than `kB` is an error: we would otherwise
misread the value. A `#` line (a person's annotation, which the kernel never prints) is
left out and kept in `skipped`, so that the reader notes it instead of losing the file.

>>> m = parse_meminfo("MemTotal:       24523576 kB\\nHugePages_Total:       0\\n")
>>> m.kib("MemTotal"), m.count("HugePages_Total")
(24523576, 0)
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.meminfo import MemInfo
from memstall.parsers._lines import numbered

_LINE = re.compile(r"^(?:Node\s+\d+\s+)?([A-Za-z][\w()]*):\s+(\d+)(?:\s+(\S+))?\s*$",
                   re.ASCII)


def parse_meminfo(text: str, path: str = "proc/meminfo") -> MemInfo:
    kib: dict[str, int] = {}
    counts: dict[str, int] = {}
    skipped: list[tuple[int, str]] = []
    for no, line in numbered(text):
        if line.lstrip().startswith("#"):
            skipped.append((no, line))
            continue
        m = _LINE.match(line)
        if not m:
            raise ParseError(path, no, line, "'<Name>: <int> kB'")
        name, value, unit = m.group(1), int(m.group(2)), m.group(3)
        if unit is None:
            counts[name] = value
        elif unit == "kB":
            kib[name] = value
        else:
            raise ParseError(path, no, line, "the unit 'kB' or no unit")
    if not kib and not counts:
        raise ParseError(path, 0, text[:40], "'<Name>: <int> kB' lines (the file is empty)")
    return MemInfo(fields_kib=kib, counts=counts, skipped=tuple(skipped))
