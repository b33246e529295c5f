"""GFP bit layouts and %pGg name tables per kernel era (data for `analysis/gfp.py`).

Sources (docs/kernel.md#gfp-flags, docs/gfp.md and the kernel files read for this module):

* bit values: include/linux/gfp.h (gfp_types.h from 6.1) of each era, as listed in docs/gfp.md; the
  2.6.24-2.6.30 layout (`__GFP_MOVABLE` 0x100000 before Christoph Lameter's 2009 "GFP_MOVABLE
  as zone modifier" moved it to 0x08 for 2.6.31) from 2.6.2x gfp.h copies;
* name order: include/trace/events/mmflags.h `__def_gfpflag_names` — 4.6 (first %pGg list),
  4.13 (`__GFP_REPEAT` -> `__GFP_RETRY_MAYFAIL`), 4.15 (`__GFP_COLD`/`__GFP_NOTRACK` dropped),
  5.15 (`__GFP_ZEROTAGS`, `__GFP_SKIP_KASAN_POISON` appended), 6.x torvalds (single bits
  generated from `TRACE_GFP_FLAGS` in bit order, after `__GFP_RECLAIM`: commit ca29a0bf1221
  "tracing: gfp: Remove duplication of recording GFP flags", trace/for-next 2025-03 = 6.15,
  with Petr Mladek's `{ 0, NULL }` fix in the same cycle).

Kernels before 4.6 printed hex only (`mode:0x%x`); for them the names follow the 4.6
conventions applied to that era's bits and composite definitions (`__GFP_WAIT` sits after
`__GFP_HIGH`, as in the 3.x tracepoint table include/trace/events/gfpflags.h).

Bits that exist only with a kernel config option (NOLOCKDEP with LOCKDEP, SKIP_ZERO /
SKIP_KASAN* with KASAN_HW_TAGS from 5.18, NO_OBJ_EXT with SLAB_OBJ_EXT) are left out: a
kernel without the option has them as 0 and prints nothing for them; with the option, the
pre-6.15 lists did not name NOLOCKDEP either, so the kernel printed them as a hex remainder,
which is what the decoder does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Layout:
    """The GFP bit values of one era: `bits['KSWAPD_RECLAIM'] == 0x800` on 5.1+."""

    era: str
    since: Version
    bits: Mapping[str, int]

    def bit(self, key: str) -> int:
        return self.bits.get(key, 0)


def _seq(*names: str, start: int = 0) -> dict[str, int]:
    return {name: 1 << (start + i) for i, name in enumerate(names) if name}


# 2.6.24 - 2.6.30 (also used, approximately, for older 2.6 kernels: RECLAIMABLE and MOVABLE
# came in 2.6.24, and older kernels simply never set those bits).
_L2624 = {
    "DMA": 0x01, "HIGHMEM": 0x02, "DMA32": 0x04,
    **_seq("WAIT", "HIGH", "IO", "FS", "COLD", "NOWARN", "REPEAT", "NOFAIL", "NORETRY", start=4),
    "COMP": 0x4000, "ZERO": 0x8000, "NOMEMALLOC": 0x10000, "HARDWALL": 0x20000,
    "THISNODE": 0x40000, "RECLAIMABLE": 0x80000, "MOVABLE": 0x100000,
}

# 2.6.31 - 3.7: MOVABLE became a zone modifier (0x08). MEMALLOC 0x2000 (3.6), NOTRACK (kmemcheck,
# 2.6.31), NO_KSWAPD / OTHER_NODE (THP era, 2.6.38+), WRITE (3.2) -- an older kernel of the span
# never sets the bits it lacks, so one table serves the whole span.
_L2631 = {
    "DMA": 0x01, "HIGHMEM": 0x02, "DMA32": 0x04, "MOVABLE": 0x08,
    **_seq("WAIT", "HIGH", "IO", "FS", "COLD", "NOWARN", "REPEAT", "NOFAIL", "NORETRY",
           "MEMALLOC", "COMP", "ZERO", "NOMEMALLOC", "HARDWALL", "THISNODE", "RECLAIMABLE",
           start=4),
    "NOTRACK": 0x200000, "NO_KSWAPD": 0x400000, "OTHER_NODE": 0x800000, "WRITE": 0x1000000,
}

# 4.4: "mm, page_alloc: distinguish between being unable to sleep, unwilling to sleep and
# avoiding waking kswapd" (Mel Gorman): WAIT split into DIRECT_RECLAIM/KSWAPD_RECLAIM,
# RECLAIMABLE moved to 0x10, ATOMIC added.
_L44 = {
    "DMA": 0x01, "HIGHMEM": 0x02, "DMA32": 0x04, "MOVABLE": 0x08,
    **_seq("RECLAIMABLE", "HIGH", "IO", "FS", "COLD", "NOWARN", "REPEAT", "NOFAIL", "NORETRY",
           "MEMALLOC", "COMP", "ZERO", "NOMEMALLOC", "HARDWALL", "THISNODE", "ATOMIC",
           "NOACCOUNT", "NOTRACK", "DIRECT_RECLAIM", "OTHER_NODE", "WRITE", "KSWAPD_RECLAIM",
           start=4),
}
# 4.5: __GFP_NOACCOUNT replaced by __GFP_ACCOUNT (same bit).
_L45 = {("ACCOUNT" if k == "NOACCOUNT" else k): v for k, v in _L44.items()}
# 4.10: "mm: remove __GFP_OTHER_NODE" shifts WRITE and KSWAPD_RECLAIM down one bit
# (NOLOCKDEP 0x2000000 from 4.12, LOCKDEP only). COLD and NOTRACK stay allocated but unused
# from 4.15 until 4.18.
_L410 = {k: v for k, v in _L45.items() if k not in ("OTHER_NODE", "WRITE", "KSWAPD_RECLAIM")}
_L410.update({"WRITE": 0x800000, "KSWAPD_RECLAIM": 0x1000000})
# 4.18: Shakeel Butt "mm: save two stranding bit in gfp_mask" (NOLOCKDEP 0x800000, LOCKDEP only).
_L418 = {
    "DMA": 0x01, "HIGHMEM": 0x02, "DMA32": 0x04, "MOVABLE": 0x08,
    **_seq("RECLAIMABLE", "HIGH", "IO", "FS", "WRITE", "NOWARN", "REPEAT", "NOFAIL", "NORETRY",
           "MEMALLOC", "COMP", "ZERO", "NOMEMALLOC", "HARDWALL", "THISNODE", "ATOMIC",
           "ACCOUNT", "DIRECT_RECLAIM", "KSWAPD_RECLAIM", start=4),
}
# 5.1: Alexey Dobriyan "mm: shuffle GFP_* flags" (GFP_KERNEL = 0xcc0).
_L51 = {
    "DMA": 0x01, "HIGHMEM": 0x02, "DMA32": 0x04, "MOVABLE": 0x08,
    **_seq("RECLAIMABLE", "HIGH", "IO", "FS", "ZERO", "ATOMIC", "DIRECT_RECLAIM",
           "KSWAPD_RECLAIM", "WRITE", "NOWARN", "REPEAT", "NOFAIL", "NORETRY", "MEMALLOC",
           "COMP", "NOMEMALLOC", "HARDWALL", "THISNODE", "ACCOUNT", start=4),
}
# 5.13-5.17: ZEROTAGS and (unconditional) SKIP_KASAN_POISON; from 5.18 the KASAN bits exist
# only with KASAN_HW_TAGS. 6.3: "mm: discard __GFP_ATOMIC" leaves 0x200 unused.
_L513 = {**_L51, "ZEROTAGS": 0x800000, "SKIP_KASAN_POISON": 0x1000000}
_L518 = {**_L51, "ZEROTAGS": 0x800000}
_L63 = {k: v for k, v in _L518.items() if k != "ATOMIC"}

LAYOUTS: tuple[Layout, ...] = (
    Layout("<=2.6.30", (0, 0, 0), _L2624),
    Layout("2.6.31-3.7", (2, 6, 31), _L2631),
    Layout("3.8-3.15", (3, 8, 0), {**_L2631, "KMEMCG": 0x100000}),
    Layout("3.16-4.3", (3, 16, 0), {**_L2631, "NOACCOUNT": 0x100000}),  # NOACCOUNT from 4.1
    Layout("4.4", (4, 4, 0), _L44),
    Layout("4.5-4.9", (4, 5, 0), _L45),
    Layout("4.10-4.17", (4, 10, 0), _L410),
    Layout("4.18-5.0", (4, 18, 0), _L418),
    Layout("5.1-5.12", (5, 1, 0), _L51),
    Layout("5.13-5.17", (5, 13, 0), _L513),
    Layout("5.18-6.2", (5, 18, 0), _L518),
    Layout("6.3+", (6, 3, 0), _L63),
)

# Versions at which the printed name list changes; the candidates tried when guessing.
NAME_TABLE_VERSIONS: tuple[Version, ...] = (
    (2, 6, 24), (2, 6, 31), (2, 6, 38), (3, 8, 0), (3, 16, 0), (4, 4, 0), (4, 5, 0), (4, 6, 0),
    (4, 8, 0), (4, 10, 0), (4, 13, 0), (4, 14, 0), (4, 15, 0), (4, 18, 0), (5, 1, 0),
    (5, 13, 0), (5, 18, 0), (6, 3, 0), (6, 8, 0), (6, 15, 0),
)

# mmflags.h order of the single-bit names before 6.15. Entries absent from an era's layout or
# outside their version range are skipped. `__GFP_RECLAIM` is a composite but sits here.
SINGLE_ORDER_OLD: tuple[str, ...] = (
    "HIGH", "WAIT", "ATOMIC", "IO", "FS", "COLD", "NOWARN", "REPEAT", "NOFAIL", "NORETRY",
    "COMP", "ZERO", "NOMEMALLOC", "MEMALLOC", "HARDWALL", "THISNODE", "RECLAIMABLE", "MOVABLE",
    "KMEMCG", "NOACCOUNT", "ACCOUNT", "NOTRACK", "WRITE", "RECLAIM", "DIRECT_RECLAIM",
    "KSWAPD_RECLAIM", "NO_KSWAPD", "OTHER_NODE", "ZEROTAGS", "SKIP_KASAN_POISON",
)

# 6.15+: `__GFP_RECLAIM`, then TRACE_GFP_FLAGS_GENERAL in bit (enum) order.
SINGLE_ORDER_615: tuple[str, ...] = (
    "RECLAIM", "DMA", "HIGHMEM", "DMA32", "MOVABLE", "RECLAIMABLE", "HIGH", "IO", "FS", "ZERO",
    "DIRECT_RECLAIM", "KSWAPD_RECLAIM", "WRITE", "NOWARN", "REPEAT", "NOFAIL", "NORETRY",
    "MEMALLOC", "COMP", "NOMEMALLOC", "HARDWALL", "THISNODE", "ACCOUNT", "ZEROTAGS",
)

COMPOSITE_ORDER: tuple[str, ...] = (
    "GFP_TRANSHUGE", "GFP_TRANSHUGE_LIGHT", "GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER", "GFP_USER",
    "GFP_TEMPORARY", "GFP_KERNEL_ACCOUNT", "GFP_KERNEL", "GFP_NOFS", "GFP_ATOMIC", "GFP_NOIO",
    "GFP_NOWAIT", "GFP_DMA", "__GFP_HIGHMEM", "GFP_DMA32",
)
