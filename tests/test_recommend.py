"""advice/recommend.py: values derived from the measurements, always inside the kernel's range."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from builders import GIB_PAGES, alloc_event, buddy, formula_zones, inputs, meminfo, rates, state, sysctl
from memstall.advice.recommend import recommend
from memstall.analysis.sysctl_limits import limits_for, validate
from memstall.model.kernel import KernelVersion
from memstall.model.thp import ThpSettings
from memstall.rules import Inputs, run_rules

GIB_KB = 1024 * 1024
KERNELS = [KernelVersion(4, 4), KernelVersion(4, 9), KernelVersion(5, 4), KernelVersion(5, 10),
           KernelVersion(5, 17), KernelVersion(6, 1), KernelVersion(6, 18)]



def _stressed(kernel: KernelVersion, gib: int, wsf: int, mfk: int, alloc: float, dirty_gib: int,
              slab_gib: int, order: int) -> Inputs:
    sizes = [(0, "DMA32", GIB_PAGES), (0, "Normal", gib * GIB_PAGES)]
    zi = formula_zones(sizes, mfk, wsf, kernel, free=0)
    total = (gib + 1) * GIB_KB
    m = meminfo(MemTotal=total, MemFree=0, Active_file=total // 2, Inactive_file=total // 4,
                Dirty=dirty_gib * GIB_KB, SReclaimable=slab_gib * GIB_KB)
    st_ = state(zoneinfo=zi, meminfo=m, kernel_release=str(kernel),
                sysctl_vm=sysctl(min_free_kbytes=mfk, watermark_scale_factor=wsf),
                buddyinfo=buddy((0, "Normal", [5000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
                thp=ThpSettings("always", "always", 1))
    r = rates(pgalloc_normal=alloc, allocstall_normal=5.0, pgscan_direct=100.0, pgscan_kswapd=10.0,
              kswapd_low_wmark_hit_quickly=3.0, compact_stall=4.0, compact_fail=4.0,
              kthreads={"kswapd0": 0.99})
    return Inputs(st_, rates=r, events=(alloc_event("failure", order),), kernel=kernel)


@given(st.sampled_from(KERNELS), st.integers(1, 2048), st.integers(1, 1000), st.integers(128, 1 << 22),
       st.floats(0, 1e8), st.integers(0, 64), st.integers(0, 64), st.integers(0, 10))
def test_recommendations_always_inside_the_kernel_range(kernel: KernelVersion, gib: int, wsf: int,
                                                        mfk: int, alloc: float, dirty: int, slab: int,
                                                        order: int) -> None:
    inp = _stressed(kernel, gib, wsf, mfk, alloc, dirty, slab, order)
    advice = recommend(run_rules(inp), inp)
    for rec in advice.recommendations:
        if limits_for(rec.setting, kernel) is not None:
            assert validate(rec.setting, rec.proposed, kernel) is None, rec


def test_watermark_scale_factor_is_sized_from_the_allocation_rate() -> None:
    inp = _stressed(KernelVersion(6, 1), 255, 10, 67584, 262144.0, 1, 1, 1)
    advice = recommend(run_rules(inp), inp)
    (rec,) = [r for r in advice.recommendations if r.setting == "vm.watermark_scale_factor"]
    # One second of 262144 pages/s over 256 GiB of lowmem: ceil(262144 * 10000 / (256 GiB)) = 40.
    assert (rec.current, rec.proposed) == ("10", "40")
    assert "kswapd only wakes kcompactd" in rec.rationale
    assert "DIRECT_RECLAIM" in rec.findings


def test_watermark_scale_factor_capped_at_the_kernel_maximum() -> None:
    inp = _stressed(KernelVersion(5, 10), 3, 10, 67584, 1e9, 1, 1, 1)
    advice = recommend(run_rules(inp), inp)
    (rec,) = [r for r in advice.recommendations if r.setting == "vm.watermark_scale_factor"]
    assert rec.proposed == "1000"
    inp = replace(inp, kernel=KernelVersion(6, 1))
    (rec,) = [r for r in recommend(run_rules(inp), inp).recommendations
              if r.setting == "vm.watermark_scale_factor"]
    assert rec.proposed == "3000"


def test_no_watermark_scale_factor_before_4_6_says_why() -> None:
    inp = _stressed(KernelVersion(4, 4), 31, 10, 67584, 1e6, 1, 1, 1)
    advice = recommend(run_rules(inp), inp)
    assert not [r for r in advice.recommendations if r.setting == "vm.watermark_scale_factor"]
    assert any("does not exist before Linux 4.6" in n for n in advice.notes)


def test_extfrag_threshold_not_recommended_for_an_available_order() -> None:
    inp = _stressed(KernelVersion(6, 1), 31, 10, 67584, 1e6, 1, 1, 0)
    advice = recommend(run_rules(inp), inp)
    assert not [r for r in advice.recommendations if r.setting == "vm.extfrag_threshold"]
    assert any(n.startswith("vm.extfrag_threshold will not help") for n in advice.notes)


def test_dirty_bytes_from_the_inactive_file_list() -> None:
    inp = _stressed(KernelVersion(6, 1), 31, 10, 67584, 1e6, 6, 1, 1)
    advice = recommend(run_rules(inp), inp)
    recs = {r.setting: r for r in advice.recommendations}
    # Inactive(file) is a quarter of 32 GiB = 8 GiB: background 2 GiB, limit 4 GiB.
    assert recs["vm.dirty_background_bytes"].proposed == str(2 * 1024**3)
    assert recs["vm.dirty_bytes"].proposed == str(4 * 1024**3)


def test_healthy_host_gets_no_recommendation() -> None:
    inp = inputs(rates=rates(pgalloc_normal=100.0, allocstall_normal=0.0, pgscan_kswapd=0.0))
    assert recommend(run_rules(inp), inp).recommendations == ()


def _report_for(st_: object, kernel: KernelVersion, **kw: object) -> tuple[object, Inputs]:
    inp = Inputs(st_, kernel=kernel, **kw)  # type: ignore[arg-type]
    return recommend(run_rules(inp), inp), inp


def test_vfs_cache_pressure_scales_with_the_slab_share() -> None:
    st_ = state(meminfo=meminfo(MemTotal=10 * GIB_KB, SReclaimable=3 * GIB_KB))
    advice, _ = _report_for(st_, KernelVersion(6, 1))
    (rec,) = [r for r in advice.recommendations if r.setting == "vm.vfs_cache_pressure"]  # type: ignore[attr-defined]
    assert (rec.current, rec.proposed) == ("100", "300")  # 30 % slab -> 3x the pressure


def test_min_free_kbytes_raised_to_the_thp_value() -> None:
    zi = formula_zones([(0, "DMA32", GIB_PAGES), (0, "Normal", 15 * GIB_PAGES)], 16000, 10)
    st_ = state(zoneinfo=zi, sysctl_vm=sysctl(min_free_kbytes=16000),
                thp=ThpSettings("always", "madvise", 1))
    advice, _ = _report_for(st_, KernelVersion(6, 1))
    (rec,) = [r for r in advice.recommendations if r.setting == "vm.min_free_kbytes"]  # type: ignore[attr-defined]
    assert (rec.current, rec.proposed) == ("16000", "45056")


def test_extfrag_threshold_lowered_below_the_observed_index_for_a_costly_order() -> None:
    # Order 4 fails; blocks of order 0..2 only: index at order 4 is between 0 and 500.
    blocks = [4, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0]
    st_ = state(buddyinfo=buddy((0, "Normal", blocks)))
    advice, _ = _report_for(st_, KernelVersion(6, 1), events=(alloc_event("failure", 4),))
    recs = [r for r in advice.recommendations if r.setting == "vm.extfrag_threshold"]  # type: ignore[attr-defined]
    from memstall.analysis.fragmentation import fragmentation_index_milli

    index = fragmentation_index_milli(blocks, 4)
    if index > 500:
        assert recs == []
    else:
        assert [r.proposed for r in recs] == [str(index - 1)]


def test_compaction_proactiveness_only_on_5_9_and_later() -> None:
    # RHEL 8.4 ships 0 (proactive compaction off); everything is order-0: score 100.
    st_ = state(buddyinfo=buddy((0, "Normal", [50000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
                thp=ThpSettings("always", "always", 1), sysctl_vm=sysctl(compaction_proactiveness=0))
    advice, _ = _report_for(st_, KernelVersion(6, 1))
    (rec,) = [r for r in advice.recommendations if r.setting == "vm.compaction_proactiveness"]  # type: ignore[attr-defined]
    assert (rec.current, rec.proposed) == ("0", "11")  # start mark 100 - 11 + 10 = 99 < 100
    default = replace(st_, sysctl_vm=sysctl())
    advice, _ = _report_for(default, KernelVersion(6, 1))
    assert any(n.startswith("vm.compaction_proactiveness=20: kcompactd already") for n in advice.notes)  # type: ignore[attr-defined]
    advice, _ = _report_for(st_, KernelVersion(5, 4))
    assert not [r for r in advice.recommendations if r.setting == "vm.compaction_proactiveness"]  # type: ignore[attr-defined]
    assert any("does not exist before Linux 5.9" in n for n in advice.notes)  # type: ignore[attr-defined]


def test_watermark_boost_factor_off_when_boosted_zones_meet_reclaim_trouble() -> None:
    from builders import zone, zoneinfo

    st_ = state(zoneinfo=zoneinfo(zone(free=9_000, boost=2_048)))
    advice, _ = _report_for(st_, KernelVersion(6, 1))
    (rec,) = [r for r in advice.recommendations if r.setting == "vm.watermark_boost_factor"]  # type: ignore[attr-defined]
    assert (rec.current, rec.proposed) == ("15000", "0")
    advice, _ = _report_for(st_, KernelVersion(4, 19))
    assert not [r for r in advice.recommendations if r.setting == "vm.watermark_boost_factor"]  # type: ignore[attr-defined]


def test_proactiveness_uses_each_era_s_start_mark() -> None:
    from memstall.advice import sizing
    # 5.9-6.15: the low mark never goes under 5, so the start mark never under 15.
    assert sizing.proactive_marks(99, KernelVersion(6, 1)) == (5, 15)
    assert sizing.compaction_proactiveness(12, 20, KernelVersion(6, 1)) is None
    # 6.16+: low = 100 - p, leeway min(10, low // 2): p = 93 gives (7, 10), the first high < 12.
    assert sizing.proactive_marks(93, KernelVersion(6, 18)) == (7, 10)
    assert sizing.proactive_marks(83, KernelVersion(6, 18)) == (17, 25)
    assert sizing.compaction_proactiveness(26, 20, KernelVersion(6, 18)) == 83
    assert sizing.compaction_proactiveness(26, 20, KernelVersion(6, 1)) == 85  # (15, 25)
    # A score this low is not fragmentation: never a value as high as 93.
    assert sizing.compaction_proactiveness(12, 20, KernelVersion(6, 18)) is None
    # The current value already starts compaction at this score: nothing to raise.
    assert sizing.compaction_proactiveness(95, 20, KernelVersion(6, 18)) is None
    # Defaults agree in both eras (docs/kernel.md#proactive-compaction: low 80, high 90).
    assert sizing.proactive_marks(20, KernelVersion(6, 1)) == sizing.proactive_marks(20, None) == (80, 90)


def test_extfrag_will_not_help_is_one_note_naming_every_zone() -> None:
    st_ = state(buddyinfo=buddy((0, "Normal", [5000, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                                (1, "Normal", [4000, 300, 0, 0, 0, 0, 0, 0, 0, 0, 0])))
    report = run_rules(Inputs(st_, events=(alloc_event("stall", 1),), kernel=KernelVersion(4, 9)))
    notes = [n for n in recommend(report, Inputs(st_, kernel=KernelVersion(4, 9))).notes
             if n.startswith("vm.extfrag_threshold")]
    assert notes == ["vm.extfrag_threshold will not help node0/Normal, node1/Normal: blocks of order 1 "
                     "were free there, so the order-1 allocation waited for reclaim, not compaction. "
                     "The threshold only gates compaction (it never starts it) and is ignored for "
                     "orders <= 3."]
