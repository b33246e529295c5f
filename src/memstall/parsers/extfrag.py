"""extfrag — debugfs extfrag/extfrag_index and extfrag/unusable_index

One line per zone; values in thousandths printed as C "%2d.%03d" (extfrag_index) or
"%d.%03d" (unusable_index) with truncating division, so -1000 prints `-1.000` and -500
prints ` 0.-500` and -7 prints ` 0.-07` (docs/kernel.md#debugfs-extfrag-files)::

    Node 0, zone   Normal -1.000 -1.000  0.937  0.-500

>>> parse_extfrag("Node 0, zone   Normal -1.000  0.937  0.-500 \\n").zones[0].values_milli
(-1000, 937, -500)
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.extfrag import ExtfragIndexFile, ZoneIndex
from memstall.parsers._lines import numbered

_HEAD = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\S+)*)\s*$", re.ASCII)
# C "%03d" counts the sign in the width: -7 prints "-07", -500 prints "-500".
_VALUE = re.compile(r"^(-?\d+)\.(\d{3}|-\d{2,3})$", re.ASCII)


def _milli(token: str) -> int | None:
    m = _VALUE.match(token)
    if not m:
        return None
    # The kernel printed (v / 1000, v % 1000) with C semantics: v = q*1000 + r.
    return int(m.group(1)) * 1000 + int(m.group(2))


def parse_extfrag(text: str, path: str = "sys/kernel/debug/extfrag/extfrag_index") -> ExtfragIndexFile:
    zones: list[ZoneIndex] = []
    for no, line in numbered(text):
        m = _HEAD.match(line)
        if not m:
            raise ParseError(path, no, line, "'Node <n>, zone <name> <d.ddd>...'")
        values = []
        for token in m.group(3).split():
            v = _milli(token)
            if v is None:
                raise ParseError(path, no, line, "values like '0.937', '-1.000' or '0.-500'")
            values.append(v)
        zones.append(ZoneIndex(int(m.group(1)), m.group(2), tuple(values)))
    return ExtfragIndexFile(zones=tuple(zones))
