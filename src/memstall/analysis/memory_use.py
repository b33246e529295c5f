"""Where the memory is: page cache, dirty, slab, hugetlb, free — in pages, from meminfo.

/proc/meminfo is in kB; everything here is converted to pages with units.kib_to_pages
so rules compare like with like. `Hugetlb:` (4.16+) counts every hugepage size; older
kernels only print the default size's `HugePages_Total` x `Hugepagesize`.

`HugePages_Free` counts default-size pages, so its bytes need the default size. A meminfo
without `Hugepagesize` (hand-edited, or cut short) gets it inferred, with the reason said
(`hugepage_size_kib`); when it cannot be, the unused hugetlb memory is unknown (None), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.meminfo import HugePagePool, MemInfo
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
    hugetlb_free_pages: int | None
    """None: HugePages_Free is not 0 and the hugepage size is unknown (hugepage_size_kib)."""
    hugepage_size_note: str | None = None
    """How the hugepage size was inferred, or why it could not be (None: meminfo said it)."""

    @property
    def outside_hugetlb_pages(self) -> int:
        """What hugetlb leaves for everything else (page cache, anon, slab, free)."""
        return max(self.total_pages - self.hugetlb_pages, 0)


def _kib(m: MemInfo, name: str, page_size: int) -> int | None:
    value = m.kib(name)
    return None if value is None else kib_to_pages(value, page_size)


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _size_from_pools(total: int | None, pools: tuple[HugePagePool, ...]) -> tuple[int, str] | None:
    where = "sys/kernel/mm/hugepages"
    if len(pools) == 1:
        return pools[0].size_kib, f"the only hugepage size in {where}"
    matching = [p for p in pools if total is not None and p.nr_hugepages == total]
    if len(matching) == 1:
        return matching[0].size_kib, f"the size in {where} whose nr_hugepages equals HugePages_Total"
    return None


def hugepage_size_kib(m: MemInfo, pools: tuple[HugePagePool, ...] | None = None,
                      page_size: int = 4096) -> tuple[int | None, str | None]:
    """The default hugepage size in kB and, unless meminfo printed it, how it was inferred.

    Hugepagesize, else the sizes of sys/kernel/mm/hugepages (one size, or the one whose
    nr_hugepages is HugePages_Total), else Hugetlb / HugePages_Total when that is a power of
    two above the page size (exact while one size is in use). Else (None, why not).

    >>> hugepage_size_kib(MemInfo({"Hugetlb": 335544320}, {"HugePages_Total": 320}))[0]
    1048576
    """
    said = m.kib("Hugepagesize")
    if said is not None:
        return said, None
    total = m.count("HugePages_Total")
    found = _size_from_pools(total, pools) if pools else None
    if found is not None:
        return found[0], f"Hugepagesize absent from meminfo: {found[0]} kB, {found[1]}"
    all_sizes = m.kib("Hugetlb")
    if total and all_sizes is not None and all_sizes % total == 0:
        quotient = all_sizes // total
        if _power_of_two(quotient) and quotient * 1024 > page_size:
            return quotient, (f"Hugepagesize absent from meminfo: {quotient} kB inferred as "
                              "Hugetlb / HugePages_Total (one hugepage size in use assumed)")
    why = ["no sys/kernel/mm/hugepages in this root" if not pools
           else "no size in sys/kernel/mm/hugepages matches HugePages_Total",
           "HugePages_Total is 0" if not total else "no Hugetlb line" if all_sizes is None
           else "Hugetlb / HugePages_Total is not a hugepage size"]
    return None, (f"Hugepagesize absent from meminfo and not inferable ({'; '.join(why)}): "
                  "unused hugetlb memory unknown")


def _hugetlb(m: MemInfo, page_size: int,
             pools: tuple[HugePagePool, ...] | None) -> tuple[int, int | None, str | None]:
    """(reserved pages, unused pages or None, how the size was inferred)."""
    size_kib, note = hugepage_size_kib(m, pools, page_size)
    total = m.count("HugePages_Total") or 0
    free = m.count("HugePages_Free") or 0
    all_sizes = m.kib("Hugetlb")
    if all_sizes is not None:
        total_pages = kib_to_pages(all_sizes, page_size)
    else:
        total_pages = kib_to_pages(total * (size_kib or 0), page_size)
    if free == 0:
        return total_pages, 0, None  # no unused default-size page, whatever their size
    if size_kib is None:
        return total_pages, None, note
    return total_pages, kib_to_pages(free * size_kib, page_size), note


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


def memory_use(m: MemInfo | None, page_size: int,
               hugepages: tuple[HugePagePool, ...] | None = None) -> MemoryUse | None:
    """None when meminfo is missing or lacks MemTotal. `hugepages` (SystemState.hugepages)
    helps infer the hugepage size when meminfo lacks Hugepagesize."""
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
    hugetlb, hugetlb_free, size_note = _hugetlb(m, page_size, hugepages)
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
        hugepage_size_note=size_note,
    )
