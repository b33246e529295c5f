"""The kernel's fragmentation index and unusable free space index, exactly.

Formulas from mm/vmstat.c (fill_contig_page_info, __fragmentation_index,
unusable_free_index, extfrag_for_order: docs/kernel.md#fragmentation-index), since 2.6.35 (Mel Gorman,
f1a5ab121057 / d7a5752c0c19); checked digit for digit against debugfs on 6.18
(tests/test_live_exactness.py). All arithmetic is unsigned 64-bit integer division in
the kernel; every value here is non-negative before the division, so Python's `//`
truncates the same way. Values are in thousandths ("milli"), like the kernel's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The kernel returns this when a free block of the requested order exists.
WOULD_SUCCEED = -1000


@dataclass(frozen=True)
class ContigInfo:
    """fill_contig_page_info() for one zone and order."""

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int


def contig_page_info(free_blocks: Sequence[int], order: int) -> ContigInfo:
    free_pages = 0
    total = 0
    suitable = 0
    for k, n in enumerate(free_blocks):
        total += n
        free_pages += n << k
        if k >= order:
            suitable += n << (k - order)
    return ContigInfo(free_pages, total, suitable)


def fragmentation_index_milli(free_blocks: Sequence[int], order: int) -> int:
    """__fragmentation_index(): -1000 (would succeed), else -999..1000; 0 = no free memory.

    >>> fragmentation_index_milli([50000] + [0] * 10, 10)
    1000
    >>> fragmentation_index_milli([0] * 9 + [1, 0], 10)
    -500
    """
    return _fragmentation_from(contig_page_info(free_blocks, order), order)


def _fragmentation_from(info: ContigInfo, order: int) -> int:
    if info.free_blocks_total == 0:
        return 0
    if info.free_blocks_suitable > 0:
        return WOULD_SUCCEED
    requested = 1 << order
    return 1000 - (1000 + (info.free_pages * 1000) // requested) // info.free_blocks_total


def unusable_index_milli(free_blocks: Sequence[int], order: int) -> int:
    """unusable_free_index(): share of free memory in blocks smaller than 2**order, 0..1000."""
    return _unusable_from(contig_page_info(free_blocks, order), order)


def _unusable_from(info: ContigInfo, order: int) -> int:
    if info.free_pages == 0:
        return 1000
    usable = info.free_blocks_suitable << order
    return ((info.free_pages - usable) * 1000) // info.free_pages


def contig_page_infos(free_blocks: Sequence[int]) -> list[ContigInfo]:
    """contig_page_info for every order, in one pass (suitable(o) = n_o + 2 * suitable(o + 1))."""
    total = sum(free_blocks)
    free_pages = sum(n << k for k, n in enumerate(free_blocks))
    out: list[ContigInfo] = []
    suitable = 0
    for n in reversed(free_blocks):
        suitable = n + 2 * suitable
        out.append(ContigInfo(free_pages, total, suitable))
    out.reverse()
    return out


def indices_per_order(free_blocks: Sequence[int]) -> list[tuple[int, int]]:
    """(unusable_index_milli, fragmentation_index_milli) for orders 0..len-1, in one pass.

    >>> indices_per_order([0] * 9 + [1, 0])[9:]
    [(0, -1000), (1000, -500)]
    """
    return [(_unusable_from(info, order), _fragmentation_from(info, order))
            for order, info in enumerate(contig_page_infos(free_blocks))]


def extfrag_for_order(free_blocks: Sequence[int], order: int) -> int:
    """extfrag_for_order() (5.9+, proactive compaction): the unusable index in percent."""
    info = contig_page_info(free_blocks, order)
    if info.free_pages == 0:
        return 0
    usable = info.free_blocks_suitable << order
    return ((info.free_pages - usable) * 100) // info.free_pages


def _c_divmod(value: int, by: int) -> tuple[int, int]:
    """C's truncating division and remainder (the remainder takes the dividend's sign)."""
    q = abs(value) // by
    q = q if value >= 0 else -q
    return q, value - q * by


def format_extfrag_milli(value: int) -> str:
    """How debugfs extfrag_index prints one value: C "%2d.%03d" with truncating division.

    >>> [format_extfrag_milli(v) for v in (-1000, 937, -500, 1000)]
    ['-1.000', ' 0.937', ' 0.-500', ' 1.000']
    """
    q, r = _c_divmod(value, 1000)
    return f"{q:2d}.{r:03d}"


def format_unusable_milli(value: int) -> str:
    """How debugfs unusable_index prints one value: C "%d.%03d"."""
    q, r = _c_divmod(value, 1000)
    return f"{q:d}.{r:03d}"


def fragmentation_indices(free_blocks: Sequence[int]) -> tuple[int, ...]:
    return tuple(fragmentation_index_milli(free_blocks, o) for o in range(len(free_blocks)))


def unusable_indices(free_blocks: Sequence[int]) -> tuple[int, ...]:
    return tuple(unusable_index_milli(free_blocks, o) for o in range(len(free_blocks)))
