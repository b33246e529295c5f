"""HIGH_ORDER_EXHAUSTION — no free blocks from some order up, and whether that is the problem.

What it detects:
    Per zone (DMA excluded), the smallest order with no free block of that size or
    larger, with the kernel's fragmentation index and unusable free space index at
    that order (computed from buddyinfo exactly as mm/vmstat.c does). When a kernel log
    shows allocation stalls or failures, it also judges each failing order: a free block
    of that order existed (not fragmentation: the watermark check failed), none existed
    and the index is above 0.5 (fragmentation), or none existed and the index is low
    (lack of memory).

Why it matters:
    Orders up to 3 (32 KiB with 4 KiB pages) are used by the kernel itself (stacks,
    slab, network buffers); huge pages need order 9. An order-N request with no block
    of order >= N must compact or fail. But a request whose order is still available
    stalls for a different reason: free memory is below the watermark, and
    compaction knobs such as vm.extfrag_threshold cannot cure it.

Evidence:
    free_pages, highest_free_order, exhausted_from_order, fragmentation_index,
    unusable_index (0..1; the kernel's debugfs values) at that order, the same per order
    (fragmentation_index_by_order for the exhausted orders, unusable_index_by_order for
    all, as 'order:value' pairs), and with a log: failing_order,
    failing_order_free_blocks, failing_order_fragmentation_index, verdict.

Remediation:
    `not_fragmentation`: fix the watermarks and reclaim (vm.watermark_scale_factor), not
    compaction. `fragmentation`: compaction (THP defrag, compaction_proactiveness;
    extfrag_threshold only for orders > 3). `lack_of_memory`: free memory.

References:
    mm/vmstat.c __fragmentation_index, unusable_free_index; mm/compaction.c compaction_suitable;
    docs/kernel.md#fragmentation-index, docs/kernel.md#extfrag-threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memstall.analysis.fragmentation import (
    contig_page_info,
    fragmentation_index_milli,
    unusable_index_milli,
)
from memstall.analysis.watermarks import pageblock_pages
from memstall.model.buddy import ZoneFreeAreas
from memstall.model.kernel import KernelVersion
from memstall.rules._base import (
    Finding,
    Inputs,
    Result,
    Rule,
    RuleEvidence,
    Severity,
    Text,
    human,
    kernel_of,
    missing,
)
from memstall.rules._knobs import compaction_fix, extfrag_words

KEY = "HIGH_ORDER_EXHAUSTION"
COSTLY_ORDER = 3  # PAGE_ALLOC_COSTLY_ORDER
FRAGMENTATION_MILLI = 500  # the kernel's own default extfrag_threshold splits the two causes
Verdict = Literal["not_fragmentation", "fragmentation", "lack_of_memory"]


@dataclass(frozen=True)
class Evidence(RuleEvidence):
    """A zone's free blocks at the order where they run out."""

    free_pages: int
    highest_free_order: int
    exhausted_from_order: int
    fragmentation_index: float
    unusable_index: float
    fragmentation_index_by_order: str
    """'6:0.984 7:0.992': order:index pairs for the exhausted orders."""
    unusable_index_by_order: str
    """The same for every order."""


@dataclass(frozen=True)
class EventEvidence(Evidence):
    """The zone judged against an order a kernel log shows stalling or failing."""

    failing_order: int
    failing_order_free_blocks: int
    failing_order_fragmentation_index: float
    verdict: Verdict


TEXT = Text(
    summary="{subject}: no free blocks of order {exhausted_from_order} or more "
            "(fragmentation index {fragmentation_index:.3f}, unusable {unusable_index:.3f})",
    explanation="""{subject} has {free} free, but nothing larger than order {highest_free_order}
    ({largest}): every request of order {exhausted_from_order} or more must compact memory
    first. The kernel's fragmentation index at order {exhausted_from_order} is
    {fragmentation_index:.3f} (near 1: the free memory is there but in small pieces; near 0:
    there is simply too little) and {unusable_pct:.0f}% of the free memory sits in blocks too
    small for that order.""",
    fix="""If high-order allocations fail, {compaction_fix}{extfrag_words}.""",
)
TEXT_NOT_FRAG = Text(
    summary="{subject}: orders >= {exhausted_from_order} exhausted, but order {failing_order} "
            "is available ({failing_order_free_blocks} blocks of that size): the "
            "order-{failing_order} {event_kind} is not fragmentation",
    explanation="""{subject} has no free block of order {exhausted_from_order} or more
    (fragmentation index {fragmentation_index:.3f} there), yet its free blocks of order
    {failing_order} and up hold {failing_order_free_blocks} blocks of order {failing_order}:
    the kernel's fragmentation index for
    order {failing_order} is -1.000, "the allocation would succeed". The order-{failing_order}
    {event_kind} in the log therefore did not wait for contiguous memory; it waited because
    free memory was below the watermark and had to be reclaimed. This is a watermark/reclaim
    problem, not fragmentation, and lowering vm.extfrag_threshold will not cure it: the
    threshold only gates compaction, never starts it, and is ignored for orders up to 3.""",
    fix="""Fix the free-memory side: widen the watermarks (vm.watermark_scale_factor) and make
    reclaim cheaper; leave vm.extfrag_threshold alone.""",
)
TEXT_FRAG = Text(
    summary="{subject}: order-{failing_order} {event_kind} with no free block of that order; "
            "fragmentation index {failing_order_fragmentation_index:.3f} ({cause})",
    explanation="""The log shows an order-{failing_order} {event_kind}, and {subject} has no free
    block of order {failing_order} or larger although {free} is free. The kernel's
    fragmentation index for that order is {failing_order_fragmentation_index:.3f}: {cause_words}
    {unusable_pct:.0f}% of the free memory is in blocks too small for the request.""",
    fix="""{fix_words}""",
)


def _per_order(values: list[tuple[int, int]]) -> str:
    """'6:0.984 7:0.992': order:index pairs, the kernel's thousandths as a decimal."""
    return " ".join(f"{o}:{v / 1000:.3f}" for o, v in values)


def _zone_fields(z: ZoneFreeAreas, exhausted: int) -> tuple[int, int, int, float, float, str, str]:
    """The fields of Evidence in declaration order (EventEvidence starts with the same)."""
    orders = range(exhausted, len(z.free_blocks))
    return (z.free_pages, exhausted - 1, exhausted,
            fragmentation_index_milli(z.free_blocks, exhausted) / 1000,
            unusable_index_milli(z.free_blocks, exhausted) / 1000,
            _per_order([(o, fragmentation_index_milli(z.free_blocks, o)) for o in orders]),
            _per_order([(o, unusable_index_milli(z.free_blocks, o)) for o in range(len(z.free_blocks))]))


def _verdict(blocks: int, index_milli: int) -> Verdict:
    if blocks > 0:
        return "not_fragmentation"
    return "fragmentation" if index_milli > FRAGMENTATION_MILLI else "lack_of_memory"


def _event_finding(z: ZoneFreeAreas, exhausted: int, order: int, kind: str, ps: int,
                   kernel: KernelVersion | None) -> Finding:
    blocks = contig_page_info(z.free_blocks, order).free_blocks_suitable
    index = fragmentation_index_milli(z.free_blocks, order)
    verdict = _verdict(blocks, index)
    ev = EventEvidence(*_zone_fields(z, exhausted), failing_order=order, failing_order_free_blocks=blocks,
                       failing_order_fragmentation_index=index / 1000, verdict=verdict)
    words = {"free": human(z.free_pages, ps), "event_kind": kind,
             "unusable_pct": unusable_index_milli(z.free_blocks, order) / 10}
    if verdict == "not_fragmentation":
        return TEXT_NOT_FRAG.finding(KEY, Severity.INFO, z.subject, ev, **words)
    if verdict == "fragmentation":
        cause, cause_words = "fragmentation", "the memory is free but in pieces too small;"
        fix = (f"Compaction is the cure: {compaction_fix(kernel)}" + (
            ", and for this costly order a lower vm.extfrag_threshold lets compaction run in more "
            "zones." if order > COSTLY_ORDER else "; extfrag_threshold is ignored for this order."))
    else:
        cause, cause_words = "lack of memory", "there is too little free memory, not too fragmented;"
        fix = "Free memory is the cure (watermarks, reclaim); compaction knobs will not help."
    return TEXT_FRAG.finding(KEY, Severity.WARNING, z.subject, ev, cause=cause,
                             cause_words=cause_words, fix_words=fix, **words)


def check(inputs: Inputs) -> Result:
    buddy = inputs.state.buddyinfo
    if buddy is None:
        return missing(KEY, inputs, "free blocks per order", "proc/buddyinfo")
    ps = inputs.state.page_size
    kernel = kernel_of(inputs)
    huge_order = pageblock_pages(ps).bit_length() - 1
    failing: dict[int, str] = {}
    for e in inputs.events:
        if e.kind in ("stall", "failure") and e.order is not None:
            failing.setdefault(e.order, e.kind)
    out: list[Finding] = []
    for z in buddy.zones:
        if z.zone == "DMA":
            continue
        exhausted = next((k + 1 for k in range(len(z.free_blocks) - 1, -1, -1) if z.free_blocks[k]), 0)
        if exhausted >= len(z.free_blocks):
            continue
        if failing:
            out.extend(_event_finding(z, exhausted, o, kind, ps, kernel)
                       for o, kind in sorted(failing.items()))
        elif exhausted <= huge_order:
            severity = Severity.WARNING if exhausted <= COSTLY_ORDER else Severity.INFO
            largest = human(1 << (exhausted - 1), ps) if exhausted else "no free block"
            out.append(TEXT.finding(KEY, severity, z.subject, Evidence(*_zone_fields(z, exhausted)),
                                    free=human(z.free_pages, ps), largest=largest,
                                    unusable_pct=unusable_index_milli(z.free_blocks, exhausted) / 10,
                                    compaction_fix=compaction_fix(kernel),
                                    extfrag_words=extfrag_words(kernel)))
    return tuple(out)


RULE = Rule(KEY, check, __doc__ or "", (Evidence, EventEvidence))
