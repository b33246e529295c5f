"""RECLAIMABLE_SLAB — dentry/inode caches hold a large share of memory.

What it detects:
    SReclaimable (reclaimable slab: mostly dentries and inodes) as a share of the memory
    hugetlb leaves.

Why it matters:
    Slab is reclaimed by shrinkers, not from the LRU lists, in proportion to page-cache
    scanning and vm.vfs_cache_pressure. A large dentry/inode cache (file servers, backup
    scans, millions of small files) makes reclaim slower and, because slab pages are
    unmovable-ish, fragments memory.

Evidence:
    slab_reclaimable_pages, outside_hugetlb_pages, slab_ratio.

Remediation:
    Raise vm.vfs_cache_pressure above 100 so shrinkers free dentries/inodes more
    eagerly (6.16+: vm.vfs_cache_pressure_denom allows finer steps).

References:
    Documentation/admin-guide/sysctl/vm.rst (vfs_cache_pressure); docs/kernel.md#vfs-cache-pressure.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.memory_use import memory_use
from memstall.rules._base import (
    Inputs,
    Result,
    Rule,
    RuleEvidence,
    Severity,
    Skipped,
    Text,
    human,
    missing,
    ratio,
)

KEY = "RECLAIMABLE_SLAB"
INFO_RATIO = 0.1
WARNING_RATIO = 0.2


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    slab_reclaimable_pages: int
    outside_hugetlb_pages: int
    slab_ratio: float


TEXT = Text(
    summary="reclaimable slab (dentries/inodes) holds {slab} ({slab_pct:.0f}% of usable memory)",
    explanation="""Reclaimable slab, mostly the dentry and inode caches, holds {slab}:
    {slab_pct:.0f}% of the {outside} not reserved for hugetlb. Shrinkers free it in proportion
    to page-cache scanning and vm.vfs_cache_pressure, more slowly than clean page cache, and
    slab pages cannot be moved by compaction, so a large slab also fragments memory.""",
    fix="""Raise vm.vfs_cache_pressure above 100 so dentries and inodes are reclaimed more
    eagerly (see the recommendation).""",
)


def check(inputs: Inputs) -> Result:
    ps = inputs.state.page_size
    use = memory_use(inputs.state.meminfo, ps)
    if use is None:
        return missing(KEY, inputs, "meminfo", "proc/meminfo")
    if use.slab_reclaimable_pages is None:
        return Skipped(KEY, "meminfo has no SReclaimable line")
    outside = use.outside_hugetlb_pages
    share = ratio(use.slab_reclaimable_pages, outside)
    if share < INFO_RATIO:
        return ()
    severity = Severity.WARNING if share >= WARNING_RATIO else Severity.INFO
    evidence = Evidence(slab_reclaimable_pages=use.slab_reclaimable_pages, outside_hugetlb_pages=outside,
                        slab_ratio=share)
    return (TEXT.finding(KEY, severity, "host", evidence, slab=human(use.slab_reclaimable_pages, ps),
                         outside=human(outside, ps), slab_pct=share * 100),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
