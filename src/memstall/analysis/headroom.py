"""How long the kswapd gap lasts at the observed allocation rate, and the gap it should be.

kswapd wakes when a zone's free pages fall to `low` and reclaims until `high`;
allocators enter direct reclaim at `min`. Since 4.6 both distances (min->low and
low->high) are the same `d` (docs/kernel.md#watermarks), so `d` is the time kswapd gets, in pages,
between being woken and allocators stalling. Dividing by the page allocation rate
(Σ pgalloc_* per second: 2**order pages per allocation) gives seconds of headroom.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from memstall.model.zones import HIGHMEM_ZONES, MOVABLE_ZONES, ZoneInfo

HEADROOM_TARGET_SECONDS = 1.0
"""The gap should last at least this long at the observed rate: kswapd naps 100 ms
(HZ/10) between balance attempts and a reclaim pass over a large LRU takes hundreds of
milliseconds, so under one second of headroom bursts outrun it."""

PGALLOC_ZONES = ("dma", "dma32", "normal", "high", "movable", "device")


def pgalloc_per_second(per_second: Mapping[str, float]) -> float | None:
    """Pages allocated per second (Σ pgalloc_<zone>); None when no pgalloc counter exists."""
    found = [per_second[f"pgalloc_{z}"] for z in PGALLOC_ZONES if f"pgalloc_{z}" in per_second]
    return sum(found) if found else None


def lowmem_managed_pages(zoneinfo: ZoneInfo) -> int:
    """Σ managed over the zones watermark_scale_factor scales (not HighMem/Movable)."""
    return sum(z.managed_pages or 0 for z in zoneinfo.zones
               if z.zone not in HIGHMEM_ZONES and z.zone not in MOVABLE_ZONES)


def kswapd_gap_pages(zoneinfo: ZoneInfo) -> int:
    """Σ (low - min) over populated zones: the pages allocators may take after kswapd wakes."""
    return sum(max(z.low_pages - z.min_pages, 0) for z in zoneinfo.zones if z.populated)


def headroom_seconds(gap_pages: int, alloc_pages_per_second: float) -> float | None:
    if alloc_pages_per_second <= 0:
        return None
    return gap_pages / alloc_pages_per_second


def scale_factor_for_gap(target_gap_pages: float, lowmem_managed: int) -> int:
    """Smallest watermark_scale_factor whose managed*wsf/10000 reaches the target gap."""
    if lowmem_managed <= 0:
        return 1
    return max(1, math.ceil(target_gap_pages * 10000 / lowmem_managed))
