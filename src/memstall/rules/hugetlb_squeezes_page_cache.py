"""HUGETLB_SQUEEZES_PAGE_CACHE — hugetlb reservations take a large share of RAM.

What it detects:
    Memory reserved for hugetlb pages (all sizes) as a share of MemTotal, how much of
    it is unused, and what is left for the page cache and everything else.

Why it matters:
    hugetlb pages are taken out of the page allocator for good: reclaim cannot touch
    them. The watermarks, though, are a share of each zone's managed memory, hugetlb
    included, so with half of RAM in hugetlb the same watermark_scale_factor reserves
    twice the share of the memory that is left; and the page cache competes for only
    that remainder. Unused reserved hugepages are memory withheld for nothing.

Evidence:
    hugetlb_pages, hugetlb_free_pages, total_pages, hugetlb_ratio, outside_hugetlb_pages.
    hugetlb_free_pages is null when meminfo lacks Hugepagesize and no other source tells the
    size; the finding is then INFO and says so.

Remediation:
    Size vm.nr_hugepages to what the workload maps (HugePages_Total - HugePages_Free);
    account for the smaller remainder when sizing watermarks and dirty limits.

References:
    Documentation/admin-guide/mm/hugetlbpage.rst; docs/kernel.md#watermarks (watermarks scale
    with managed pages).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from memstall.analysis.memory_use import memory_use
from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Text, human, missing, ratio

KEY = "HUGETLB_SQUEEZES_PAGE_CACHE"
INFO_RATIO = 0.25
UNUSED_RATIO = 0.1
"""A tenth of the pool unused: withheld memory worth giving back."""


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    hugetlb_pages: int
    hugetlb_free_pages: Optional[int]
    total_pages: int
    hugetlb_ratio: float
    outside_hugetlb_pages: int


TEXT = Text(
    summary="hugetlb reserves {hugetlb} ({hugetlb_pct:.0f}% of RAM, {unused} unused); "
            "{outside} is left for page cache and the rest",
    explanation="""{hugetlb} of {total} is reserved for hugetlb pages ({unused} of it unused).
    Reclaim can never touch those pages, so the page cache, anonymous memory, slab and the
    free pool share the remaining {outside}. The watermarks are a share of each zone's managed
    memory, hugetlb included, so every watermark setting weighs {weight:.1f}x as much on the
    memory that is actually reclaimable.""",
    fix="""Keep vm.nr_hugepages at what the workload maps ({used} in use now); remember the
    smaller remainder when sizing watermarks and dirty limits.""",
)
SIZE_UNKNOWN = "an unknown amount"
"""What `unused` and `used` say when the hugepage size is unknown."""


def check(inputs: Inputs) -> Result:
    ps = inputs.state.page_size
    use = memory_use(inputs.state.meminfo, ps, inputs.state.hugepages)
    if use is None:
        return missing(KEY, inputs, "meminfo", "proc/meminfo")
    share = ratio(use.hugetlb_pages, use.total_pages)
    if share < INFO_RATIO:
        return ()
    free = use.hugetlb_free_pages
    unused = 0.0 if free is None else ratio(free, use.hugetlb_pages)
    severity = Severity.WARNING if unused >= UNUSED_RATIO else Severity.INFO
    outside = use.outside_hugetlb_pages
    evidence = Evidence(hugetlb_pages=use.hugetlb_pages, hugetlb_free_pages=free,
                        total_pages=use.total_pages, hugetlb_ratio=share, outside_hugetlb_pages=outside)
    found = TEXT.finding(KEY, severity, "host", evidence, hugetlb=human(use.hugetlb_pages, ps),
                         hugetlb_pct=share * 100,
                         unused=SIZE_UNKNOWN if free is None else human(free, ps),
                         outside=human(outside, ps), total=human(use.total_pages, ps),
                         weight=use.total_pages / outside if outside else 0.0,
                         used=SIZE_UNKNOWN if free is None else human(use.hugetlb_pages - free, ps))
    if use.hugepage_size_note is None:
        return (found,)
    return (replace(found, explanation=f"{found.explanation} {use.hugepage_size_note}."),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
