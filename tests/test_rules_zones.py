"""Rules over zones and free blocks: fires / passes / skipped, built from model objects."""

from __future__ import annotations

from builders import GIB_PAGES, alloc_event, buddy, formula_zones, inputs, state, sysctl, zone, zoneinfo
from memstall.analysis.fragmentation import fragmentation_index_milli
from memstall.model.thp import ThpSettings
from memstall.rules import Severity, Skipped
from memstall.rules import high_order_exhaustion as hoe
from memstall.rules import min_free_kbytes_low as mfk
from memstall.rules import numa_imbalance as numa
from memstall.rules import zone_below_watermark as zbw


def test_zone_below_min_is_critical_with_numbers() -> None:
    st = state(zoneinfo=zoneinfo(zone(free=9_000), zone(0, "DMA32", free=11_000)))
    found = zbw.check(inputs(st))
    assert not isinstance(found, Skipped)
    by_subject = {f.subject: f for f in found}
    assert by_subject["node0/Normal"].severity is Severity.CRITICAL
    assert by_subject["node0/Normal"].evidence["free_pages"] == 9_000
    assert "min watermark" in by_subject["node0/Normal"].summary
    assert by_subject["node0/DMA32"].severity is Severity.INFO


def test_zone_at_exactly_min_counts_as_below() -> None:
    # __zone_watermark_ok fails when free <= min.
    found = zbw.check(inputs(state(zoneinfo=zoneinfo(zone(free=10_000)))))
    assert [f.severity for f in found] == [Severity.CRITICAL]  # type: ignore[union-attr]


def test_zone_above_low_passes() -> None:
    assert zbw.check(inputs(state(zoneinfo=zoneinfo(zone(free=12_501))))) == ()


def test_zone_rule_skipped_without_zoneinfo() -> None:
    result = zbw.check(inputs(state(zoneinfo=None, unavailable={"proc/zoneinfo": "permission denied"})))
    assert isinstance(result, Skipped)
    assert "permission denied" in result.reason


def test_numa_imbalance_fires_when_one_node_starves() -> None:
    st = state(zoneinfo=zoneinfo(zone(0, free=12_000), zone(1, free=40_000)))
    (f,) = numa.check(inputs(st))  # type: ignore[misc]
    assert f.subject == "node0"
    assert f.evidence["rich_node"] == 1
    assert f.evidence["rich_free_pages"] == 40_000


def test_numa_balanced_passes() -> None:
    st = state(zoneinfo=zoneinfo(zone(0, free=12_000), zone(1, free=12_400)))
    assert numa.check(inputs(st)) == ()


def test_numa_skipped_on_one_node_and_without_zoneinfo() -> None:
    assert isinstance(numa.check(inputs(state())), Skipped)
    assert isinstance(numa.check(inputs(state(zoneinfo=None))), Skipped)


def _mfk_state(min_free: int, thp: str) -> object:
    zi = formula_zones([(0, "DMA32", GIB_PAGES), (0, "Normal", 15 * GIB_PAGES)], min_free, 10)
    return state(zoneinfo=zi, sysctl_vm=sysctl(min_free_kbytes=min_free),
                 thp=ThpSettings(enabled=thp, defrag="madvise", khugepaged_defrag=1))


def test_min_free_kbytes_below_thp_value_fires() -> None:
    (f,) = mfk.check(inputs(_mfk_state(16_000, "always")))  # type: ignore[arg-type, misc]
    # 2 zones: 512 * 2 * 2 + 512 * 2 * 9 = 11264 pages = 45056 kB.
    assert f.evidence["thp_recommended_kbytes"] == 45056
    assert f.severity is Severity.WARNING


def test_min_free_kbytes_below_one_mib_is_critical() -> None:
    (f,) = mfk.check(inputs(_mfk_state(512, "never")))  # type: ignore[arg-type, misc]
    assert f.severity is Severity.CRITICAL
    assert f.evidence["thp_recommended_kbytes"] is None


def test_min_free_kbytes_at_thp_value_passes() -> None:
    assert mfk.check(inputs(_mfk_state(45056, "always"))) == ()  # type: ignore[arg-type]


def test_min_free_kbytes_skipped_without_sysctl() -> None:
    assert isinstance(mfk.check(inputs(state(sysctl_vm=None))), Skipped)



SEED_NORMAL = [11218, 32, 17, 11, 4, 1, 0, 0, 0, 0, 0]  # node 0 Normal of the seed log


def test_high_order_exhaustion_without_log_reports_the_kernel_indices() -> None:
    (f,) = hoe.check(inputs(state(buddyinfo=buddy((0, "Normal", SEED_NORMAL)))))  # type: ignore[misc]
    assert f.evidence["exhausted_from_order"] == 6
    assert f.evidence["fragmentation_index"] == fragmentation_index_milli(SEED_NORMAL, 6) / 1000
    assert f.severity is Severity.INFO


def test_order1_stall_with_order1_available_is_not_fragmentation() -> None:
    st = state(buddyinfo=buddy((0, "Normal", SEED_NORMAL)))
    (f,) = hoe.check(inputs(st, events=(alloc_event("stall", 1),)))  # type: ignore[misc]
    assert f.evidence["verdict"] == "not_fragmentation"
    assert f.evidence["failing_order_fragmentation_index"] == -1.0
    assert "extfrag_threshold will not cure it" in f.explanation


def test_failing_order_exhausted_by_fragmentation() -> None:
    blocks = [20000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    st = state(buddyinfo=buddy((0, "Normal", blocks)))
    (f,) = hoe.check(inputs(st, events=(alloc_event("failure", 4),)))  # type: ignore[misc]
    assert f.evidence["verdict"] == "fragmentation"
    assert f.severity is Severity.WARNING


def test_all_orders_free_passes() -> None:
    assert hoe.check(inputs(state(buddyinfo=buddy((0, "Normal", [5] * 11))))) == ()


def test_dma_zone_is_ignored() -> None:
    assert hoe.check(inputs(state(buddyinfo=buddy((0, "DMA", [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))))) == ()


def test_high_order_skipped_without_buddyinfo() -> None:
    assert isinstance(hoe.check(inputs(state(buddyinfo=None))), Skipped)


def test_zone_rule_reports_the_sample_closest_to_the_watermark() -> None:
    earlier = state(zoneinfo=zoneinfo(zone(free=12_000)))
    latest = state(zoneinfo=zoneinfo(zone(free=50_000)))
    (f,) = zbw.check(inputs(latest, history=(earlier,)))  # type: ignore[misc]
    assert f.severity is Severity.INFO and f.evidence["free_pages"] == 12_000
    assert zbw.check(inputs(latest)) == ()


def test_high_order_evidence_lists_the_indices_per_order() -> None:
    (f,) = hoe.check(inputs(state(buddyinfo=buddy((0, "Normal", SEED_NORMAL)))))  # type: ignore[misc]
    per_order = dict(p.split(":") for p in str(f.evidence["fragmentation_index_by_order"]).split())
    assert list(per_order) == ["6", "7", "8", "9", "10"]
    assert all(float(per_order[str(o)]) == fragmentation_index_milli(SEED_NORMAL, o) / 1000
               for o in range(6, 11))
    assert str(f.evidence["unusable_index_by_order"]).startswith("0:0.000 1:")


def test_high_order_fix_names_only_the_compaction_knobs_the_kernel_has() -> None:
    fixes = {}
    for release in ("2.6.3", "3.10.0", "4.9.0", "4.14.0", "6.1.0"):
        (f,) = hoe.check(inputs(state(kernel_release=release,  # type: ignore[misc]
                                      buddyinfo=buddy((0, "Normal", SEED_NORMAL)))))
        fixes[release] = f.fix
    assert "no memory compaction" in fixes["2.6.3"] and "extfrag" not in fixes["2.6.3"]
    assert "compact_memory" in fixes["3.10.0"] and "kcompactd" in fixes["3.10.0"]
    assert "THP defrag defer;" in fixes["4.9.0"] and "proactiveness 5.9" in fixes["4.9.0"]
    assert "defer+madvise; vm.compaction_proactiveness needs 5.9" in fixes["4.14.0"]
    assert "(THP defrag defer+madvise, vm.compaction_proactiveness)" in fixes["6.1.0"]
