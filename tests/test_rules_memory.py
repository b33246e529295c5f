"""Rules over meminfo: page cache and dirty share, reclaimable slab, hugetlb reservations."""

from __future__ import annotations

from builders import inputs, meminfo, state
from memstall.rules import Severity, Skipped
from memstall.rules import hugetlb_squeezes_page_cache as hs
from memstall.rules import page_cache_dominant as pc
from memstall.rules import reclaimable_slab as rs

GIB_KB = 1024 * 1024


def test_page_cache_dominant_with_dirty_inactive_list_warns() -> None:
    m = meminfo(MemTotal=64 * GIB_KB, Active_file=40 * GIB_KB, Inactive_file=4 * GIB_KB,
                Dirty=3 * GIB_KB, Writeback=GIB_KB // 2)
    (f,) = pc.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.severity is Severity.WARNING
    assert f.evidence["file_pages"] == 44 * 262144
    assert f.evidence["dirty_inactive_ratio"] == 0.875


def test_page_cache_dominant_clean_is_info() -> None:
    m = meminfo(MemTotal=64 * GIB_KB, Active_file=40 * GIB_KB, Inactive_file=4 * GIB_KB, Dirty=1024)
    (f,) = pc.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.severity is Severity.INFO


def test_page_cache_share_counts_against_what_hugetlb_leaves() -> None:
    # 48 GiB hugetlb out of 64: 10 GiB of file pages is 62% of the 16 GiB left.
    m = meminfo({"HugePages_Total": 24576, "HugePages_Free": 0}, MemTotal=64 * GIB_KB,
                Active_file=8 * GIB_KB, Inactive_file=2 * GIB_KB)
    (f,) = pc.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.evidence["outside_hugetlb_pages"] == 16 * 262144


def test_page_cache_small_passes_and_missing_skips() -> None:
    assert pc.check(inputs()) == ()
    assert isinstance(pc.check(inputs(state(meminfo=None))), Skipped)


def test_reclaimable_slab() -> None:
    (f,) = rs.check(inputs(state(meminfo=meminfo(MemTotal=10 * GIB_KB, SReclaimable=3 * GIB_KB))))  # type: ignore[misc]
    assert f.severity is Severity.WARNING and f.evidence["slab_ratio"] == 0.3
    (f,) = rs.check(inputs(state(meminfo=meminfo(MemTotal=10 * GIB_KB, SReclaimable=GIB_KB))))  # type: ignore[misc]
    assert f.severity is Severity.INFO
    assert rs.check(inputs()) == ()
    assert isinstance(rs.check(inputs(state(meminfo=None))), Skipped)


def test_hugetlb_half_of_ram() -> None:
    m = meminfo({"HugePages_Total": 16384, "HugePages_Free": 0}, MemTotal=64 * GIB_KB)
    (f,) = hs.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.evidence["hugetlb_ratio"] == 0.5
    assert f.severity is Severity.INFO
    m = meminfo({"HugePages_Total": 16384, "HugePages_Free": 8192}, MemTotal=64 * GIB_KB)
    (f,) = hs.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.severity is Severity.WARNING


def test_hugetlb_counts_every_size_when_the_kernel_prints_hugetlb() -> None:
    m = meminfo({"HugePages_Total": 0, "HugePages_Free": 0}, MemTotal=64 * GIB_KB, Hugetlb=32 * GIB_KB)
    (f,) = hs.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.evidence["hugetlb_pages"] == 32 * 262144


def test_hugetlb_none_passes_and_missing_skips() -> None:
    assert hs.check(inputs()) == ()
    assert isinstance(hs.check(inputs(state(meminfo=None))), Skipped)
