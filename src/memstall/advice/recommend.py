"""Findings -> recommended settings, each value derived from the measured numbers.

Every proposed value is computed (advice/sizing.py), clamped to what this kernel
version accepts (analysis/sysctl_limits.py), and says what the knob really does on this
kernel. Popular knobs that would not help get a note saying why, instead of a value.

How advice reads findings: never by string. A rule's key is `<rule module>.KEY`, and its
evidence is read through the rule's own dataclass: `for f, ev in ctx.found(
min_free_kbytes_low.Evidence)` yields the findings carrying that evidence, with `ev` typed,
so `ev.min_free_kbytes` is checked by mypy, and tests/test_recommend.py checks every such
read against the declared fields. Why typed evidence rather than an `advise()` in each rule
module: the rules stay below advice (they may not import sizing, whatif or the sysctl
limits), and one recommendation often answers several rules (vm.watermark_scale_factor
answers five), so the judgement lives in one place per knob, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from memstall.advice import sizing
from memstall.advice.recommendation import Recommendation
from memstall.analysis.headroom import pgalloc_per_second
from memstall.analysis.memory_use import MemoryUse, hugetlb_assumption, memory_use
from memstall.analysis.sysctl_limits import limits_for
from memstall.analysis.watermarks import pageblock_pages
from memstall.analysis.whatif import WhatIf, WhatIfUnavailable, what_if
from memstall.analysis.zone_estimate import current_settings, zone_entries
from memstall.model.kernel import KernelVersion
from memstall.rules import (
    Finding,
    Inputs,
    Report,
    RuleEvidence,
    Severity,
    compaction_stalls,
    direct_reclaim,
    high_order_exhaustion,
    kswapd_busy,
    kswapd_wakes_quickly,
    log_alloc_stalls,
    min_free_kbytes_low,
    page_cache_dominant,
    reclaimable_slab,
    thp_defrag_stalls,
    watermark_gap_too_small,
    zone_below_watermark,
)
from memstall.units import human_bytes, pages_to_bytes

WSF = "vm.watermark_scale_factor"
RECLAIM_KEYS = frozenset({zone_below_watermark.KEY, direct_reclaim.KEY, kswapd_wakes_quickly.KEY,
                          watermark_gap_too_small.KEY, kswapd_busy.KEY})
E = TypeVar("E", bound=RuleEvidence)


@dataclass(frozen=True)
class Advice:
    recommendations: tuple[Recommendation, ...]
    notes: tuple[str, ...]
    """Knobs that will not help here, and recommendations that could not be sized."""
    input_notes: tuple[str, ...] = ()
    """What the input lacked or memstall assumed about it (SystemState.notes): page size,
    kernel version, lines left out, files summed or read in another form."""


@dataclass(frozen=True)
class _Ctx:
    report: Report
    inputs: Inputs
    managed_total_pages: int | None

    @property
    def kernel(self) -> KernelVersion | None:
        return self.inputs.kernel or self.inputs.state.kernel

    @property
    def page_size(self) -> int:
        return self.inputs.state.page_size

    def found(self, shape: type[E]) -> list[tuple[Finding, E]]:
        """The findings whose evidence is a `shape` (a rule's Evidence class), with it typed."""
        out: list[tuple[Finding, E]] = []
        for f in self.report.findings:
            ev = f.evidence
            if isinstance(ev, shape):
                out.append((f, ev))
        return out

    def keyed(self, key: str) -> list[Finding]:
        """The findings of one rule: pass `<rule module>.KEY`, never a string literal."""
        return [f for f in self.report.findings if f.key == key]

    def sysctl(self, name: str) -> int | None:
        s = self.inputs.state.sysctl_vm
        return s.int_value(name) if s else None

    def use(self) -> MemoryUse | None:
        return memory_use(self.inputs.state.meminfo, self.page_size)

    def human(self, pages: float) -> str:
        return human_bytes(pages_to_bytes(round(pages), self.page_size))

    def on(self) -> str:
        k = self.kernel
        return f"On Linux {k.major}.{k.minor}" if k else "On this kernel (version unknown: newest rules)"

    def whatif(self, changes: dict[str, int]) -> WhatIf | None:
        try:
            return what_if(self.inputs.state, changes, self.kernel, self.managed_total_pages)
        except WhatIfUnavailable:
            return None


_Out = tuple[list[Recommendation], list[str]]


def _reclaim_trouble(ctx: _Ctx) -> list[str]:
    # Below low is kswapd doing its job; only min (allocators reclaiming) is trouble.
    keys = sorted({f.key for f in ctx.report.findings if f.key in RECLAIM_KEYS
                   and f.severity >= (Severity.CRITICAL if f.key == zone_below_watermark.KEY
                                      else Severity.WARNING)})
    if any(ev.kind == "stall" for _, ev in ctx.found(log_alloc_stalls.Evidence)):
        keys.append(log_alloc_stalls.KEY)
    if any(ev.verdict == "not_fragmentation" for _, ev in ctx.found(high_order_exhaustion.EventEvidence)):
        keys.append(high_order_exhaustion.KEY)
    return keys


def _band_effect(ctx: _Ctx, wi: WhatIf) -> str:
    b, a = wi.total("before"), wi.total("after")
    est = " (includes estimated zones)" if wi.estimated else ""
    return (f"kswapd wakes at {ctx.human(a.low_pages)} free host-wide and reclaims to "
            f"{ctx.human(a.high_pages)} (now {ctx.human(b.low_pages)} -> {ctx.human(b.high_pages)}); "
            f"up to {ctx.human(max(wi.withheld_pages, 0))} ({wi.withheld_ratio * 100:.1f}% of RAM) "
            f"more is kept free instead of page cache{est}")


def _watermark_scale_factor(ctx: _Ctx) -> _Out:
    keys = _reclaim_trouble(ctx)
    k = ctx.kernel
    if not keys:
        return [], []
    if k is not None and not k.at_least(4, 6):
        return [], [f"{WSF} does not exist before Linux 4.6; there the kswapd gap is min/4 and "
                    "only vm.min_free_kbytes moves it."]
    state = ctx.inputs.state
    entries = zone_entries(state, ctx.managed_total_pages)
    settings = current_settings(state, entries, k)
    if settings is None:
        return [], [f"{WSF}: no zone sizes to compute the gap from."]
    lowmem = sum(e.managed_pages for e in entries if e.zone not in ("HighMem", "Movable"))
    rates = ctx.inputs.rates
    alloc = pgalloc_per_second(rates.per_second) if rates else None
    use = ctx.use()
    dirty = use.dirty_pages + use.writeback_pages if use else None
    target = sizing.wsf_target_gap_pages(alloc, dirty)
    if target is None:
        return [], [f"{WSF}: no allocation rate or dirty page count to size it from; run "
                    "`memstall diagnose` live for rates."]
    gap, basis = target
    proposed = sizing.watermark_scale_factor(gap, lowmem, k)
    current = settings.watermark_scale_factor
    if proposed <= current:
        if basis == "rate":
            return [], [f"{WSF}={current} already gives a gap of at least one second of the measured "
                        f"allocation rate ({ctx.human(gap)}); raising it would not address the findings."]
        return [], [f"{WSF}={current}: the dirty page cache ({ctx.human(gap)}) already fits in the "
                    "current gap and there is no allocation rate to size it from; run `memstall "
                    "diagnose` live for rates."]
    wi = ctx.whatif({WSF: proposed})
    if basis == "rate":
        why = (f"allocations ran at {ctx.human(alloc or 0)}/s; a min->low gap of {ctx.human(gap)} "
               "gives kswapd one second before allocators reach min")
    else:
        why = (f"{ctx.human(gap)} of page cache is dirty or under writeback and cannot be reclaimed "
               "until written; a min->low gap of that size lets the free pool carry allocations "
               "while writeback catches up")
    limit = limits_for(WSF, k)
    inferred = " (inferred from the printed watermarks)" if WSF in settings.inferred else ""
    rationale = (f"Answers {', '.join(keys)}: {why}. {ctx.on()} the knob sets both the min->low and "
                 f"low->high distances to value/10000 of each zone's managed memory (when larger "
                 f"than min/4): kswapd wakes earlier and keeps more free; it does not compact "
                 f"(since 4.6 kswapd only wakes kcompactd). Current value {current}{inferred}.")
    risk = (f"Less memory for page cache{': up to ' + ctx.human(wi.withheld_pages) if wi else ''}; "
            f"the kernel accepts at most {limit.max_value if limit else '?'} here. Watch "
            "workingset_refault and pgscan_kswapd after the change.")
    rec = Recommendation(WSF, str(current), str(proposed), rationale,
                         _band_effect(ctx, wi) if wi else "not computable from this source", risk,
                         tuple(keys))
    return [rec], []


def _min_free_kbytes(ctx: _Ctx) -> _Out:
    out = []
    for f, ev in ctx.found(min_free_kbytes_low.Evidence):
        current = ev.min_free_kbytes
        wanted = max(ev.default_kbytes, ev.thp_recommended_kbytes or 0)
        proposed = sizing.clamp("vm.min_free_kbytes", wanted, ctx.kernel)
        wi = ctx.whatif({"vm.min_free_kbytes": proposed})
        effect = "not computable from this source"
        if wi:
            effect = (f"the min watermarks sum to {ctx.human(wi.total('after').min_pages)} host-wide "
                      f"(now {ctx.human(wi.total('before').min_pages)})")
        out.append(Recommendation(
            "vm.min_free_kbytes", str(current), str(proposed),
            f"{current} kB is below what the kernel computes for this host ({ev.origin}). "
            f"{ctx.on()} it sets the min watermark, the reserve only atomic and emergency "
            "allocations may use, split across zones by managed size.",
            effect, "Reserves memory nobody else may use; far too high OOMs the host at once.",
            (f.key,)))
    return out, []


def _extfrag_threshold(ctx: _Ctx) -> _Out:
    recs: list[Recommendation] = []
    notes: list[str] = []
    current = ctx.sysctl("extfrag_threshold")
    available: dict[int, list[str]] = {}  # failing order -> zones that had a block of it
    for f, ev in ctx.found(high_order_exhaustion.EventEvidence):
        order, index = ev.failing_order, ev.failing_order_fragmentation_index
        if ev.verdict == "not_fragmentation":
            available.setdefault(order, []).append(f.subject)
        elif ev.verdict == "lack_of_memory":
            notes.append(f"vm.extfrag_threshold will not help {f.subject}: its fragmentation index "
                         f"({index}) says memory is short, not fragmented.")
        elif ev.verdict == "fragmentation":
            milli = round(index * 1000)
            if order <= 3:
                notes.append(f"vm.extfrag_threshold is ignored for order {order} (<= 3) on modern "
                             "kernels; compaction already runs for it.")
            elif current is not None and 0 <= milli <= current:
                proposed = sizing.clamp("vm.extfrag_threshold", milli - 1, ctx.kernel)
                recs.append(Recommendation(
                    "vm.extfrag_threshold", str(current), str(proposed),
                    f"{f.subject} fails order-{order} requests with fragmentation index {index}; "
                    f"with the threshold at {current} the kernel declares the zone unsuitable for "
                    "compaction. The knob only gates compaction (never starts it), for orders > 3.",
                    f"compaction is allowed in zones whose order-{order} index exceeds {proposed / 1000}",
                    "More compaction work (CPU, migration); watch compact_stall and compact_fail.",
                    (f.key,)))
    for failing, subjects in available.items():
        ignored = " and is ignored for orders <= 3" if failing <= 3 else ""
        notes.append(f"vm.extfrag_threshold will not help {', '.join(subjects)}: blocks of order {failing} "
                     f"were free there, so the order-{failing} allocation waited for reclaim, not "
                     f"compaction. The threshold only gates compaction (it never starts it){ignored}.")
    return recs, sorted(set(notes))


def _slab_words(ctx: _Ctx, use: MemoryUse) -> str:
    """What raising vm.vfs_cache_pressure could reclaim here, against what it competes with."""
    slab = use.slab_reclaimable_pages or 0
    share = slab / use.outside_hugetlb_pages if use.outside_hugetlb_pages else 0.0
    return (f"reclaimable slab (dentries and inodes, the only caches it weights) holds "
            f"{ctx.human(slab)}, {share * 100:.1f}% of usable memory, against {ctx.human(use.file_pages)} "
            "of page cache")


VFS_SHARE_MIN = 0.25
"""Below this share of the reclaimable slab in dentry/inode caches (proc/slabinfo), raising
vm.vfs_cache_pressure frees too little to recommend: the rest goes with the page cache."""


def _caches_say(ev: reclaimable_slab.Evidence, ctx: _Ctx) -> tuple[str, float | None]:
    """What proc/slabinfo adds to the advice, and the dentry/inode share of the reclaimable slab."""
    if not isinstance(ev, reclaimable_slab.SlabinfoEvidence):
        return "", None
    known = ev.vfs_cache_pages + ev.other_reclaimable_pages
    share = ev.vfs_cache_pages / known if known else 0.0
    top = ", ".join(f"{name} {human_bytes(int(b))}" for name, _, b in
                    (item.partition("=") for item in ev.top_reclaimable_caches.split(",") if item))
    return (f" proc/slabinfo: dentry and inode caches hold {ctx.human(ev.vfs_cache_pages)} "
            f"({share * 100:.0f}% of the reclaimable caches it names; largest: {top})."), share


def _vfs_cache_pressure(ctx: _Ctx) -> _Out:
    out, notes = [], []
    current = ctx.sysctl("vfs_cache_pressure")
    use = ctx.use()
    for f, ev in ctx.found(reclaimable_slab.Evidence):
        share = ev.slab_ratio
        caches, vfs_share = _caches_say(ev, ctx)
        if vfs_share is not None and vfs_share < VFS_SHARE_MIN:
            notes.append("vm.vfs_cache_pressure will not help much: most reclaimable slab is not "
                         "dentries or inodes, so it goes with the page cache, which the knob does "
                         "not weight." + caches)
            continue
        proposed = sizing.vfs_cache_pressure(current or 100, share, ctx.kernel)
        if current is not None and proposed <= current:
            continue
        out.append(Recommendation(
            "vm.vfs_cache_pressure", None if current is None else str(current), str(proposed),
            f"Reclaimable slab is {share * 100:.0f}% of usable memory; scaling the pressure by "
            f"{share / sizing.SLAB_TARGET_RATIO:.1f} aims at {sizing.SLAB_TARGET_RATIO * 100:.0f}%. "
            f"{ctx.on()} it weights how many dentries/inodes the shrinkers scan per page-cache scan"
            + (f"; {_slab_words(ctx, use)}." if use else ".") + caches,
            "dentry and inode caches shrink faster under memory pressure",
            "Metadata-heavy workloads re-read inodes from disk; 0 would never reclaim them (OOM).",
            (f.key,)))
    return out, notes + _vfs_will_not_help(ctx, current, use)


def _vfs_will_not_help(ctx: _Ctx, current: int | None, use: MemoryUse | None) -> list[str]:
    """vm.vfs_cache_pressure cannot free more than the reclaimable slab: say so when reclaim
    is in trouble (or the knob was raised) while that slab is small."""
    if use is None or use.slab_reclaimable_pages is None:
        return []
    for _, ev in ctx.found(reclaimable_slab.Evidence):
        if ev.slab_ratio > 0:
            return []  # slab is large: the recommendation above says what it would reclaim
    trouble = _reclaim_trouble(ctx)
    raised = current is not None and current > 100
    if not trouble and not raised:
        return []
    why = f" ({', '.join(trouble)})" if trouble else ""
    now = f"; it is {current}, above the default 100, already" if raised else ""
    return [f"vm.vfs_cache_pressure will not help{why}: it only makes the shrinkers free dentries "
            f"and inodes faster relative to the page cache, and {_slab_words(ctx, use)}{now}. "
            "Raising it cannot free more than that slab; reclaim here has to come from the page "
            "cache and anonymous memory, which it does not touch."]


def _compaction_proactiveness(ctx: _Ctx) -> _Out:
    wanted = [f.key for f, ev in ctx.found(high_order_exhaustion.EventEvidence)
              if ev.verdict == "fragmentation"]
    wanted += [f.key for f in ctx.keyed(thp_defrag_stalls.KEY)]
    wanted += [f.key for f in ctx.keyed(compaction_stalls.KEY) if f.severity >= Severity.WARNING]
    k = ctx.kernel
    buddy = ctx.inputs.state.buddyinfo
    if not wanted or buddy is None:
        return [], []
    if k is not None and not k.at_least(5, 9):
        return [], ["vm.compaction_proactiveness does not exist before Linux 5.9 (proactive compaction)."]
    order = pageblock_pages(ctx.page_size).bit_length() - 1
    score = sizing.node_fragmentation_score(
        [(z.free_pages, z.free_blocks) for z in buddy.zones if z.zone != "DMA"], order)
    current = ctx.sysctl("compaction_proactiveness")
    cur = 20 if current is None else current
    proposed = sizing.compaction_proactiveness(score, cur, k)
    if proposed is None and score <= sizing.NOT_FRAGMENTED_SCORE:
        return [], [f"vm.compaction_proactiveness will not help: the fragmentation score at order "
                    f"{order} is {score}, so little free memory is in pieces too small for huge "
                    "pages and proactive compaction would have next to nothing to do."]
    if proposed is None:
        return [], [f"vm.compaction_proactiveness={cur}: kcompactd already compacts in the background at "
                    f"this fragmentation score ({score}), so raising it would not change when it starts."]
    now = ("proactive compaction is off (0)" if cur == 0 else "kcompactd starts proactive "
           f"compaction only above {sizing.proactive_marks(cur, k)[1]} with the current value")
    return [Recommendation(
        "vm.compaction_proactiveness", None if current is None else str(current), str(proposed),
        f"The fragmentation score at order {order} is {score} (free-page weighted); {now}. "
        f"{ctx.on()} it makes kcompactd compact in the background every 500 ms while the score is high.",
        f"background compaction starts above a score of {sizing.proactive_marks(proposed, k)[1]}",
        "kcompactd CPU time and page migration; it pauses while kswapd runs.",
        tuple(sorted(set(wanted))))], []


def _watermark_boost_factor(ctx: _Ctx) -> _Out:
    zi = ctx.inputs.state.zoneinfo
    k = ctx.kernel
    current = ctx.sysctl("watermark_boost_factor")
    boosted = [z for z in (zi.zones if zi else ()) if z.boost_pages]
    if not boosted or not current or not _reclaim_trouble(ctx) or (k and not k.at_least(5, 0)):
        return [], []
    pages = sum(z.boost_pages or 0 for z in boosted)
    return [Recommendation(
        "vm.watermark_boost_factor", str(current), "0",
        f"Watermarks are boosted by {ctx.human(pages)} in {', '.join(z.subject for z in boosted)} "
        f"while reclaim is already under pressure. {ctx.on()} a fallback that steals a pageblock "
        "raises the watermarks and kswapd reclaims extra page cache, then wakes kcompactd.",
        "no extra reclaim bursts after fragmentation events",
        f"Fewer free pageblocks of each migrate type; watch {high_order_exhaustion.KEY}.",
        tuple(sorted({f.key for f in ctx.report.findings if f.key in RECLAIM_KEYS})))], []


def _dirty_limits(ctx: _Ctx) -> _Out:
    out: list[Recommendation] = []
    use = ctx.use()
    for f, ev in ctx.found(page_cache_dominant.Evidence):
        if f.severity < Severity.WARNING or use is None:
            continue
        inactive = ev.inactive_file_pages
        background, limit = sizing.dirty_bytes_pair(inactive, ctx.page_size, ctx.kernel)
        available = pages_to_bytes(use.free_pages + use.file_pages, ctx.page_size)
        for name, proposed, ratio_name, ratio_default in (
                ("dirty_background_bytes", background, "dirty_background_ratio", 10),
                ("dirty_bytes", limit, "dirty_ratio", 20)):
            current = ctx.sysctl(name)
            ratio = ctx.sysctl(ratio_name)
            effective = current if current else available * (ratio_default if ratio is None else ratio) // 100
            if effective <= proposed:
                continue
            shown = None
            if current is not None:
                shown = str(current) if current else f"0 ({ratio_name}={ratio})"
            share = sizing.DIRTY_BACKGROUND_SHARE if "background" in name else sizing.DIRTY_LIMIT_SHARE
            assumed = ("" if current or ratio is not None
                       else f" with the default {ratio_name}={ratio_default}")
            out.append(Recommendation(
                f"vm.{name}", shown, str(proposed),
                f"{ctx.human(ev.dirty_pages)} dirty against an inactive file list "
                f"of {ctx.human(inactive)}: reclaim scans pages it cannot free. "
                f"{human_bytes(proposed)} is 1/{share} of that list (now about "
                f"{human_bytes(effective)}{assumed}). Writing it zeroes {ratio_name}.",
                "writeback starts earlier; reclaim finds clean pages on the inactive list",
                "Writers are throttled sooner; bursty writers may see more latency, disks smoother load.",
                (f.key,)))
    return out, []


def _thp_defrag(ctx: _Ctx) -> _Out:
    out = []
    for f in ctx.keyed(thp_defrag_stalls.KEY):
        k = ctx.kernel
        better = "defer+madvise" if k is None or k.at_least(4, 11) else "madvise"
        out.append(Recommendation(
            "sys/kernel/mm/transparent_hugepage/defrag", "always", better,
            f"defrag=always makes every THP page fault reclaim and compact synchronously. {ctx.on()} "
            f"'{better}' wakes kswapd/kcompactd instead and only stalls madvise(MADV_HUGEPAGE) regions.",
            "no direct compaction on ordinary page faults",
            "Fewer huge pages right after a fault; khugepaged collapses them later.", (f.key,)))
    return out, []


STEPS = (_watermark_scale_factor, _min_free_kbytes, _extfrag_threshold, _vfs_cache_pressure,
         _compaction_proactiveness, _watermark_boost_factor, _dirty_limits, _thp_defrag)


def recommend(report: Report, inputs: Inputs, managed_total_pages: int | None = None) -> Advice:
    recs: list[Recommendation] = []
    notes: list[str] = []
    ctx = _Ctx(report, inputs, managed_total_pages)
    for step in STEPS:
        r, n = step(ctx)
        recs.extend(r)
        notes.extend(n)
    assumed = hugetlb_assumption(inputs.state.meminfo)
    input_notes = (*inputs.state.notes, *([assumed] if assumed else []))
    return Advice(tuple(recs), tuple(notes), tuple(dict.fromkeys(input_notes)))

