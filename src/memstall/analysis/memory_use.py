"""Where the memory is: page cache, dirty, slab, hugetlb, free — in pages, from meminfo.

/proc/meminfo is in kB; everything here is converted to pages with units.kib_to_pages
so rules compare like with like. `Hugetlb:` (4.16+) counts every hugepage size; older
kernels only print the default size's `HugePages_Total` x `Hugepagesize`.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.meminfo import MemInfo
from memstall.units import kib_to_pages


@dataclass(frozen=True)
class MemoryUse:
    total_pages: int
    free_pages: int
    file_pages: int
    """Active(file) + Inactive(file): the reclaimable page cache on the LRU."""
    inactive_file_pages: int | None
    dirty_pages: int
    writeback_pages: int
    slab_reclaimable_pages: int | None
    hugetlb_pages: int
    hugetlb_free_pages: int

    @property
    def outside_hugetlb_pages(self) -> int:
        """What hugetlb leaves for everything else (page cache, anon, slab, free)."""
        return max(self.total_pages - self.hugetlb_pages, 0)


def _kib(m: MemInfo, name: str, page_size: int) -> int | None:
    value = m.kib(name)
    return None if value is None else kib_to_pages(value, page_size)


def _hugetlb(m: MemInfo, page_size: int) -> tuple[int, int]:
    size_kib = m.kib("Hugepagesize") or 0
    total = m.count("HugePages_Total") or 0
    free = m.count("HugePages_Free") or 0
    all_sizes = m.kib("Hugetlb")
    total_pages = (kib_to_pages(all_sizes, page_size) if all_sizes is not None
                   else kib_to_pages(total * size_kib, page_size))
    return total_pages, kib_to_pages(free * size_kib, page_size)


def hugetlb_assumption(m: MemInfo | None) -> str | None:
    """The note when hugetlb reservations cannot be read and none are assumed.

    >>> hugetlb_assumption(MemInfo({"MemTotal": 1}, {"HugePages_Total": 4}))
    'hugetlb reservations unknown (meminfo has HugePages_Total but no Hugepagesize or Hugetlb): none assumed'
    """
    if m is None:
        return "hugetlb reservations unknown (no meminfo): none assumed"
    if m.kib("Hugetlb") is not None or (m.kib("Hugepagesize") is not None
                                         and m.count("HugePages_Total") is not None):
        return None
    if m.count("HugePages_Total"):
        return ("hugetlb reservations unknown (meminfo has HugePages_Total but no Hugepagesize "
                "or Hugetlb): none assumed")
    if m.count("HugePages_Total") is None:
        return "hugetlb reservations unknown (meminfo has no HugePages lines): none assumed"
    return None


def memory_use(m: MemInfo | None, page_size: int) -> MemoryUse | None:
    """None when meminfo is missing or lacks MemTotal."""
    if m is None:
        return None
    total = _kib(m, "MemTotal", page_size)
    if total is None:
        return None
    active = _kib(m, "Active(file)", page_size)
    inactive = _kib(m, "Inactive(file)", page_size)
    if active is not None and inactive is not None:
        file_pages = active + inactive
    else:
        file_pages = _kib(m, "Cached", page_size) or 0
    hugetlb, hugetlb_free = _hugetlb(m, page_size)
    return MemoryUse(
        total_pages=total,
        free_pages=_kib(m, "MemFree", page_size) or 0,
        file_pages=file_pages,
        inactive_file_pages=inactive,
        dirty_pages=_kib(m, "Dirty", page_size) or 0,
        writeback_pages=_kib(m, "Writeback", page_size) or 0,
        slab_reclaimable_pages=_kib(m, "SReclaimable", page_size),
        hugetlb_pages=hugetlb,
        hugetlb_free_pages=hugetlb_free,
    )
