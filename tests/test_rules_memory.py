"""Rules over meminfo: page cache and dirty share, reclaimable slab, hugetlb reservations."""

from __future__ import annotations

from builders import inputs, meminfo, state
from memstall.advice.recommend import Advice, recommend
from memstall.model.meminfo import HugePagePool, MemInfo
from memstall.model.slab import SlabCache, SlabInfo
from memstall.model.state import SystemState
from memstall.rules import Severity, Skipped, run_rules
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


def _slab(*caches: tuple[str, int]) -> SlabInfo:
    """(name, pages) caches: one page per slab."""
    return SlabInfo("2.1", tuple(SlabCache(n, 1, 1, 64, 64, 1, 0, 0, 0, p, p, 0) for n, p in caches))


def test_reclaimable_slab_names_the_largest_reclaimable_caches_from_slabinfo() -> None:
    st = state(meminfo=meminfo(MemTotal=10 * GIB_KB, SReclaimable=3 * GIB_KB),
               slabinfo=_slab(("kmalloc-64", 900), ("dentry", 500), ("buffer_head", 300),
                              ("ext4_inode_cache", 200), ("task_struct", 50)))
    (f,) = rs.check(inputs(st))  # type: ignore[misc]
    assert isinstance(f.evidence, rs.SlabinfoEvidence)
    assert f.evidence["top_reclaimable_caches"] == \
        "dentry=2048000,buffer_head=1228800,ext4_inode_cache=819200"
    assert (f.evidence["vfs_cache_pages"], f.evidence["other_reclaimable_pages"]) == (700, 300)
    assert "dentry 2.0 MiB" in f.explanation and "kmalloc-64" not in f.explanation


def test_vfs_cache_pressure_is_not_advised_when_slabinfo_shows_little_dentry_and_inode() -> None:
    mi = meminfo(MemTotal=10 * GIB_KB, SReclaimable=3 * GIB_KB)
    without = recommend_for(state(meminfo=mi))
    assert any(r.setting == "vm.vfs_cache_pressure" for r in without.recommendations)
    mostly_buffers = recommend_for(state(meminfo=mi, slabinfo=_slab(("buffer_head", 900), ("dentry", 100))))
    assert not any(r.setting == "vm.vfs_cache_pressure" for r in mostly_buffers.recommendations)
    assert any("vm.vfs_cache_pressure will not help much" in n and "buffer_head" in n
               for n in mostly_buffers.notes)
    mostly_dentries = recommend_for(state(meminfo=mi,
                                          slabinfo=_slab(("buffer_head", 100), ("dentry", 900))))
    (rec,) = [r for r in mostly_dentries.recommendations if r.setting == "vm.vfs_cache_pressure"]
    assert "proc/slabinfo: dentry and inode caches hold 3.5 MiB (90%" in rec.rationale


def test_hugetlb_without_hugepagesize_infers_the_size_or_says_unknown_never_zero() -> None:
    # hotsos's hugepages_fail meminfo: no Hugepagesize; Hugetlb / HugePages_Total = 1 GiB.
    m = MemInfo({"MemTotal": 395397124, "Hugetlb": 335544320},
                {"HugePages_Total": 320, "HugePages_Free": 306})
    (f,) = hs.check(inputs(state(meminfo=m)))  # type: ignore[misc]
    assert f.severity is Severity.WARNING and f.evidence["hugetlb_free_pages"] == 306 * 262144
    assert "1048576 kB inferred as Hugetlb / HugePages_Total" in f.explanation
    # The size from sys/kernel/mm/hugepages when the quotient is not a size (two sizes in use).
    m2 = MemInfo({"MemTotal": 64 * GIB_KB, "Hugetlb": 32 * GIB_KB + 3 * 2048},
                 {"HugePages_Total": 3, "HugePages_Free": 1})
    pools = (HugePagePool(2048, 3, 1), HugePagePool(1048576, 32, 0))
    (f,) = hs.check(inputs(state(meminfo=m2, hugepages=pools)))  # type: ignore[misc]
    assert f.evidence["hugetlb_free_pages"] == 512
    assert "2048 kB, the size in sys/kernel/mm/hugepages whose nr_hugepages equals" in f.explanation
    # Neither: unknown, said, and not a WARNING built on a 0.
    (f,) = hs.check(inputs(state(meminfo=m2)))  # type: ignore[misc]
    assert f.evidence["hugetlb_free_pages"] is None and f.severity is Severity.INFO
    assert "unused hugetlb memory unknown" in f.explanation and "0 B unused" not in f.summary


def recommend_for(st: SystemState) -> Advice:
    report = run_rules(inputs(st))
    return recommend(report, inputs(st))
