"""KSWAPD_BUSY — a kswapd thread uses most of a CPU.

What it detects:
    CPU time (utime + stime) of each kswapdN thread between two samples, as a share of
    one CPU.

Why it matters:
    kswapd is one thread per node. Near 100% it cannot reclaim any faster, so once
    allocations outpace it they fall to the min watermark and reclaim directly. A busy
    kswapd with little freed usually means reclaim is expensive: dirty or mapped pages,
    a large slab, or a page cache that refaults right back.

Evidence:
    comm (kswapdN), cpu_ratio (share of one CPU, 0..1), interval_seconds; subject nodeN.

Remediation:
    Start reclaim earlier and in smaller steps (vm.watermark_scale_factor), make it
    cheaper (dirty limits, vfs_cache_pressure), and look at what refaults.

References:
    mm/vmscan.c kswapd / balance_pgdat; /proc/<pid>/stat fields 14-15 (proc(5), docs/kernel.md#clock-ticks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memstall.rules._base import (
    Finding,
    Inputs,
    Result,
    Rule,
    RuleEvidence,
    Severity,
    Skipped,
    Text,
    rates_skip,
)

KEY = "KSWAPD_BUSY"
WARNING_RATIO = 0.5
CRITICAL_RATIO = 0.9
_KSWAPD = re.compile(r"^kswapd(\d+)")


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    comm: str
    cpu_ratio: float
    """CPU seconds per second of the interval (1.0: one CPU all the time)."""
    interval_seconds: float


TEXT = Text(
    summary="{comm} used {cpu_pct:.0f}% of a CPU",
    explanation="""{comm} (the reclaim thread of {subject}) used {cpu_pct:.0f}% of one CPU over
    {interval_seconds:.1f} s. There is one kswapd per node, so near 100% it cannot reclaim any
    faster and further allocation bursts go straight into direct reclaim. A kswapd this busy
    usually means reclaim is expensive: dirty pages waiting for writeback, a large slab,
    or page cache that is read back as soon as it is dropped.""",
    fix="""Let kswapd start earlier (vm.watermark_scale_factor) and make reclaim cheaper
    (limit dirty page cache, shrink slab).""",
)


def check(inputs: Inputs) -> Result:
    rates = inputs.rates
    if rates is None:
        return rates_skip(KEY, inputs)
    threads = {c: r for c, r in rates.kthread_cpu_ratio.items() if _KSWAPD.match(c)}
    if not threads:
        return Skipped(KEY, "no kswapd thread CPU times (proc/<pid>/stat of kswapdN not read)")
    out: list[Finding] = []
    for comm, share in sorted(threads.items()):
        if share < WARNING_RATIO:
            continue
        severity = Severity.CRITICAL if share >= CRITICAL_RATIO else Severity.WARNING
        m = _KSWAPD.match(comm)
        subject = f"node{m.group(1)}" if m else comm
        evidence = Evidence(comm=comm, cpu_ratio=round(share, 3),
                            interval_seconds=round(rates.interval_seconds, 3))
        out.append(TEXT.finding(KEY, severity, subject, evidence, cpu_pct=share * 100))
    return tuple(out)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
