"""WATERMARK_GAP_TOO_SMALL — the kswapd gap lasts less than a second at the allocation rate.

What it detects:
    Seconds of headroom: Σ (low - min) pages over the zones, divided by the page
    allocation rate (Σ pgalloc_* per second) between two samples, when reclaim shows
    pressure (direct reclaim, or kswapd hitting the low watermark within its nap).

Why it matters:
    kswapd is woken at `low`; allocators stall at `min`. The pages between them are all
    the time kswapd gets. When they last only a fraction of a second, any burst reaches
    `min` before kswapd has freed anything and the allocating tasks reclaim themselves.

Evidence:
    gap_pages, pgalloc_pages_per_second, headroom_seconds, allocstall_per_second,
    low_wmark_hit_quickly_per_second, interval_seconds.

Remediation:
    Size vm.watermark_scale_factor so the gap covers at least one second of the observed
    allocation rate (the recommendation does the arithmetic, within the kernel's limit).

References:
    Documentation/admin-guide/sysctl/vm.rst (watermark_scale_factor); docs/kernel.md#watermarks,
    docs/kernel.md#vm-sysctl-ranges; analysis/headroom.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.headroom import (
    HEADROOM_TARGET_SECONDS,
    headroom_seconds,
    kswapd_gap_pages,
    pgalloc_per_second,
)
from memstall.analysis.rates import allocstall_per_second
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
    rates_skip,
)

KEY = "WATERMARK_GAP_TOO_SMALL"
CRITICAL_SECONDS = 0.1
"""Less than kswapd's own 100 ms nap."""


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    gap_pages: int
    """Σ (low - min) over the zones."""
    pgalloc_pages_per_second: float
    headroom_seconds: float
    allocstall_per_second: float
    low_wmark_hit_quickly_per_second: float
    interval_seconds: float


TEXT = Text(
    summary="the min->low gap ({gap}) lasts {headroom_seconds:.2f} s at "
            "{alloc_rate}/s of allocations",
    explanation="""Allocations took {pgalloc_pages_per_second:.0f} pages/s ({alloc_rate}/s) over
    {interval_seconds:.1f} s. kswapd is woken at the low watermark and allocators stall at min;
    the {gap} between them over all zones lasts {headroom_seconds:.2f} s at that rate. Reclaim
    is already under pressure ({allocstall_per_second:.1f} direct reclaims/s, kswapd back at low
    within its nap {low_wmark_hit_quickly_per_second:.2f} times/s), so bursts reach min before
    kswapd frees anything.""",
    fix="""Raise vm.watermark_scale_factor until the gap covers at least
    {target:.0f} s of the allocation rate (see the recommendation).""",
)


def check(inputs: Inputs) -> Result:
    rates = inputs.rates
    if rates is None:
        return rates_skip(KEY, inputs)
    zoneinfo = inputs.state.zoneinfo
    if zoneinfo is None:
        return missing(KEY, inputs, "zone watermarks", "proc/zoneinfo")
    alloc = pgalloc_per_second(rates.per_second)
    if alloc is None:
        return Skipped(KEY, "no pgalloc_* counters in /proc/vmstat")
    gap = kswapd_gap_pages(zoneinfo)
    seconds = headroom_seconds(gap, alloc)
    stalls = allocstall_per_second(rates) or 0.0
    quick = rates.per_second.get("kswapd_low_wmark_hit_quickly", 0.0)
    if seconds is None or seconds >= HEADROOM_TARGET_SECONDS or (stalls <= 0 and quick <= 0):
        return ()
    severity = Severity.CRITICAL if seconds < CRITICAL_SECONDS and stalls > 0 else Severity.WARNING
    ps = inputs.state.page_size
    evidence = Evidence(gap_pages=gap, pgalloc_pages_per_second=round(alloc, 1),
                        headroom_seconds=round(seconds, 3), allocstall_per_second=round(stalls, 3),
                        low_wmark_hit_quickly_per_second=round(quick, 3),
                        interval_seconds=round(rates.interval_seconds, 3))
    return (TEXT.finding(KEY, severity, "host", evidence, gap=human(gap, ps),
                         alloc_rate=human(round(alloc), ps), target=HEADROOM_TARGET_SECONDS),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
