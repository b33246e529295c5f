"""Invariants of the analysis functions over random inputs, and against real samples."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from memstall.analysis.fragmentation import (
    WOULD_SUCCEED,
    contig_page_info,
    contig_page_infos,
    fragmentation_index_milli,
    indices_per_order,
    unusable_index_milli,
)
from memstall.analysis.watermarks import ZoneSize, compute_watermarks
from memstall.model.kernel import KernelVersion
from memstall.parsers.sysctl_vm import parse_sysctl_vm
from memstall.parsers.zoneinfo import parse_zoneinfo

SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"
FREE_LISTS = st.lists(st.integers(0, 2**40), min_size=1, max_size=16)


@given(FREE_LISTS)
def test_unusable_index_is_0_to_1000_and_never_decreases_with_order(blocks: list[int]) -> None:
    values = [unusable_index_milli(blocks, o) for o in range(len(blocks))]
    assert all(0 <= v <= 1000 for v in values)
    assert values == sorted(values)
    if sum(blocks) == 0:
        assert values == [1000] * len(blocks)


@given(FREE_LISTS, st.data())
def test_fragmentation_index_is_minus_1000_or_within_minus_999_to_1000(blocks: list[int],
                                                                        data: st.DataObject) -> None:
    order = data.draw(st.integers(0, len(blocks) - 1))
    v = fragmentation_index_milli(blocks, order)
    assert v == WOULD_SUCCEED or -999 <= v <= 1000
    # -1000 exactly when a block of this order or larger is free.
    assert (v == WOULD_SUCCEED) == any(blocks[order:])


ZONES = st.lists(st.tuples(st.sampled_from(["DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"]),
                           st.integers(0, 2**36)), min_size=1, max_size=12)
KERNELS = st.sampled_from([KernelVersion(3, 10), KernelVersion(4, 5), KernelVersion(4, 6),
                           KernelVersion(5, 12), KernelVersion(5, 13), KernelVersion(5, 17),
                           KernelVersion(5, 18), KernelVersion(6, 18)])


@given(ZONES, st.integers(128, 2**22), st.integers(1, 3000), st.sampled_from([4096, 16384, 65536]), KERNELS)
def test_watermarks_are_ordered(zones: list[tuple[str, int]], mfk: int, wsf: int, page_size: int,
                                kernel: KernelVersion) -> None:
    sizes = [ZoneSize(i % 4, name, managed) for i, (name, managed) in enumerate(zones)]
    for w in compute_watermarks(sizes, mfk, wsf, page_size, kernel):
        assert 0 <= w.min_pages <= w.low_pages <= w.high_pages
        if w.promo_pages is not None:
            assert w.high_pages <= w.promo_pages
            assert kernel.at_least(5, 18)


def test_current_sysctls_reproduce_every_zone_of_the_6_18_capture() -> None:
    # zoneinfo and /proc/sys/vm were captured together on the 6.18 VM.
    zi = parse_zoneinfo((SAMPLES / "zoneinfo" / "valid"
                         / "x86_64-6.18-promo-boost-unpopulated-movable.txt").read_text())
    sysctl_dir = SAMPLES / "sysctl_vm" / "valid" / "x86_64-6.18"
    sysctl = parse_sysctl_vm({p.name: p.read_text() for p in sysctl_dir.iterdir()})
    mfk, wsf = sysctl.int_value("min_free_kbytes"), sysctl.int_value("watermark_scale_factor")
    assert mfk is not None and wsf is not None
    sizes = [ZoneSize(z.node, z.zone, z.managed_pages or 0) for z in zi.zones]
    got = compute_watermarks(sizes, mfk, wsf, 4096, KernelVersion(6, 18, 44))
    assert len(got) == len(zi.zones) == 5
    for zone, mine in zip(zi.zones, got):
        assert (mine.min_pages, mine.low_pages, mine.high_pages, mine.promo_pages) == \
            zone.watermarks_without_boost(), zone.subject


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=16))
def test_indices_per_order_equal_the_per_order_functions(free_blocks: list[int]) -> None:
    """The exporter's one-pass form equals the kernel formulas order by order."""
    orders = range(len(free_blocks))
    assert contig_page_infos(free_blocks) == [contig_page_info(free_blocks, o) for o in orders]
    assert indices_per_order(free_blocks) == [
        (unusable_index_milli(free_blocks, o), fragmentation_index_milli(free_blocks, o)) for o in orders]
