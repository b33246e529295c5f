"""COMPACTION_STALLS — allocations run direct compaction, and most attempts fail.

What it detects:
    compact_stall (direct compaction entries), compact_fail and compact_success: per
    second between two samples when there are two, otherwise the totals since boot.

Why it matters:
    A high-order allocation that finds no free block of its order compacts memory in
    its own context (compact_stall). A failed attempt is pure latency and usually
    followed by reclaim and another attempt. Many failures mean either too little free
    memory to compact into, or pageblocks pinned by unmovable pages.

Evidence:
    compact_stall, compact_fail, compact_success (per second, or since boot), window.

Remediation:
    When failures dominate and free memory is low, more free memory (watermarks) helps
    more than compaction knobs; for THP faults, THP defrag `defer+madvise` moves the
    work to kcompactd; on 5.9+ vm.compaction_proactiveness compacts in the background.

References:
    mm/page_alloc.c __alloc_pages_direct_compact (COMPACTSTALL/COMPACTFAIL/COMPACTSUCCESS);
    docs/kernel.md#compaction-triggers, docs/kernel.md#vmstat-counters.
"""

from __future__ import annotations

from memstall.rules._base import Inputs, Result, Rule, Severity, Skipped, Text, kernel_of, missing
from memstall.rules._knobs import compaction_fix, watermark_knob

KEY = "COMPACTION_STALLS"

TEXT = Text(
    summary="{window}: {stalls} direct compactions, {fails} failed and {successes} succeeded",
    explanation="""{window}, allocations that found no free block of their order compacted memory
    themselves {stalls} times; {fails} of those attempts failed and {successes} produced the
    block ({fail_words}). Each attempt is latency in the allocating task; a failed one is
    followed by reclaim and often another attempt. When most attempts fail, compaction lacks
    free memory to move pages into, or pageblocks are pinned by unmovable pages.""",
    fix="""If free memory sits near the watermarks, widen them first ({watermark_knob}); then
    {compaction_fix}.""",
)


def _fail_words(fails: float, stalls: float) -> str:
    if stalls <= 0:
        return "no attempts"
    share = fails / stalls
    if share >= 0.995:
        return "every attempt failed"
    return f"about {round(share * 10)} in 10 failed" if share >= 0.05 else "almost all succeeded"


def check(inputs: Inputs) -> Result:
    rates = inputs.rates
    if rates is not None and "compact_stall" in rates.per_second:
        stalls = rates.per_second["compact_stall"]
        fails = rates.per_second.get("compact_fail", 0.0)
        ok = rates.per_second.get("compact_success", 0.0)
        window = f"Over {rates.interval_seconds:.1f} s, per second"
        unit = "_per_second"
        fmt = "{:.1f}"
    else:
        vmstat = inputs.state.vmstat
        if vmstat is not None and vmstat.get("compact_stall") is None:
            return Skipped(KEY, "proc/vmstat has no compact_stall counter (kernel without "
                                "CONFIG_COMPACTION, or a capture without event counters)")
        if vmstat is None or vmstat.get("compact_stall") is None:
            return missing(KEY, inputs, "compaction counters", "proc/vmstat",
                       in_mem_info=False)
        stalls = float(vmstat.get("compact_stall") or 0)
        fails = float(vmstat.get("compact_fail") or 0)
        ok = float(vmstat.get("compact_success") or 0)
        window, unit, fmt = "Since boot", "_since_boot", "{:.0f}"
    if stalls <= 0:
        return ()
    live_pressure = rates is not None and unit == "_per_second"
    severity = Severity.WARNING if live_pressure and fails > ok else Severity.INFO
    evidence = {f"compact_stall{unit}": round(stalls, 3), f"compact_fail{unit}": round(fails, 3),
                f"compact_success{unit}": round(ok, 3)}
    return (TEXT.finding(KEY, severity, "host", evidence, window=window, stalls=fmt.format(stalls),
                         fails=fmt.format(fails), successes=fmt.format(ok),
                         fail_words=_fail_words(fails, stalls),
                         watermark_knob=watermark_knob(kernel_of(inputs)),
                         compaction_fix=compaction_fix(kernel_of(inputs))),)


RULE = Rule(KEY, check, __doc__ or "")
