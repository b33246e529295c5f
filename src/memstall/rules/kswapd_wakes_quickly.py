"""KSWAPD_WAKES_QUICKLY — kswapd is woken again during its 100 ms nap.

What it detects:
    The rate of `kswapd_low_wmark_hit_quickly` (and `kswapd_high_wmark_hit_quickly`)
    between two samples.

Why it matters:
    After balancing a node kswapd naps for HZ/10 before sleeping for real. If a zone is
    back at the low watermark within that nap, the counter rises: allocations consume
    the whole low->high gap faster than kswapd can restore it. The kernel's own
    documentation names a high rate of this counter as the sign that the gap is too small.

Evidence:
    low_wmark_hit_quickly_per_second, high_wmark_hit_quickly_per_second, interval_seconds.

Remediation:
    Widen the gap with vm.watermark_scale_factor (4.6+); `memstall whatif` shows the band.

References:
    mm/vmscan.c kswapd_try_to_sleep; Documentation/admin-guide/sysctl/vm.rst
    (watermark_scale_factor); docs/kernel.md#kswapd-and-kcompactd, docs/kernel.md#vm-sysctl-ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Skipped, Text, rates_skip

KEY = "KSWAPD_WAKES_QUICKLY"
WARNING_PER_SECOND = 1.0
"""Once a second or more: the gap lasts less than kswapd's own wake/nap cycle."""


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    low_wmark_hit_quickly_per_second: float
    high_wmark_hit_quickly_per_second: float
    interval_seconds: float


TEXT = Text(
    summary="kswapd hit the low watermark again within its 100 ms nap "
            "{low_wmark_hit_quickly_per_second:.2f} times/s",
    explanation="""After each balancing pass kswapd naps 100 ms before sleeping; over
    {interval_seconds:.1f} s a zone was back at its low watermark during that nap
    {low_wmark_hit_quickly_per_second:.2f} times per second (and below high
    {high_wmark_hit_quickly_per_second:.2f} times per second). Allocations eat the whole
    low->high gap faster than kswapd refills it, which the kernel documentation names as
    the sign that vm.watermark_scale_factor is too small.""",
    fix="""Raise vm.watermark_scale_factor so the gap lasts longer than kswapd's cycle.""",
)


def check(inputs: Inputs) -> Result:
    rates = inputs.rates
    if rates is None:
        return rates_skip(KEY, inputs)
    low = rates.per_second.get("kswapd_low_wmark_hit_quickly")
    if low is None:
        return Skipped(KEY, "no kswapd_low_wmark_hit_quickly counter in /proc/vmstat")
    if low <= 0:
        return ()
    high = rates.per_second.get("kswapd_high_wmark_hit_quickly", 0.0)
    severity = Severity.WARNING if low >= WARNING_PER_SECOND else Severity.INFO
    evidence = Evidence(low_wmark_hit_quickly_per_second=round(low, 3),
                        high_wmark_hit_quickly_per_second=round(high, 3),
                        interval_seconds=round(rates.interval_seconds, 3))
    return (TEXT.finding(KEY, severity, "host", evidence),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
