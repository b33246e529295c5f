"""LOG_ALLOC_STALLS — the kernel log reports allocation stalls, failures or OOM kills.

What it detects:
    `page allocation stalls for Nms` (4.9-4.14), `page allocation failure` and
    `invoked oom-killer` reports in a kernel log, grouped by kind, order and GFP flags.

Why it matters:
    A stall report means one allocation retried reclaim and compaction for more than
    10 s; a failure means it gave up (atomic and __GFP_NORETRY callers give up early);
    an OOM kill means reclaim found nothing at all. The order and flags say who asked:
    order 0-3 GFP_KERNEL is the kernel itself (slab, stacks, fork), GFP_ATOMIC is
    interrupt context (network), order 9 is a huge page.

Evidence:
    kind, order, count, max_stall_ms, gfp_mode, gfp_flags, comms.

Remediation:
    Follow the zone and fragmentation findings of the same Mem-Info: an available order
    points at watermarks/reclaim, an exhausted one at compaction.

References:
    mm/page_alloc.c warn_alloc; mm/oom_kill.c dump_header; docs/kernel.md#allocation-stall-message,
    docs/kernel.md#allocation-failure-message, docs/kernel.md#oom-report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from memstall.analysis.log_summary import gfp_view
from memstall.model.kernel import KernelVersion
from memstall.rules._base import (
    AllocEvent,
    Finding,
    Inputs,
    Result,
    Rule,
    RuleEvidence,
    Severity,
    Skipped,
    Text,
)

KEY = "LOG_ALLOC_STALLS"
Kind = Literal["stall", "failure", "oom"]
SEVERITY: dict[Kind, Severity] = {"stall": Severity.CRITICAL, "oom": Severity.CRITICAL,
                                  "failure": Severity.WARNING}
KINDS = tuple(SEVERITY)

TEXT = Text(
    summary="{count} {order_words} allocation {kind_words} in the log ({flags}){longest}",
    explanation="""The kernel log reports {count} {kind_words} of {order_words} ({block}) with
    mode {mode_words} ({flags}), from {comms}{longest}. {meaning}""",
    fix="""Read it together with the zone and fragmentation findings of the same Mem-Info:
    if blocks of that order were free, the cause is free memory below the watermark
    (reclaim), not fragmentation.""",
)
MEANING = {
    "stall": ("A stall report is printed when one allocation has retried reclaim and "
              "compaction for more than 10 s (4.9-4.14 kernels); the task was blocked all that time."),
    "failure": ("A failure report means the allocation gave up: atomic and __GFP_NORETRY callers "
                "give up early, so the caller's flags say how serious it is."),
    "oom": "The OOM killer runs when reclaim found nothing it could free.",
}
FORCED = ("order=-1 means no allocation asked for it: an administrator forced the OOM killer "
          "(SysRq-f, echo f > /proc/sysrq-trigger), so this kill says nothing about memory "
          "exhaustion.")
FORCED_ORDER = -1
"""The order an OOM report prints when the OOM killer was forced by hand (moom_callback)."""
KIND_WORDS = {"stall": ("stall", "stalls"), "failure": ("failure", "failures"),
              "oom": ("OOM kill", "OOM kills")}


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    """One group of log reports: same kind, order and GFP flags."""

    kind: Kind
    order: Optional[int]
    """None: the report did not print the order; -1: an OOM forced by an administrator."""
    count: int
    max_stall_ms: Optional[int]
    gfp_mode: Optional[str]
    gfp_flags: str
    comms: Optional[str]
    """Up to five task names, comma-separated."""



def _kind(text: str) -> Kind | None:
    """The event's kind as the Literal the evidence declares (None: not an allocation report)."""
    return next((k for k in KINDS if k == text), None)


NOT_PRINTED = -2
"""The group key's order when the report printed none (-1 is a real, forced order)."""


def _group(events: tuple[AllocEvent, ...],
           kernel: KernelVersion | None) -> dict[tuple[Kind, int, str], list[AllocEvent]]:
    groups: dict[tuple[Kind, int, str], list[AllocEvent]] = {}
    for e in events:
        kind = _kind(e.kind)
        if kind is None:
            continue
        # the decoder `memstall logs` uses: a hex-only mask (<= 4.5) is decoded for its era
        flags = gfp_view(e, kernel).text or "flags not printed"
        groups.setdefault((kind, e.order if e.order is not None else NOT_PRINTED, flags), []).append(e)
    return groups


def check(inputs: Inputs) -> Result:
    if not inputs.from_log and not inputs.logs_read and not inputs.events:
        return Skipped(KEY, "no kernel log given (diagnose --log FILE)")
    out: list[Finding] = []
    for (kind, order, flags), group in sorted(_group(inputs.events, inputs.kernel).items(),
                                              key=lambda kv: (-SEVERITY[kv[0][0]], kv[0][1])):
        stalls = [e.stall_ms for e in group if e.stall_ms is not None]
        longest = f", longest {max(stalls)} ms" if stalls else ""
        comms = sorted({e.comm for e in group if e.comm})
        modes = sorted({e.gfp_mode for e in group if e.gfp_mode})
        forced = kind == "oom" and order == FORCED_ORDER
        evidence = Evidence(kind=kind, order=order if order != NOT_PRINTED else None, count=len(group),
                            max_stall_ms=max(stalls) if stalls else None,
                            gfp_mode=",".join(modes) or None, gfp_flags=flags,
                            comms=",".join(comms[:5]) or None)
        words = KIND_WORDS[kind][0 if len(group) == 1 else 1]
        subject = f"order{order}" if order >= 0 else "forced" if forced else "order?"
        out.append(TEXT.finding(KEY, Severity.INFO if forced else SEVERITY[kind], subject, evidence,
                                kind_words=words, flags=flags, longest=longest,
                                meaning=FORCED if forced else MEANING[kind],
                                mode_words=",".join(modes) or "not printed",
                                order_words=(f"order-{order}" if order >= 0 else "forced (order -1)" if forced
                                             else "unknown-order"),
                                block=(f"{inputs.state.page_size << order >> 10} KiB blocks" if order >= 0
                                       else "no allocation" if forced else "order not printed"),
                                comms=", ".join(comms[:5]) or "an unnamed task"))
    return tuple(out)


RULE = Rule(KEY, check, __doc__ or "", (Evidence,))
