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
    slab_reclaimable_pages, outside_hugetlb_pages, slab_ratio; with proc/slabinfo (root only)
    also vfs_cache_pages (dentry and inode caches: what the vfs cache pressure knob weights),
    other_reclaimable_pages (caches freed with the page cache) and top_reclaimable_caches
    ('name=bytes' of the largest reclaimable caches, largest first).

Remediation:
    Raise vm.vfs_cache_pressure above 100 so shrinkers free dentries/inodes more
    eagerly (6.16+: vm.vfs_cache_pressure_denom allows finer steps).

References:
    Documentation/admin-guide/sysctl/vm.rst (vfs_cache_pressure); docs/kernel.md#vfs-cache-pressure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from memstall.analysis.memory_use import memory_use
from memstall.analysis.slab import SlabUse, slab_use
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


@dataclass(frozen=True)
class SlabinfoEvidence(Evidence):
    """The same, with proc/slabinfo's caches: which slab vm.vfs_cache_pressure can free."""

    vfs_cache_pages: int
    other_reclaimable_pages: int
    top_reclaimable_caches: str


TOP_CACHES = 5


def _with_caches(ev: Evidence, slab: SlabUse, page_size: int) -> SlabinfoEvidence:
    top = ",".join(f"{c.name}={c.slab_pages * page_size}" for c in slab.top(TOP_CACHES, "reclaimable"))
    return SlabinfoEvidence(ev.slab_reclaimable_pages, ev.outside_hugetlb_pages, ev.slab_ratio,
                            vfs_cache_pages=slab.vfs_pages,
                            other_reclaimable_pages=slab.other_reclaimable_pages,
                            top_reclaimable_caches=top)


def _caches_words(slab: SlabUse, page_size: int) -> str:
    top = ", ".join(f"{c.name} {human(c.slab_pages, page_size)}"
                    for c in slab.top(TOP_CACHES, "reclaimable"))
    return (f" proc/slabinfo: dentry and inode caches hold {human(slab.vfs_pages, page_size)}, "
            f"other reclaimable caches (freed with the page cache, not weighted by "
            f"vm.vfs_cache_pressure) {human(slab.other_reclaimable_pages, page_size)}; the largest: "
            f"{top or 'none'}.")


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
    info = inputs.state.slabinfo
    if info is not None:
        slab = slab_use(info)
        evidence = _with_caches(evidence, slab, ps)
    found = TEXT.finding(KEY, severity, "host", evidence, slab=human(use.slab_reclaimable_pages, ps),
                         outside=human(outside, ps), slab_pct=share * 100)
    if info is None:
        return (found,)
    return (replace(found, explanation=found.explanation + _caches_words(slab, ps)),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence, SlabinfoEvidence))
