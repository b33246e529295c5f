"""The arithmetic behind recommended values: every number derived from a measured one.

Pure functions; the words around them live in advice/recommend.py. Every result is
clamped to what the kernel accepts (analysis/sysctl_limits.py) for its version.
"""

from __future__ import annotations

import math

from memstall.analysis.fragmentation import extfrag_for_order
from memstall.analysis.headroom import HEADROOM_TARGET_SECONDS, scale_factor_for_gap
from memstall.analysis.sysctl_limits import limits_for
from memstall.model.kernel import KernelVersion
from memstall.units import MIB, pages_to_bytes

SLAB_TARGET_RATIO = 0.10
"""vfs_cache_pressure is scaled so reclaimable slab would fall back to a tenth of memory."""
DIRTY_BACKGROUND_SHARE = 4
"""Background writeback starts when dirty pages reach 1/4 of the inactive file list ..."""
DIRTY_LIMIT_SHARE = 2
"""... and writers are throttled at 1/2 of it, so reclaim mostly meets clean pages."""


def clamp(name: str, value: int, kernel: KernelVersion | None) -> int:
    """`value` moved into the kernel's accepted range for `name` (unchanged if unknown)."""
    limit = limits_for(name, kernel)
    if limit is None:
        return value
    value = max(value, limit.min_value)
    if limit.max_value is not None:
        value = min(value, limit.max_value)
    return value


def wsf_target_gap_pages(alloc_pages_per_second: float | None,
                         dirty_pages: int | None) -> tuple[float, str] | None:
    """The min->low gap to aim for, and what it was sized from.

    With a measured allocation rate: one HEADROOM_TARGET_SECONDS of it. From a single
    sample or a log: the dirty + writeback page cache, which reclaim cannot free until
    written back, so the free pool must carry allocations for that long.
    """
    if alloc_pages_per_second is not None and alloc_pages_per_second > 0:
        return alloc_pages_per_second * HEADROOM_TARGET_SECONDS, "rate"
    if dirty_pages:
        return float(dirty_pages), "dirty"
    return None


def watermark_scale_factor(target_gap_pages: float, lowmem_managed: int,
                           kernel: KernelVersion | None) -> int:
    return clamp("vm.watermark_scale_factor", scale_factor_for_gap(target_gap_pages, lowmem_managed),
                 kernel)


def vfs_cache_pressure(current: int, slab_ratio: float, kernel: KernelVersion | None) -> int:
    base = current if current > 0 else 100
    return clamp("vm.vfs_cache_pressure", math.ceil(base * slab_ratio / SLAB_TARGET_RATIO), kernel)


def dirty_bytes_pair(inactive_file_pages: int, page_size: int,
                     kernel: KernelVersion | None) -> tuple[int, int]:
    """(dirty_background_bytes, dirty_bytes) from the inactive file list, in whole MiB."""
    inactive = pages_to_bytes(inactive_file_pages, page_size)
    background = max(inactive // DIRTY_BACKGROUND_SHARE // MIB, 1) * MIB
    limit = max(inactive // DIRTY_LIMIT_SHARE // MIB, 2) * MIB
    return (clamp("vm.dirty_background_bytes", background, kernel),
            clamp("vm.dirty_bytes", limit, kernel))


def node_fragmentation_score(zone_blocks: list[tuple[int, tuple[int, ...]]], order: int) -> int:
    """Proactive compaction's score (5.9+), weighted by free pages instead of present pages.

    The kernel weights extfrag_for_order(zone, order) by zone present pages; buddyinfo
    has no present count, so the free-page weight is an approximation (documented).
    """
    total = sum(free for free, _ in zone_blocks)
    if not total:
        return 0
    return sum(free * extfrag_for_order(blocks, order) for free, blocks in zone_blocks) // total


def proactive_marks(proactiveness: int, kernel: KernelVersion | None) -> tuple[int, int]:
    """(low, high) fragmentation-score marks of proactive compaction (docs/kernel.md#proactive-compaction).

    kcompactd starts compacting a node whose score is above high and stops below low.
    5.9-6.15: low = max(100 - p, 5), high = min(low + 10, 100). 6.16+ (no floor of 5, a
    leeway of at most half the low mark): low = 100 - p, high = min(low + min(10, low // 2), 100).
    Unknown kernel: the newest.
    """
    if kernel is None or kernel.at_least(6, 16):
        low = 100 - proactiveness
        return low, min(low + min(10, low // 2), 100)
    low = max(100 - proactiveness, 5)
    return low, min(low + 10, 100)


NOT_FRAGMENTED_SCORE = 15
"""The lowest start mark kernels 5.9-6.15 allow (low mark floor 5 + 10): at or below this
score there is too little fragmentation for proactive compaction to be worth its CPU."""


def compaction_proactiveness(score: int, current: int, kernel: KernelVersion | None) -> int | None:
    """Smallest proactiveness whose start mark lies below `score`, or None when the current
    value already starts compaction at this score or the score is too low to bother.

    0 disables proactive compaction, so the search starts at 1; the range is 0..100.
    """
    if score <= NOT_FRAGMENTED_SCORE or (current > 0 and proactive_marks(current, kernel)[1] < score):
        return None
    value = next(p for p in range(1, 101) if proactive_marks(p, kernel)[1] < score)
    return clamp("vm.compaction_proactiveness", value, kernel) if value > current else None
