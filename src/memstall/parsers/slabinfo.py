"""slabinfo — /proc/slabinfo (mode 0400: root only), format 2.1

    slabinfo - version: 2.1
    # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> \
        : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
    dentry             95802  98133    192   21    1 : tunables    0    0    0 : slabdata   4673   4673      0

Printed by mm/slab_common.c (print_slabinfo_header, cache_show); version 2.1 since 2.6.x
(2.0 lacked the slabdata section). CONFIG_DEBUG_SLAB (SLAB, before 6.8 removed it) prints
'2.1 (statistics)' and appends ` : globalstat ...` and ` : cpustat ...` sections, which are
read past. Any other version is refused: its columns would be misread.

>>> s = parse_slabinfo("slabinfo - version: 2.1\\n"
...     "dentry  10 21 192 21 1 : tunables 0 0 0 : slabdata 1 1 0\\n")
>>> s.caches[0].name, s.caches[0].slab_pages
('dentry', 1)
"""

from __future__ import annotations

from memstall.errors import ParseError
from memstall.model.slab import SlabCache, SlabInfo
from memstall.parsers._lines import numbered, to_int

_VERSION = "slabinfo - version: "
_VERSIONS = ("2.1", "2.1 (statistics)")
_SHAPE = ("'<name> <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables "
          "<limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>'")


def _cache(line: str, path: str, no: int) -> SlabCache:
    parts = line.split(" : ")
    if len(parts) < 3 or not parts[1].startswith("tunables") or not parts[2].startswith("slabdata"):
        raise ParseError(path, no, line, _SHAPE)
    head, tunables, slabdata = parts[0].split(), parts[1].split()[1:], parts[2].split()[1:]
    if len(head) < 6 or len(tunables) != 3 or len(slabdata) != 3:
        raise ParseError(path, no, line, _SHAPE)
    name = " ".join(head[:-5])
    n = [to_int(t, path, no, line, _SHAPE) for t in (*head[-5:], *tunables, *slabdata)]
    if min(n) < 0:
        raise ParseError(path, no, line, _SHAPE + " with counts >= 0")
    return SlabCache(name, *n)


def parse_slabinfo(text: str, path: str = "proc/slabinfo") -> SlabInfo:
    lines = list(numbered(text))
    if not lines:
        raise ParseError(path, 0, text[:40], "'slabinfo - version: 2.1' (the file is empty)")
    no, first = lines[0]
    version = first[len(_VERSION):].strip() if first.startswith(_VERSION) else None
    if version not in _VERSIONS:
        raise ParseError(path, no, first, "'slabinfo - version: 2.1' (the only format memstall reads)")
    caches = []
    for no, line in lines[1:]:
        if line.startswith("#"):
            continue  # the column header
        caches.append(_cache(line, path, no))
    assert version is not None
    return SlabInfo(version=version, caches=tuple(caches))
