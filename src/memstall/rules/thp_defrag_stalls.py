"""THP_DEFRAG_STALLS — transparent hugepage faults compact memory synchronously.

What it detects:
    THP enabled (`always` or `madvise`) with `defrag` set to `always`, and, with two
    samples, the direct compaction and THP fallback rates that show it costing time.

Why it matters:
    With defrag=always every THP page fault that finds no free 2 MiB block reclaims and
    compacts memory in the faulting task before falling back to small pages: a
    latency spike on ordinary page faults that looks like a random stall. `defer` and
    `defer+madvise` (4.11+) wake kswapd/kcompactd instead; `madvise` only stalls regions
    that asked for it with madvise(MADV_HUGEPAGE).

Evidence:
    thp_enabled, thp_defrag, compact_stall_per_second, thp_fault_fallback_per_second.

Remediation:
    echo defer+madvise > /sys/kernel/mm/transparent_hugepage/defrag (4.11+; `madvise`
    on older kernels).

References:
    Documentation/admin-guide/mm/transhuge.rst (defrag); 444eb2a449ef "mm: thp: set THP
    defrag by default to madvise and add a stall-free defrag option" (4.6);
    docs/kernel.md#transparent-hugepage-defrag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from memstall.rules._base import Inputs, Result, Rule, RuleEvidence, Severity, Text, missing

KEY = "THP_DEFRAG_STALLS"


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    thp_enabled: Optional[str]
    thp_defrag: str
    compact_stall_per_second: Optional[float]
    """None with one sample only (as the next)."""
    thp_fault_fallback_per_second: Optional[float]


TEXT = Text(
    summary="THP defrag is 'always': page faults compact memory synchronously{cost}",
    explanation="""Transparent hugepages are '{thp_enabled}' and defrag is 'always', so every THP
    page fault that finds no free huge-page block reclaims and compacts memory in the faulting
    task before it falls back to small pages{cost}. That is latency on ordinary page faults,
    and it competes with the rest of the system for the same free memory.""",
    fix="""Set /sys/kernel/mm/transparent_hugepage/defrag to {better}: kcompactd does the work in
    the background and only regions that asked for huge pages with madvise wait for it.""",
)


def check(inputs: Inputs) -> Result:
    thp = inputs.state.thp
    if thp is None or thp.defrag is None:
        return missing(KEY, inputs, "THP settings", "sys/kernel/mm/transparent_hugepage/defrag",
                       in_mem_info=False)
    if thp.enabled == "never" or thp.defrag != "always":
        return ()
    rates = inputs.rates
    stall = rates.per_second.get("compact_stall") if rates else None
    fallback = rates.per_second.get("thp_fault_fallback") if rates else None
    costly = bool(stall) or bool(fallback)
    cost = ""
    if costly:
        cost = (f" ({stall or 0:.1f} direct compactions/s and {fallback or 0:.1f} THP fault "
                "fallbacks/s measured)")
    kernel = inputs.kernel or inputs.state.kernel
    better = "defer+madvise" if kernel is None or kernel.at_least(4, 11) else "madvise"
    evidence = Evidence(thp_enabled=thp.enabled, thp_defrag=thp.defrag,
                        compact_stall_per_second=None if stall is None else round(stall, 3),
                        thp_fault_fallback_per_second=None if fallback is None else round(fallback, 3))
    severity = Severity.CRITICAL if costly else Severity.WARNING
    return (TEXT.finding(KEY, severity, "host", evidence, cost=cost, better=better),)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
