"""ZONE_BELOW_WATERMARK — free memory of a zone at or below its min or low watermark.

What it detects:
    A populated zone whose free pages are at or below its `min` watermark (CRITICAL) or
    its `low` watermark (INFO: kswapd is awake, which is normal operation), as
    /proc/zoneinfo or a Mem-Info zone line prints them (boost included: the kernel
    compares against the boosted values). With several samples, the one where the zone
    came closest to its low watermark counts.

Why it matters:
    kswapd is woken when a zone falls to `low` and reclaims until `high`. Below `min`,
    every allocation that may sleep enters direct reclaim (and, for order > 0, direct
    compaction) in the allocating task itself before it gets a page: that is the stall
    users see. Only atomic / __GFP_HIGH callers may dip further.

Evidence:
    free_pages, min_pages, low_pages, high_pages, managed_pages, boost_pages.

Remediation:
    Widen the low->high gap (vm.watermark_scale_factor, 4.6+) so kswapd starts earlier
    and keeps more free; find out why reclaim cannot keep up (dirty pages, hugetlb,
    unreclaimable slab). `memstall whatif` shows the band a new value gives.

References:
    mm/page_alloc.c zone_watermark_ok / __zone_watermark_ok;
    Documentation/admin-guide/sysctl/vm.rst (min_free_kbytes, watermark_scale_factor);
    docs/kernel.md#watermarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from memstall.model.zones import Zone
from memstall.rules._base import Finding, Inputs, Result, Rule, RuleEvidence, Severity, Text, human, missing

KEY = "ZONE_BELOW_WATERMARK"


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    """The zone in the sample where it came closest to its low watermark."""

    free_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    managed_pages: Optional[int]
    boost_pages: Optional[int]
    """None: the kernel does not print it (before 5.0)."""


TEXT_MIN = Text(
    summary="{subject}: free {free} is at or below the min watermark {min}",
    explanation="""Free memory in {subject} ({free}) is at or below its min watermark ({min}).
    Every allocation that may sleep now runs direct reclaim in the allocating task before it
    gets a page (and direct compaction for order > 0): this is where allocation stalls come
    from. kswapd was woken at the low watermark ({low}) and has not brought the zone back to
    high ({high}); the gap it works with is {gap}.""",
    fix="""Raise vm.watermark_scale_factor so kswapd wakes earlier and keeps a larger free pool
    (`memstall whatif --set vm.watermark_scale_factor=N` shows the effect), and remove what
    slows reclaim (see the other findings).""",
)
TEXT_LOW = Text(
    summary="{subject}: free {free} is below the low watermark {low} (kswapd is reclaiming)",
    explanation="""Free memory in {subject} ({free}) is below its low watermark ({low}) but
    above min ({min}). kswapd is awake and reclaiming towards high ({high}); allocations still
    succeed without stalling, but one burst of {headroom} more takes the zone to min and into
    direct reclaim.""",
    fix="""If this persists or allocation stalls are seen, raise vm.watermark_scale_factor so the
    free pool is larger than the bursts.""",
)


def _lowest(latest: Zone, earlier: list[dict[tuple[int, str], Zone]]) -> Zone:
    """The zone in the sample where it came closest to (or furthest below) its low watermark:
    the first such in the order latest, then the history oldest first (what `min` gave).
    Written as a loop over each earlier state's zone index: the exporter runs it for every
    zone over up to 64 states on every scrape, and the call per look-up was most of its cost."""
    key = (latest.node, latest.zone)
    best, margin = latest, latest.free_pages - latest.low_pages
    for index in earlier:
        z = index.get(key)
        if z is not None and z.free_pages - z.low_pages < margin:
            best, margin = z, z.free_pages - z.low_pages
    return best


def check(inputs: Inputs) -> Result:
    zoneinfo = inputs.state.zoneinfo
    if zoneinfo is None:
        return missing(KEY, inputs, "zone watermarks", "proc/zoneinfo")
    ps = inputs.state.page_size
    out: list[Finding] = []
    earlier = [s.zoneinfo.by_key for s in inputs.history if s.zoneinfo is not None]
    for latest in zoneinfo.zones:
        if not latest.populated or not latest.managed_pages:
            continue
        z = _lowest(latest, earlier)
        evidence = Evidence(free_pages=z.free_pages, min_pages=z.min_pages, low_pages=z.low_pages,
                            high_pages=z.high_pages, managed_pages=z.managed_pages,
                            boost_pages=z.boost_pages)
        words = {"free": human(z.free_pages, ps), "min": human(z.min_pages, ps),
                 "low": human(z.low_pages, ps), "high": human(z.high_pages, ps),
                 "gap": human(z.high_pages - z.low_pages, ps),
                 "headroom": human(z.free_pages - z.min_pages, ps)}
        if z.free_pages <= z.min_pages:
            out.append(TEXT_MIN.finding(KEY, Severity.CRITICAL, z.subject, evidence, **words))
        elif z.free_pages <= z.low_pages:
            out.append(TEXT_LOW.finding(KEY, Severity.INFO, z.subject, evidence, **words))
    return tuple(out)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
