"""Zone watermarks, the default min_free_kbytes and the THP-raised value, per kernel era.

Mirrors mm/page_alloc.c __setup_per_zone_wmarks(), calculate_min_free_kbytes() and
mm/khugepaged.c set_recommended_min_free_kbytes(); see docs/kernel.md#watermarks. Checked to
the page against /proc/zoneinfo of 6.18 (tests/test_live_exactness.py) and against the
4.9 seed log's Mem-Info (tests/test_watermarks.py).

Eras:
- <= 4.5:  low = min + tmp/4,  high = min + tmp/2
- 4.6+:    d = max(tmp/4, managed * watermark_scale_factor / 10000) (795ae7a0de6b);
           low = min + d, high = min + 2d
- 5.18+:   promo = min + 3d (WMARK_PROMO); /proc/zoneinfo prints it from 6.12
- 5.13+:   ZONE_MOVABLE is treated like HighMem (min clamped to 32..128 pages, and left
           out of lowmem_pages) -- "mm/page_alloc: fix min_free_kbytes calculation
           regarding ZONE_MOVABLE"; the 5.13 boundary is from the patch's line numbers,
           not a release tag: unconfirmed. It only matters for kernels booted with
           kernelcore=/movablecore= or with hot-plugged movable memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memstall.model.kernel import KernelVersion
from memstall.model.zones import HIGHMEM_ZONES, MOVABLE_ZONES
from memstall.units import page_shift

SWAP_CLUSTER_MAX = 32
MIGRATE_PCPTYPES = 3
# Zones allowed for GFP_USER (gfp_zone(GFP_USER) = ZONE_NORMAL): everything below HighMem.
_LOWMEM_USER_ZONES = frozenset({"DMA", "DMA32", "Normal"})
# Assumed when the kernel version is unknown: the newest formulas.
NEWEST = KernelVersion(6, 18, 0)


@dataclass(frozen=True)
class ZoneSize:
    node: int
    zone: str
    managed_pages: int


@dataclass(frozen=True)
class ZoneWatermarks:
    node: int
    zone: str
    managed_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    promo_pages: int | None
    """Computed from 5.18 on; None before (WMARK_PROMO did not exist)."""

    @property
    def subject(self) -> str:
        return f"node{self.node}/{self.zone}"

    @property
    def band_pages(self) -> int:
        """The low->high gap: what kswapd frees once woken before it sleeps again."""
        return self.high_pages - self.low_pages


def _highmem_like(zone: str, kernel: KernelVersion) -> bool:
    return zone in HIGHMEM_ZONES or (zone in MOVABLE_ZONES and kernel.at_least(5, 13))


def watermark_scale_factor_max(kernel: KernelVersion | None) -> int | None:
    """Largest value the sysctl accepts; None before 4.6 (no such sysctl)."""
    k = kernel or NEWEST
    if not k.at_least(4, 6):
        return None
    return 3000 if k.at_least(5, 17) else 1000


def compute_watermarks(
    zones: Sequence[ZoneSize],
    min_free_kbytes: int,
    watermark_scale_factor: int,
    page_size: int,
    kernel: KernelVersion | None,
) -> tuple[ZoneWatermarks, ...]:
    """__setup_per_zone_wmarks() for every zone of every node (boost excluded)."""
    k = kernel or NEWEST
    pages_min = min_free_kbytes >> (page_shift(page_size) - 10)
    lowmem_pages = sum(z.managed_pages for z in zones if not _highmem_like(z.zone, k))
    out = []
    for z in zones:
        # do_div by zero cannot happen in the kernel (there is always a lowmem zone);
        # a log excerpt may lack one, so guard.
        tmp = pages_min * z.managed_pages // lowmem_pages if lowmem_pages else 0
        if _highmem_like(z.zone, k):
            wmin = min(max(z.managed_pages // 1024, SWAP_CLUSTER_MAX), 128)
        else:
            wmin = tmp
        promo: int | None = None
        if not k.at_least(4, 6):
            low, high = wmin + (tmp >> 2), wmin + (tmp >> 1)
        else:
            d = max(tmp >> 2, z.managed_pages * watermark_scale_factor // 10000)
            low, high = wmin + d, wmin + 2 * d
            if k.at_least(5, 18):
                promo = wmin + 3 * d
        out.append(ZoneWatermarks(z.node, z.zone, z.managed_pages, wmin, low, high, promo))
    return tuple(out)


def nr_free_buffer_pages(zones: Iterable[tuple[str, int, int]]) -> int:
    """Σ (managed - high) over zones usable by GFP_USER, for (zone, managed, high) triples."""
    return sum(max(managed - high, 0) for name, managed, high in zones
               if name in _LOWMEM_USER_ZONES)


def default_min_free_kbytes(free_buffer_pages: int, page_size: int,
                            kernel: KernelVersion | None) -> int:
    """calculate_min_free_kbytes(): 4*sqrt(lowmem kB), clamped to 128..64 MiB (256 MiB 5.7+)."""
    k = kernel or NEWEST
    lowmem_kbytes = free_buffer_pages * (page_size >> 10)
    new = math.isqrt(lowmem_kbytes * 16)
    cap = 262144 if k.at_least(5, 7) else 65536
    return min(max(new, 128), cap)


def pageblock_pages(page_size: int) -> int:
    """pageblock_nr_pages where pageblock_order = HPAGE_PMD_ORDER (x86, 4 KiB: 512)."""
    shift = page_shift(page_size)
    # A PMD maps PAGE_SIZE/8 entries of PAGE_SIZE: 2 MiB with 4 KiB, 512 MiB with 64 KiB.
    pmd_order = shift - 3
    return 1 << pmd_order


def thp_recommended_min_free_kbytes(populated_zones: Sequence[str], free_buffer_pages: int,
                                    page_size: int) -> int:
    """set_recommended_min_free_kbytes() (khugepaged, when THP is enabled)."""
    nr_zones = sum(1 for name in populated_zones if name not in MOVABLE_ZONES)
    pb = pageblock_pages(page_size)
    rec = pb * nr_zones * 2 + pb * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    rec = min(rec, free_buffer_pages // 20)
    return rec << (page_shift(page_size) - 10)
