"""Words for the compaction knobs a given kernel really has (used by rule fixes).

Versions: compaction, /proc/sys/vm/compact_memory, vm.extfrag_threshold 2.6.35; THP 2.6.38;
kcompactd (woken by kswapd) and THP defrag `defer` 4.6; `defer+madvise` 4.11; proactiveness 5.9
(docs/kernel.md#extfrag-threshold, docs/kernel.md#kswapd-and-kcompactd, docs/kernel.md#proactive-compaction,
docs/kernel.md#transparent-hugepage-defrag). None (unknown kernel): the newest.
"""

from __future__ import annotations

from memstall.model.kernel import KernelVersion

COMPACTION = KernelVersion(2, 6, 35)
THP = KernelVersion(2, 6, 38)


def compaction_fix(kernel: KernelVersion | None) -> str:
    """How to get compaction done on this kernel, as one clause for a fix sentence."""
    if kernel is not None and kernel < COMPACTION:
        return "only freeing memory helps: this kernel has no memory compaction (added in 2.6.35)"
    if kernel is None or kernel.at_least(5, 9):
        return ("make compaction happen in the background (THP defrag defer+madvise, "
                "vm.compaction_proactiveness)")
    if kernel.at_least(4, 11):
        return ("make compaction happen in the background (THP defrag defer+madvise; "
                "vm.compaction_proactiveness needs 5.9)")
    if kernel.at_least(4, 6):
        return ("let kcompactd compact in the background (THP defrag defer; defer+madvise needs "
                "4.11, vm.compaction_proactiveness 5.9)")
    thp = "stop THP page faults compacting synchronously (THP defrag madvise), or " if kernel >= THP else ""
    return (f"{thp}compact on demand (echo 1 > /proc/sys/vm/compact_memory): this kernel has no "
            "background compaction thread (kcompactd, 4.6)")


def extfrag_words(kernel: KernelVersion | None) -> str:
    """What vm.extfrag_threshold can do here, as one clause (empty before 2.6.35)."""
    if kernel is not None and kernel < COMPACTION:
        return ""
    return "; vm.extfrag_threshold only matters for orders above 3"


def watermark_knob(kernel: KernelVersion | None) -> str:
    """The knob that widens the watermarks here: watermark_scale_factor exists since 4.6."""
    if kernel is None or kernel.at_least(4, 6):
        return "vm.watermark_scale_factor"
    return "vm.min_free_kbytes; vm.watermark_scale_factor needs 4.6"
