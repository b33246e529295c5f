"""PAGE_CACHE_DOMINANT — page cache fills the memory hugetlb leaves, much of it dirty.

What it detects:
    File-backed LRU pages (Active(file) + Inactive(file)) as a share of the memory not
    reserved for hugetlb, and how much of the page cache is dirty or under writeback,
    compared with the inactive file list reclaim scans first.

Why it matters:
    A full page cache is normal and cheap to reclaim while it is clean. Dirty pages
    cannot be freed until written back: when the inactive file list is mostly dirty,
    kswapd and direct reclaim scan pages they cannot free, throttle on writeback and the
    allocating task waits for the disk.

Evidence:
    file_pages, outside_hugetlb_pages, file_ratio, dirty_pages, writeback_pages,
    inactive_file_pages, dirty_inactive_ratio.

Remediation:
    Start background writeback earlier and cap dirty memory in bytes
    (vm.dirty_background_bytes, vm.dirty_bytes) so reclaim finds clean pages; keep a
    larger free pool (vm.watermark_scale_factor).

References:
    mm/vmscan.c shrink_folio_list (dirty/writeback handling);
    Documentation/admin-guide/sysctl/vm.rst (dirty_*); docs/kernel.md#vmstat-counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.memory_use import memory_use
from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Text, human, missing, ratio

KEY = "PAGE_CACHE_DOMINANT"
FILE_RATIO = 0.5
"""Page cache holds most of the memory that hugetlb leaves."""
DIRTY_INACTIVE_RATIO = 0.2
"""A fifth of the inactive file list dirty: reclaim scans many pages it cannot free."""


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    file_pages: int
    outside_hugetlb_pages: int
    file_ratio: float
    dirty_pages: int
    writeback_pages: int
    inactive_file_pages: int
    """Inactive(file), or all file pages when meminfo does not split the lists."""
    dirty_inactive_ratio: float


TEXT = Text(
    summary="page cache holds {file} ({file_pct:.0f}% of the {outside} hugetlb leaves); "
            "{dirty} dirty, {writeback} under writeback",
    explanation="""The page cache holds {file}, {file_pct:.0f}% of the {outside} not reserved for
    hugetlb. {dirty} of it is dirty and {writeback} is being written back, against an inactive
    file list of {inactive} ({dirty_inactive_pct:.0f}% of it, if all dirty pages sat there).
    Clean cache is cheap to reclaim; dirty pages cannot be freed until they are written, so
    kswapd and direct reclaim scan pages they cannot use and wait on writeback.""",
    fix="""Cap dirty page cache in bytes so writeback starts early and reclaim finds clean
    pages (vm.dirty_background_bytes, vm.dirty_bytes), and keep a larger free pool
    (vm.watermark_scale_factor).""",
)


def check(inputs: Inputs) -> Result:
    ps = inputs.state.page_size
    use = memory_use(inputs.state.meminfo, ps)
    if use is None:
        return missing(KEY, inputs, "meminfo", "proc/meminfo")
    outside = use.outside_hugetlb_pages
    file_ratio = ratio(use.file_pages, outside)
    dirty = use.dirty_pages + use.writeback_pages
    inactive = use.inactive_file_pages if use.inactive_file_pages is not None else use.file_pages
    dirty_inactive = ratio(dirty, inactive)
    if file_ratio < FILE_RATIO:
        return ()
    severity = Severity.WARNING if dirty_inactive >= DIRTY_INACTIVE_RATIO else Severity.INFO
    evidence = Evidence(file_pages=use.file_pages, outside_hugetlb_pages=outside, file_ratio=file_ratio,
                        dirty_pages=use.dirty_pages, writeback_pages=use.writeback_pages,
                        inactive_file_pages=inactive, dirty_inactive_ratio=dirty_inactive)
    return (TEXT.finding(KEY, severity, "host", evidence, file=human(use.file_pages, ps),
                         outside=human(outside, ps), file_pct=file_ratio * 100,
                         dirty=human(use.dirty_pages, ps), writeback=human(use.writeback_pages, ps),
                         inactive=human(inactive, ps),
                         dirty_inactive_pct=min(dirty_inactive, 1.0) * 100),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
