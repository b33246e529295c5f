"""Unit conversions. The only place where pages, KiB and bytes are converted.

The page size is always passed explicitly: memstall never assumes 4096 (arm64 and ppc64
kernels run with 16 KiB or 64 KiB pages).
"""

from __future__ import annotations

MIB = 1024 * 1024


def page_shift(page_size: int) -> int:
    """log2 of the page size; raises ValueError for a size that is not a power of two.

    >>> page_shift(4096), page_shift(65536)
    (12, 16)
    >>> page_shift(6000)
    Traceback (most recent call last):
    ValueError: page size 6000 is not a power of two
    """
    if page_size <= 0 or page_size & (page_size - 1):
        raise ValueError(f"page size {page_size} is not a power of two")
    return page_size.bit_length() - 1


def pages_to_bytes(pages: int, page_size: int) -> int:
    """
    >>> pages_to_bytes(3, 4096), pages_to_bytes(3, 16384)
    (12288, 49152)
    """
    return pages * page_size


def pages_to_kib(pages: int, page_size: int) -> int:
    """
    >>> pages_to_kib(1 << 9, 4096), pages_to_kib(1, 65536)
    (2048, 64)
    """
    return pages * page_size // 1024


def kib_to_pages(kib: int, page_size: int) -> int:
    """KiB -> pages, truncating like the kernel's `x >> (PAGE_SHIFT - 10)`.

    >>> kib_to_pages(67584, 4096), kib_to_pages(67584, 65536), kib_to_pages(7, 4096)
    (16896, 1056, 1)
    """
    return kib >> (page_shift(page_size) - 10)


def pages_to_mib(pages: int, page_size: int, *, keep_small: bool = False) -> float:
    """Pages as MiB for a table, to 0.1 MiB; `keep_small`: to 0.001 MiB below 1 MiB, so that a
    few pages (the DMA zone's min watermark) do not show as 0.

    >>> pages_to_mib(256, 4096), pages_to_mib(300, 4096), pages_to_mib(1, 65536)
    (1.0, 1.2, 0.1)
    >>> pages_to_mib(25, 4096), pages_to_mib(25, 4096, keep_small=True)
    (0.1, 0.098)
    """
    mib = pages_to_bytes(pages, page_size) / MIB
    return round(mib, 3) if keep_small and abs(mib) < 1 else round(mib, 1)


def human_bytes(n: float) -> str:
    """Bytes with a binary unit, for text renderers only.

    >>> human_bytes(512), human_bytes(1536), human_bytes(3 * MIB), human_bytes(5 * 1024 ** 5)
    ('512 B', '1.5 KiB', '3.0 MiB', '5120.0 TiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
