"""hugepages — sys/kernel/mm/hugepages/hugepages-<size>kB/{nr,free}_hugepages (2.6.27+)

One directory per hugepage size the kernel supports (mm/hugetlb.c hugetlb_sysfs_add_hstate);
its name carries the size in kB, and each file holds one count. The directory names alone
tell the sizes when a root keeps no file inside them.

>>> parse_hugepages({"sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "4\\n"})
(HugePagePool(size_kib=2048, nr_hugepages=4, free_hugepages=None),)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from memstall import specs
from memstall.errors import ParseError
from memstall.model.meminfo import HugePagePool
from memstall.parsers._lines import to_int

_DIR = re.compile(r"(?:^|/)hugepages-(\d+)kB/([a-z_]+)$", re.ASCII)
_READ = ("nr_hugepages", "free_hugepages")


def _count(text: str, rel: str) -> int:
    lines = text.splitlines() or [""]
    value = to_int(lines[0].strip(), rel, 1, lines[0], "'<int>'")
    if value < 0:
        raise ParseError(rel, 1, lines[0], "a count >= 0")
    return value


def parse_hugepages(files: Mapping[str, str],
                    pattern: str = specs.HUGEPAGES_FILES) -> tuple[HugePagePool, ...]:
    """{relative path: text} of the files under hugepages-*kB/ -> one pool per size."""
    pools: dict[int, dict[str, int]] = {}
    for rel, text in sorted(files.items()):
        m = _DIR.search(rel)
        if m is None:
            raise ParseError(rel, 0, rel, "a path under hugepages-<size>kB/")
        counts = pools.setdefault(int(m.group(1)), {})
        if m.group(2) in _READ:
            counts[m.group(2)] = _count(text, rel)
    return tuple(HugePagePool(size, c.get("nr_hugepages"), c.get("free_hugepages"))
                 for size, c in sorted(pools.items()))
