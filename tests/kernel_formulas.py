"""The kernel's fragmentation formulas written out again, independently of memstall.

The golden-independence tests (test_golden_logs_independent.py, test_golden_snapshots_independent.py)
check memstall's numbers against these, so they must not import memstall's analysis code.
Source: mm/vmstat.c, fill_contig_page_info, __fragmentation_index, unusable_free_index
(unchanged from 2.6.35 to 6.x; docs/kernel.md).
"""

from __future__ import annotations


def contig(counts: list[int], order: int) -> tuple[int, int, int]:
    """fill_contig_page_info: (free_pages, free_blocks_total, free_blocks_suitable)."""
    free_pages = sum(n << k for k, n in enumerate(counts))
    suitable = sum(n << (k - order) for k, n in enumerate(counts) if k >= order)
    return free_pages, sum(counts), suitable


def fragmentation_milli(counts: list[int], order: int) -> int:
    """__fragmentation_index in thousandths; all divisions truncate (div_u64)."""
    free_pages, total, suitable = contig(counts, order)
    if total == 0:
        return 0
    if suitable > 0:
        return -1000
    return 1000 - (1000 + (free_pages * 1000) // (1 << order)) // total


def unusable_milli(counts: list[int], order: int) -> int:
    """unusable_free_index in thousandths."""
    free_pages, _, suitable = contig(counts, order)
    if free_pages == 0:
        return 1000
    return ((free_pages - (suitable << order)) * 1000) // free_pages
