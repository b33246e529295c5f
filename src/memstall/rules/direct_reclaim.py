"""DIRECT_RECLAIM — allocating tasks reclaim memory themselves (allocstall, pgscan_direct).

What it detects:
    Direct-reclaim entries per second (Σ allocstall_*) between two samples, and the
    share of page scanning done by allocating tasks (pgscan_direct) rather than kswapd.

Why it matters:
    Every allocstall is an allocation that found free memory at the min watermark and
    had to scan and free pages itself before it could continue: the latency users see.
    kswapd exists so that this does not happen; when direct scanning is a large share
    of all scanning, kswapd is not keeping up.

Evidence:
    allocstall_per_second, pgscan_direct_per_second, pgscan_kswapd_per_second,
    direct_scan_ratio (0..1), interval_seconds.
    With `diagnose --trace N`, also the direct reclaim latencies traced beside the sample:
    traced_stalls, traced_stall_seconds, traced_p50_seconds, traced_p99_seconds,
    traced_max_seconds (log2-bucket bounds), traced_seconds, traced_method (hist or pipe).

Remediation:
    Let kswapd start earlier (vm.watermark_scale_factor); make reclaim cheaper (limit
    dirty page cache with vm.dirty_background_bytes, shrink slab).

References:
    mm/vmscan.c do_try_to_free_pages (__count_zid_vm_events(ALLOCSTALL, ...)); docs/kernel.md#vmstat-counters;
    Documentation/admin-guide/sysctl/vm.rst (watermark_scale_factor).
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.rates import (
    allocstall_per_second,
    pgscan_direct_per_second,
    pgscan_kswapd_per_second,
)
from memstall.rules._base import (
    Inputs,
    Result,
    Rule,
    RuleEvidence,
    Severity,
    Skipped,
    Text,
    rates_skip,
    ratio,
)
from memstall.rules._traced import TracedFields, traced_fields, with_trace

KEY = "DIRECT_RECLAIM"


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    allocstall_per_second: float
    pgscan_direct_per_second: float
    pgscan_kswapd_per_second: float
    direct_scan_ratio: float
    interval_seconds: float


@dataclass(frozen=True)
class TracedEvidence(TracedFields, Evidence):
    """The same, with the direct reclaim latencies a trace measured (`diagnose --trace N`)."""

CRITICAL_DIRECT_SCAN_RATIO = 0.25
"""Above a quarter of all scanning done synchronously, reclaim latency is part of most
allocations' path, not an exception."""

TEXT = Text(
    summary="{allocstall_per_second:.1f} direct reclaims/s; allocating tasks did "
            "{direct_pct:.0f}% of page scanning",
    explanation="""Over {interval_seconds:.1f} s, allocations entered direct reclaim
    {allocstall_per_second:.1f} times per second: each one found its zone at the min watermark
    and scanned and freed pages itself before it could continue. Allocating tasks scanned
    {pgscan_direct_per_second:.0f} pages/s and kswapd {pgscan_kswapd_per_second:.0f} pages/s, so
    {direct_pct:.0f}% of reclaim ran in the latency path of the tasks that wanted memory.""",
    fix="""Let kswapd start earlier and keep more free (raise vm.watermark_scale_factor), and make
    reclaim cheaper (less dirty page cache, less slab).""",
)


def check(inputs: Inputs) -> Result:
    rates = inputs.rates
    if rates is None:
        return rates_skip(KEY, inputs)
    stalls = allocstall_per_second(rates)
    if stalls is None:
        return Skipped(KEY, "no allocstall counter in /proc/vmstat")
    direct = pgscan_direct_per_second(rates) or 0.0
    kswapd = pgscan_kswapd_per_second(rates) or 0.0
    if stalls <= 0:
        return ()
    share = ratio(direct, direct + kswapd)
    severity = Severity.CRITICAL if share >= CRITICAL_DIRECT_SCAN_RATIO else Severity.WARNING
    evidence = Evidence(allocstall_per_second=round(stalls, 3),
                        pgscan_direct_per_second=round(direct, 1),
                        pgscan_kswapd_per_second=round(kswapd, 1), direct_scan_ratio=share,
                        interval_seconds=round(rates.interval_seconds, 3))
    traced = traced_fields(inputs, "direct_reclaim")
    if traced is None:
        return (TEXT.finding(KEY, severity, "host", evidence, direct_pct=share * 100),)
    text, display = with_trace(TEXT, traced, "direct reclaims")
    return (text.finding(KEY, severity, "host", TracedEvidence(**vars(evidence), **vars(traced)),
                         direct_pct=share * 100, **display),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence, TracedEvidence))
