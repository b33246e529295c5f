"""buddyinfo — /proc/buddyinfo

Free blocks per order for every populated zone, one line per zone::

    Node 0, zone      DMA      1      1      0      0      2      1      1      0      1      1      3
    Node 0, zone   Normal   4381   1093    219     20      7      2      0      0      0      0      0

Column k (from 0) is the number of free blocks of 2**k pages. x86-64 with 4 KiB pages has
11 orders (0..10); other configurations print another count (CONFIG_ARCH_FORCE_MAX_ORDER,
64 KiB-page arm64/ppc64 kernels print 14 or 9 columns...). All lines of one file have the
same number of columns. Every kernel since 2.6 prints this format (mm/vmstat.c
frag_show_print; docs/kernel.md#buddyinfo).

>>> info = parse_buddyinfo("Node 0, zone   Normal      3      2      1\\n")
>>> info.zones[0].free_blocks, info.zones[0].free_pages
((3, 2, 1), 11)
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.parsers._lines import numbered, to_int

_HEAD = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\S+)*)\s*$", re.ASCII)
_EXPECTED = "'Node <n>, zone <name> <count per order>...'"


def parse_buddyinfo(text: str, path: str = "proc/buddyinfo") -> BuddyInfo:
    zones: list[ZoneFreeAreas] = []
    seen: set[tuple[str, str]] = set()
    width: int | None = None
    for no, line in numbered(text):
        m = _HEAD.match(line)
        if not m:
            raise ParseError(path, no, line, _EXPECTED)
        node, name = m.group(1), m.group(2)
        if (node, name) in seen:  # the kernel prints each zone once
            raise ParseError(path, no, line, f"each zone once, but node {node} {name} is repeated")
        seen.add((node, name))
        tokens = m.group(3).split()
        counts = tuple(to_int(t, path, no, line, "a free-block count per order") for t in tokens)
        if not counts or any(c < 0 for c in counts):
            raise ParseError(path, no, line, "one or more non-negative counts")
        if width is not None and len(counts) != width:
            raise ParseError(path, no, line, f"{width} orders like the lines above")
        width = len(counts)
        zones.append(ZoneFreeAreas(node=int(m.group(1)), zone=m.group(2), free_blocks=counts))
    if not zones:
        raise ParseError(path, 0, text[:40], _EXPECTED + " (the file is empty)")
    return BuddyInfo(zones=tuple(zones))

