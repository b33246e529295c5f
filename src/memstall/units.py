"""Unit conversions. The only place where pages, KiB and bytes are converted.

The page size is always passed explicitly: memstall never assumes 4096 (arm64 and ppc64
kernels run with 16 KiB or 64 KiB pages).
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def page_shift(page_size: int) -> int:
    """log2 of the page size; raises ValueError for a size that is not a power of two."""
    if page_size <= 0 or page_size & (page_size - 1):
        raise ValueError(f"page size {page_size} is not a power of two")
    return page_size.bit_length() - 1


def pages_to_bytes(pages: int, page_size: int) -> int:
    return pages * page_size


def pages_to_kib(pages: int, page_size: int) -> int:
    return pages * page_size // KIB


def kib_to_pages(kib: int, page_size: int) -> int:
    """KiB -> pages, truncating like the kernel's `x >> (PAGE_SHIFT - 10)`."""
    return kib >> (page_shift(page_size) - 10)


def kib_to_bytes(kib: int) -> int:
    return kib * KIB


def bytes_to_mib(n: int) -> float:
    return n / MIB


def bytes_to_gib(n: int) -> float:
    return n / GIB


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; used by text renderers only."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
