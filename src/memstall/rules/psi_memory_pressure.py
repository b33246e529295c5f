"""PSI_MEMORY_PRESSURE — tasks lose time waiting for memory (PSI some/full).

What it detects:
    /proc/pressure/memory: the share of time at least one task (`some`) or all
    non-idle tasks (`full`) were stalled on memory, measured between two samples when
    there are two, otherwise the kernel's own 10 s average.

Why it matters:
    Memory PSI counts time in direct reclaim, direct compaction and refaults of
    recently evicted pages: since 4.15 dropped the "page allocation stalls" warning it
    is the kernel's own measure of allocation latency. `full` means the whole machine
    made no progress for that share of time.

Evidence:
    some_ratio, full_ratio (0..1), window.

Remediation:
    Depends on the cause shown by the other findings: watermarks, dirty page cache,
    compaction, or simply not enough memory for the working set.

References:
    Documentation/accounting/psi.rst; kernel/sched/psi.c; docs/kernel.md#psi.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Skipped, Text, missing

KEY = "PSI_MEMORY_PRESSURE"
SOME_WARNING = 0.10
SOME_INFO = 0.01
FULL_INFO = 0.005
FULL_CRITICAL = 0.05

TEXT = Text(
    summary="memory pressure: some {some_pct:.1f}%, full {full_pct:.1f}% of the time ({window})",
    explanation="""{window_words}, at least one task was stalled on memory {some_pct:.1f}% of the
    time and all non-idle tasks at once {full_pct:.1f}% of the time. Memory PSI counts time spent
    in direct reclaim, direct compaction and reading back pages that were evicted too early: it
    is the kernel's own measure of what allocation stalls cost.""",
    fix="""Follow the other findings to the cause (watermarks, dirty page cache, compaction) or,
    if none applies, the working set does not fit in memory.""",
)
PSI_FILE = "proc/pressure/memory"
PSI_MISSING = "PSI unavailable: needs kernel >= 4.20 with CONFIG_PSI, or boot with psi=1"


def _not_the_kernel(reason: str) -> bool:
    """Not collected (a sosreport), refused or malformed: no sign of a kernel without PSI."""
    return (reason == "not in this sosreport" or reason.startswith("malformed:")
            or "permission denied" in reason)


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    some_ratio: float
    full_ratio: float
    window: str
    """'avg10' (the kernel's average) or 'N.N s measured' (between two samples)."""


def check(inputs: Inputs) -> Result:
    psi = inputs.state.psi_memory
    rates = inputs.rates
    if rates is not None and rates.psi_some_ratio is not None:
        some, full = rates.psi_some_ratio, rates.psi_full_ratio or 0.0
        window = f"{rates.interval_seconds:.1f} s measured"
        words = f"Over the {rates.interval_seconds:.1f} s between the two samples"
    elif psi is not None:
        some, full = psi.some.avg10 / 100, (psi.full.avg10 / 100 if psi.full else 0.0)
        window, words = "avg10", "Over the kernel's last 10 s average"
    elif inputs.from_log:
        return Skipped(KEY, "a kernel log does not show PSI")
    elif _not_the_kernel(inputs.state.unavailable.get(PSI_FILE, "")):
        return missing(KEY, inputs, "PSI", PSI_FILE, in_mem_info=False)
    else:
        return Skipped(KEY, PSI_MISSING)
    if some < SOME_INFO and full < FULL_INFO:
        return ()
    if full >= FULL_CRITICAL:
        severity = Severity.CRITICAL
    elif some >= SOME_WARNING:
        severity = Severity.WARNING
    else:
        severity = Severity.INFO
    evidence = Evidence(some_ratio=round(some, 4), full_ratio=round(full, 4), window=window)
    return (TEXT.finding(KEY, severity, "host", evidence, some_pct=some * 100, full_pct=full * 100,
                         window_words=words),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
