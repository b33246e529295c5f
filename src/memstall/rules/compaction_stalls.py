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
    compact_stall_per_second, compact_fail_per_second, compact_success_per_second between
    two samples; with one sample, compact_stall_since_boot, compact_fail_since_boot,
    compact_success_since_boot.
    With `diagnose --trace N`, also the direct compaction latencies traced beside the sample:
    traced_stalls, traced_stall_seconds, traced_p50_seconds, traced_p99_seconds,
    traced_max_seconds (log2-bucket bounds), traced_seconds, traced_method (hist or pipe).

Remediation:
    When failures dominate and free memory is low, more free memory (watermarks) helps
    more than compaction knobs; for THP faults, THP defrag `defer+madvise` moves the
    work to kcompactd; on 5.9+ vm.compaction_proactiveness compacts in the background.

References:
    mm/page_alloc.c __alloc_pages_direct_compact (COMPACTSTALL/COMPACTFAIL/COMPACTSUCCESS);
    docs/kernel.md#compaction-triggers, docs/kernel.md#vmstat-counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.rules._base import (
    Inputs,
    Result,
    Rule,
    RuleEvidence,
    Severity,
    Skipped,
    Text,
    kernel_of,
    missing,
)
from memstall.rules._knobs import compaction_fix, watermark_knob
from memstall.rules._traced import TracedFields, traced_fields, with_trace

KEY = "COMPACTION_STALLS"


@dataclass(frozen=True)
class PerSecondEvidence(RuleEvidence):
    """Rates between two samples."""

    compact_stall_per_second: float
    compact_fail_per_second: float
    compact_success_per_second: float


@dataclass(frozen=True)
class SinceBootEvidence(RuleEvidence):
    """Totals since boot (one sample only)."""

    compact_stall_since_boot: float
    compact_fail_since_boot: float
    compact_success_since_boot: float


@dataclass(frozen=True)
class TracedPerSecondEvidence(TracedFields, PerSecondEvidence):
    """Rates, with the direct compaction latencies a trace measured (`diagnose --trace N`)."""


@dataclass(frozen=True)
class TracedSinceBootEvidence(TracedFields, SinceBootEvidence):
    """Totals since boot, with the direct compaction latencies a trace measured."""


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
        per_second = True
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
        window, per_second, fmt = "Since boot", False, "{:.0f}"
    if stalls <= 0:
        return ()
    severity = Severity.WARNING if per_second and fails > ok else Severity.INFO
    evidence: RuleEvidence
    if per_second:
        evidence = PerSecondEvidence(compact_stall_per_second=round(stalls, 3),
                                     compact_fail_per_second=round(fails, 3),
                                     compact_success_per_second=round(ok, 3))
    else:
        evidence = SinceBootEvidence(compact_stall_since_boot=round(stalls, 3),
                                     compact_fail_since_boot=round(fails, 3),
                                     compact_success_since_boot=round(ok, 3))
    text, display = TEXT, dict[str, object]()
    traced = traced_fields(inputs, "direct_compaction")
    if traced is not None:
        both = {**vars(evidence), **vars(traced)}
        evidence = (TracedPerSecondEvidence if per_second else TracedSinceBootEvidence)(**both)
        text, display = with_trace(TEXT, traced, "direct compactions")
    return (text.finding(KEY, severity, "host", evidence, **display, window=window, stalls=fmt.format(stalls),
                         fails=fmt.format(fails), successes=fmt.format(ok),
                         fail_words=_fail_words(fails, stalls),
                         watermark_knob=watermark_knob(kernel_of(inputs)),
                         compaction_fix=compaction_fix(kernel_of(inputs))),)


RULE = Rule(KEY, check, __doc__ or "", (PerSecondEvidence, SinceBootEvidence, TracedPerSecondEvidence,
                                         TracedSinceBootEvidence))
