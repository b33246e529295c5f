"""Rules that need two samples (rates): fires / passes / skipped without rates."""

from __future__ import annotations

import pytest

from builders import inputs, psi, rates, state, zone, zoneinfo
from memstall.model.thp import ThpSettings
from memstall.model.vmstat import VmStat
from memstall.rules import Severity, Skipped
from memstall.rules import compaction_stalls as cs
from memstall.rules import direct_reclaim as dr
from memstall.rules import kswapd_busy as kb
from memstall.rules import kswapd_wakes_quickly as kq
from memstall.rules import psi_memory_pressure as pm
from memstall.rules import thp_defrag_stalls as thp
from memstall.rules import watermark_gap_too_small as gap

RATE_RULES = [dr, kq, kb, gap]


@pytest.mark.parametrize("rule", RATE_RULES, ids=lambda m: m.KEY)
def test_rate_rules_are_skipped_without_rates_with_the_reason(rule: object) -> None:
    result = rule.check(inputs())  # type: ignore[attr-defined]
    assert isinstance(result, Skipped)
    assert "two samples" in result.reason


def test_direct_reclaim_fires_and_grades_by_direct_share() -> None:
    r = rates(allocstall_normal=3.0, allocstall_movable=1.0, pgscan_direct=500.0, pgscan_kswapd=500.0)
    (f,) = dr.check(inputs(rates=r))  # type: ignore[misc]
    assert f.evidence["allocstall_per_second"] == 4.0
    assert f.evidence["direct_scan_ratio"] == 0.5
    assert f.severity is Severity.CRITICAL
    r = rates(allocstall_normal=1.0, pgscan_direct=10.0, pgscan_kswapd=990.0)
    (f,) = dr.check(inputs(rates=r))  # type: ignore[misc]
    assert f.severity is Severity.WARNING


def test_direct_reclaim_passes_at_zero_and_skips_without_counter() -> None:
    assert dr.check(inputs(rates=rates(allocstall_normal=0.0, pgscan_kswapd=100.0))) == ()
    assert isinstance(dr.check(inputs(rates=rates(pgscan_kswapd=1.0))), Skipped)


def test_kswapd_wakes_quickly() -> None:
    (f,) = kq.check(inputs(rates=rates(kswapd_low_wmark_hit_quickly=2.0)))  # type: ignore[misc]
    assert f.severity is Severity.WARNING
    (f,) = kq.check(inputs(rates=rates(kswapd_low_wmark_hit_quickly=0.2)))  # type: ignore[misc]
    assert f.severity is Severity.INFO
    assert kq.check(inputs(rates=rates(kswapd_low_wmark_hit_quickly=0.0))) == ()
    assert isinstance(kq.check(inputs(rates=rates())), Skipped)


def test_kswapd_busy_per_node() -> None:
    r = rates(kthreads={"kswapd0": 0.97, "kswapd1": 0.6, "kcompactd0": 1.0})
    found = {f.subject: f.severity for f in kb.check(inputs(rates=r))}  # type: ignore[union-attr]
    assert found == {"node0": Severity.CRITICAL, "node1": Severity.WARNING}
    assert kb.check(inputs(rates=rates(kthreads={"kswapd0": 0.1}))) == ()
    assert isinstance(kb.check(inputs(rates=rates(kthreads={"kcompactd0": 0.1}))), Skipped)


def test_watermark_gap_in_seconds_of_headroom() -> None:
    st = state(zoneinfo=zoneinfo(zone(min_=10_000, low=12_500, high=15_000)))
    r = rates(pgalloc_normal=50_000.0, allocstall_normal=1.0)
    (f,) = gap.check(inputs(st, rates=r))  # type: ignore[misc]
    assert f.evidence["gap_pages"] == 2_500
    assert f.evidence["headroom_seconds"] == 0.05
    assert f.severity is Severity.CRITICAL


def test_watermark_gap_passes_without_pressure_or_with_enough_headroom() -> None:
    st = state(zoneinfo=zoneinfo(zone(min_=10_000, low=12_500, high=15_000)))
    assert gap.check(inputs(st, rates=rates(pgalloc_normal=50_000.0))) == ()
    assert gap.check(inputs(st, rates=rates(pgalloc_normal=1_000.0, allocstall_normal=1.0))) == ()
    assert isinstance(gap.check(inputs(st, rates=rates(allocstall_normal=1.0))), Skipped)


def test_compaction_sentences_never_percent_of_successes() -> None:
    r = rates(compact_stall=10.0, compact_fail=9.0, compact_success=1.0)
    (f,) = cs.check(inputs(rates=r))  # type: ignore[misc]
    assert f.severity is Severity.WARNING
    assert "about 9 in 10 failed" in f.explanation
    assert "%" not in f.summary + f.explanation


def test_compaction_since_boot_without_rates_is_info() -> None:
    st = state(vmstat=VmStat({"compact_stall": 1000, "compact_fail": 989, "compact_success": 11}))
    (f,) = cs.check(inputs(st))  # type: ignore[misc]
    assert f.severity is Severity.INFO
    assert f.evidence["compact_fail_since_boot"] == 989
    assert f.summary.startswith("Since boot: 1000 direct compactions, 989 failed")


def test_compaction_passes_and_skips() -> None:
    assert cs.check(inputs()) == ()
    assert isinstance(cs.check(inputs(state(vmstat=None))), Skipped)


def test_psi_grades() -> None:
    (f,) = pm.check(inputs(state(psi_memory=psi(some10=25.0, full10=6.0))))  # type: ignore[misc]
    assert f.severity is Severity.CRITICAL
    (f,) = pm.check(inputs(rates=rates(psi_some=0.15, psi_full=0.0)))  # type: ignore[misc]
    assert f.severity is Severity.WARNING and f.evidence["some_ratio"] == 0.15
    assert pm.check(inputs(state(psi_memory=psi(0.0, 0.0)))) == ()
    skipped = pm.check(inputs(state(psi_memory=None)))
    assert isinstance(skipped, Skipped) and "4.20" in skipped.reason


def test_thp_defrag_always() -> None:
    st = state(thp=ThpSettings(enabled="always", defrag="always", khugepaged_defrag=1))
    (f,) = thp.check(inputs(st))  # type: ignore[misc]
    assert f.severity is Severity.WARNING and "defer+madvise" in f.fix
    (f,) = thp.check(inputs(st, rates=rates(compact_stall=3.0)))  # type: ignore[misc]
    assert f.severity is Severity.CRITICAL
    old = state(kernel_release="4.9.0", thp=ThpSettings("always", "always", 1))
    (f,) = thp.check(inputs(old))  # type: ignore[misc]
    assert "defer+madvise" not in f.fix
    assert thp.check(inputs()) == ()
    assert isinstance(thp.check(inputs(state(thp=None))), Skipped)


def test_compaction_fix_uses_the_watermark_knob_the_kernel_has() -> None:
    counters = VmStat({"compact_stall": 10, "compact_fail": 9, "compact_success": 1})
    (old,) = cs.check(inputs(state(kernel_release="4.4.0", vmstat=counters)))  # type: ignore[misc]
    (new,) = cs.check(inputs(state(kernel_release="6.1.0", vmstat=counters)))  # type: ignore[misc]
    assert "(vm.min_free_kbytes; vm.watermark_scale_factor needs 4.6)" in old.fix
    assert "defer+madvise" not in old.fix and "compact_memory" in old.fix
    assert "(vm.watermark_scale_factor)" in new.fix and "defer+madvise" in new.fix
