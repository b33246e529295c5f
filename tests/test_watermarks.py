"""analysis/watermarks.py per kernel era, against real zoneinfo samples and the seed log.

Every expected number below was printed by a kernel (a sample file, the 6.18 host of
docs/kernel.md#watermarks-checked-on-a-live-kernel or the seed log); none is computed by the code under test.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from memstall.analysis.watermarks import (
    ZoneSize,
    compute_watermarks,
    default_min_free_kbytes,
    nr_free_buffer_pages,
    thp_recommended_min_free_kbytes,
)
from memstall.analysis.zone_watermarks import min_free_origin
from memstall.collect import load_state
from memstall.model.kernel import KernelVersion
from memstall.parsers.zoneinfo import parse_zoneinfo
from memstall.sources import open_root

ZONEINFO = Path(__file__).parent / "fixtures" / "samples" / "zoneinfo" / "valid"
# The repository's copy of the shared corpus: a clean clone has it (../shared does not exist there).
SEED_LOG = Path(__file__).parent / "fixtures" / "kernlog" / "corpus" / "000-seed-cold-storage-4.9.log"


def _mlh(zones: tuple[object, ...]) -> list[tuple[str, int, int, int]]:
    return [(w.zone, w.min_pages, w.low_pages, w.high_pages) for w in zones]  # type: ignore[attr-defined]


def _sizes_of(sample: str) -> tuple[list[ZoneSize], list[tuple[str, int, int, int]]]:
    zi = parse_zoneinfo((ZONEINFO / sample).read_text())
    sizes = [ZoneSize(z.node, z.zone, z.managed_pages or 0) for z in zi.zones]
    printed = [(z.zone, z.min_pages, z.low_pages, z.high_pages) for z in zi.zones]
    return sizes, printed


def test_era_up_to_4_5_real_3_10_zoneinfo_with_thp_min_free_kbytes() -> None:
    # <= 4.5: low = min + tmp/4, high = min + tmp/2. min_free_kbytes is khugepaged's value
    # for 2 populated zones (docs/kernel.md#thp-min-free-kbytes): 512*2*2 + 512*2*9 pages = 45056 kB.
    sizes, printed = _sizes_of("x86_64-3.10-el7-protection-after-counters.txt")
    free_buffer = nr_free_buffer_pages((z, m, h) for (z, _, _, h), s in zip(printed, sizes)
                                       for m in [s.managed_pages])
    mfk = thp_recommended_min_free_kbytes(["DMA", "DMA32"], free_buffer, 4096)
    assert mfk == 45056
    got = compute_watermarks(sizes, mfk, 10, 4096, KernelVersion(3, 10, 0))
    assert _mlh(got) == printed == [("DMA", 95, 118, 142), ("DMA32", 11168, 13960, 16752)]
    assert all(w.promo_pages is None for w in got)
    # The 4.6+ formula gives other numbers here: the era matters.
    assert _mlh(compute_watermarks(sizes, mfk, 10, 4096, KernelVersion(4, 6, 0))) != printed


def test_era_4_6_to_5_17_real_4_11_ppc64_64k_pages_two_nodes() -> None:
    # 64 KiB pages: pages_min = min_free_kbytes >> 6. The kernel default at boot, from the
    # DMA zone alone (node 1 was hot-added later): 4*sqrt(65218 pages * 64 kB) = 8172 kB.
    sizes, printed = _sizes_of("ppc64-4.11-64k-2node-per-node-stats.txt")
    mfk = default_min_free_kbytes(65218, 65536, KernelVersion(4, 11, 0))
    assert mfk == 8172
    got = compute_watermarks(sizes, mfk, 10, 65536, KernelVersion(4, 11, 0))
    assert _mlh(got) == printed == [("DMA", 63, 128, 193), ("Movable", 63, 128, 193)]
    # From 5.13 ZONE_MOVABLE is clamped like HighMem (32..128 pages) and not lowmem.
    later = compute_watermarks(sizes, mfk, 10, 65536, KernelVersion(5, 13, 0))
    assert (later[1].min_pages, later[0].min_pages) == (64, 127)


# docs/kernel.md#watermarks-checked-on-a-live-kernel: /proc/zoneinfo of 6.18 (min_free_kbytes 67584, wsf 10).
STATE_A = [("DMA", 3840, (71, 88, 105, 122)), ("DMA32", 772915, (14385, 17981, 21577, 25173)),
           ("Normal", 131072, (2439, 3048, 3657, 4266))]
STATE_B = [("DMA", 3840, (40, 50, 60, 70)), ("DMA32", 772915, (8182, 10227, 12272, 14317)),
           ("Normal", 819200, (8672, 10840, 13008, 15176)), ("Movable", 0, (32, 32, 32, 32)),
           ("Device", 0, (0, 0, 0, 0))]


@pytest.mark.parametrize("state", [STATE_A, STATE_B], ids=["state-A", "state-B-movable-clamp"])
def test_era_5_18_plus_promo_and_movable_clamp(state: list[tuple[str, int, tuple[int, ...]]]) -> None:
    sizes = [ZoneSize(0, name, managed) for name, managed, _ in state]
    got = compute_watermarks(sizes, 67584, 10, 4096, KernelVersion(6, 18, 44))
    assert [(w.min_pages, w.low_pages, w.high_pages, w.promo_pages) for w in got] == \
        [wm for _, _, wm in state]
    # 5.0 .. 5.17 compute the same min/low/high but no WMARK_PROMO.
    old = compute_watermarks(sizes, 67584, 10, 4096, KernelVersion(5, 17, 0))
    assert [(w.min_pages, w.low_pages, w.high_pages) for w in old] == [wm[:3] for _, _, wm in state]
    assert all(w.promo_pages is None for w in old)


def test_highmem_min_is_clamped_to_32_128_pages() -> None:
    sizes = [ZoneSize(0, "DMA", 3968), ZoneSize(0, "Normal", 187600), ZoneSize(0, "HighMem", 10000),
             ZoneSize(1, "HighMem", 800000)]
    got = compute_watermarks(sizes, 3794, 10, 4096, KernelVersion(4, 4, 0))
    assert [w.min_pages for w in got][2:] == [32, 128]  # 10000//1024 = 9 -> 32; 781 -> 128
    # lowmem_pages excludes HighMem: the lowmem zones share all of pages_min (948).
    assert sum(w.min_pages for w in got[:2]) in (947, 948)


def test_default_min_free_kbytes_cap_per_era_and_this_vm() -> None:
    huge = 1 << 40
    assert default_min_free_kbytes(huge, 4096, KernelVersion(5, 6, 0)) == 65536
    assert default_min_free_kbytes(huge, 4096, KernelVersion(5, 7, 0)) == 262144
    assert default_min_free_kbytes(0, 4096, KernelVersion(6, 1, 0)) == 128
    # docs/kernel.md#watermarks-checked-on-a-live-kernel, state B: sqrt default 10025 kB; THP's 67584 wins.
    free_buffer = nr_free_buffer_pages([("DMA", 3840, 60), ("DMA32", 772915, 12272),
                                        ("Normal", 819200, 13008), ("Movable", 0, 32)])
    assert default_min_free_kbytes(free_buffer, 4096, KernelVersion(6, 18, 0)) == 10025
    assert thp_recommended_min_free_kbytes(["DMA", "DMA32", "Normal"], free_buffer, 4096) == 67584


def test_thp_recommendation_is_capped_at_5_percent_of_lowmem() -> None:
    assert thp_recommended_min_free_kbytes(["DMA", "DMA32", "Normal"], 100000, 4096) == 100000 // 20 * 4
    assert thp_recommended_min_free_kbytes(["DMA", "Normal", "Movable"], 10**9, 4096) == 512 * 2 * 11 * 4


# ----------------------------------------------------------------------------------------
# The seed log (4.9, 2 nodes, 256 GB). Node 0's zone lines print managed pages; node 1's
# do not. show_mem() (lib/show_mem.c, 4.9) sums over every zone of every node:
#   "pages RAM" = Σ present,  "pages reserved" = Σ (present - managed)
# so Σ managed = 67019721 - 1120110 = 65899611 pages, and node 1 Normal managed =
# 65899611 - 3971 (DMA) - 365617 (DMA32) - 32502131 (Normal) = 33027892 pages
# (node 1 present = 67019721 - 3992 - 431153 - 33030144 = 33554432 = exactly 128 GiB).
#
# With those managed counts no min_free_kbytes reproduces node 0: the scale-factor
# distance low-min is 344 pages in DMA32 and 32500 in Normal, which with
# watermark_scale_factor 10 needs managed in [344000, 344999] and [32500000, 32500999],
# not the printed 365617 and 32502131. The watermarks were computed while the zones
# were smaller; memory freed to them later (initrd, init sections: adjust_managed_page_count)
# raises managed without recomputing watermarks. With the managed counts the distances
# imply, min_free_kbytes 90112..90119 kB (pages_min 22528) reproduces all nine numbers;
# 90112 kB is 88 MiB, a value an administrator would write.
# ----------------------------------------------------------------------------------------

SEED_NODE0 = {"DMA": (4, 16, 28), "DMA32": (468, 1844, 3220), "Normal": (44456, 174456, 304456)}


def _seed_numbers() -> dict[str, int]:
    text = SEED_LOG.read_text(errors="replace")
    out: dict[str, int] = {}
    for line in text.splitlines():
        for key in ("pages RAM", "pages reserved"):
            if line.rstrip().endswith(key):
                out[key] = int(line.split("]")[-1].split()[0])
        for zone in SEED_NODE0:
            if f"Node 0 {zone} free:" in line:
                fields = dict(f.split(":", 1) for f in line.split() if ":" in f and f.endswith("kB"))
                out[f"{zone}.managed"] = int(fields["managed"][:-2]) // 4
                out[f"{zone}.min_kb"] = int(fields["min"][:-2])
                out[f"{zone}.low_kb"] = int(fields["low"][:-2])
                out[f"{zone}.high_kb"] = int(fields["high"][:-2])
    return out


@pytest.fixture(scope="module")
def seed() -> dict[str, int]:
    if not SEED_LOG.exists():
        pytest.fail(f"{SEED_LOG} is missing: the seed log is part of the repository's corpus copy")
    return _seed_numbers()


def test_seed_log_numbers_and_node1_managed(seed: dict[str, int]) -> None:
    for zone, (wmin, low, high) in SEED_NODE0.items():
        assert (seed[f"{zone}.min_kb"], seed[f"{zone}.low_kb"], seed[f"{zone}.high_kb"]) == (wmin, low, high)
    total_managed = seed["pages RAM"] - seed["pages reserved"]
    node1 = total_managed - sum(seed[f"{z}.managed"] for z in SEED_NODE0)
    assert node1 == 33027892


def _seed_sizes(dma32: int, normal: int) -> list[ZoneSize]:
    return [ZoneSize(0, "DMA", 3971), ZoneSize(0, "DMA32", dma32), ZoneSize(0, "Normal", normal),
            ZoneSize(1, "Normal", 33027892)]


def _kb(zones: tuple[object, ...]) -> dict[str, tuple[int, int, int]]:
    return {w.zone: (w.min_pages * 4, w.low_pages * 4, w.high_pages * 4)  # type: ignore[attr-defined]
            for w in zones if w.node == 0}  # type: ignore[attr-defined]


@pytest.mark.parametrize("mfk", [90112, 90119])
@pytest.mark.parametrize(("dma32", "normal"), [(344000, 32500000), (344999, 32500999), (344500, 32500500)])
def test_seed_log_node0_reproduced(mfk: int, dma32: int, normal: int) -> None:
    got = compute_watermarks(_seed_sizes(dma32, normal), mfk, 10, 4096, KernelVersion(4, 9, 0))
    assert _kb(got) == SEED_NODE0


def test_seed_log_not_reproducible_with_the_printed_managed_counts() -> None:
    sizes = _seed_sizes(365617, 32502131)
    for pages_min in range(16000, 34000):
        got = _kb(compute_watermarks(sizes, pages_min * 4, 10, 4096, KernelVersion(4, 9, 0)))
        assert got["DMA32"] != SEED_NODE0["DMA32"]
    # ... while min alone is reproducible for DMA and Normal (22535 <= pages_min <= 22536).
    got = _kb(compute_watermarks(sizes, 22535 * 4, 10, 4096, KernelVersion(4, 9, 0)))
    assert (got["DMA"][0], got["Normal"][0]) == (4, 44456)


def test_a_zone_with_no_managed_pages_adds_nothing_to_the_default_min_free_kbytes() -> None:
    # nr_free_zone_pages() sums zone_managed_pages() - high: a zone whose pages are all
    # reserved (present > 0, managed 0) counts as nothing, exactly like an absent zone.
    state = load_state(open_root(str(ZONEINFO.parents[2] / "snapshots" / "x86_64-6.18-idle")))
    assert state.zoneinfo is not None and state.zoneinfo.zones[0].zone == "DMA"
    dma, *rest = state.zoneinfo.zones
    assert dma.present_pages > dma.high_pages
    reserved = replace(state, zoneinfo=replace(state.zoneinfo, zones=(replace(dma, managed_pages=0), *rest)))
    absent = replace(state, zoneinfo=replace(state.zoneinfo, zones=tuple(rest)))
    got, want = min_free_origin(reserved), min_free_origin(absent)
    assert got is not None and want is not None
    assert got.default_kbytes == want.default_kbytes
