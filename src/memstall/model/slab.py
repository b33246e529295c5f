"""/proc/slabinfo model (format 2.1: mm/slab_common.c cache_show, every kernel since 2.6.x).

Fields keep the kernel's header names (`<active_objs> <num_objs> <objsize> ...`); objsize is
in bytes, pagesperslab is 1 << the cache's page order. All values are gauges.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlabCache:
    name: str
    active_objs: int
    num_objs: int
    objsize_bytes: int
    objperslab: int
    pagesperslab: int
    limit: int
    batchcount: int
    sharedfactor: int
    active_slabs: int
    num_slabs: int
    sharedavail: int

    @property
    def slab_pages(self) -> int:
        """Pages the cache holds: num_slabs * pagesperslab (what slabtop's CACHE SIZE shows)."""
        return self.num_slabs * self.pagesperslab


@dataclass(frozen=True)
class SlabInfo:
    version: str
    """'2.1', or '2.1 (statistics)' with CONFIG_DEBUG_SLAB (extra columns, not kept)."""
    caches: tuple[SlabCache, ...]
