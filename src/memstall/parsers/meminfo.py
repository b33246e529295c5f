"""meminfo — /proc/meminfo and sys/devices/system/node/nodeN/meminfo

`Name:   value kB` lines (and unitless `HugePages_*` counts). The per-node file prefixes
every line with `Node N `. Any unit other than `kB` is an error: we would otherwise
misread the value. A `#` line (a person's annotation, which the kernel never prints) is
left out and kept in `skipped`, so that the reader notes it instead of losing the file.

>>> m = parse_meminfo("MemTotal:       24523576 kB\\nHugePages_Total:       0\\n")
>>> m.kib("MemTotal"), m.count("HugePages_Total")
(24523576, 0)

`parse_meminfo` takes a fast path (`str.split`) on plain text of the usual shape and
otherwise runs `reference_parse_meminfo` (the regex); both give the same MemInfo
(tests/property/test_prop_fastpaths.py).
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.meminfo import MemInfo
from memstall.parsers._lines import line_count, numbered, plain

_LINE = re.compile(r"^(?:Node\s+\d+\s+)?([A-Za-z][\w()]*):\s+(\d+)(?:\s+(\S+))?\s*$",
                   re.ASCII)
# The reference line with [ \t] for \s (a \s could cross lines under re.MULTILINE).
_ALL_LINES = re.compile(r"^(?:Node[ \t]+\d+[ \t]+)?([A-Za-z][\w()]*):[ \t]+(\d+)(?:[ \t]+(kB))?[ \t]*$",
                        re.ASCII | re.MULTILINE)


def fast_parse_meminfo(text: str) -> MemInfo | None:
    """The MemInfo of plain text of `[Node N ]Name: <int>[ kB]` lines, or None (use the reference).

    One findall: a match is one whole line, so as many matches as lines means every line
    matched (a unit other than kB matches no line: the reference refuses it).
    """
    found = _ALL_LINES.findall(text)
    if not found or len(found) != line_count(text) or not plain(text):
        return None
    kib: dict[str, int] = {}
    counts: dict[str, int] = {}
    for name, value, unit in found:
        (kib if unit else counts)[name] = int(value)
    return MemInfo(fields_kib=kib, counts=counts)


def parse_meminfo(text: str, path: str = "proc/meminfo") -> MemInfo:
    fast = fast_parse_meminfo(text)
    return fast if fast is not None else reference_parse_meminfo(text, path)


def reference_parse_meminfo(text: str, path: str = "proc/meminfo") -> MemInfo:
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
