"""Why an OOM report happened: a forced kill, a memory cgroup's limit, or the zones' watermarks.

For a machine-wide OOM the kernel's watermark check is replayed on the report's Mem-Info for
every zone the GFP mask may use, in zonelist order (a node's zones from the highest the mask
allows down to DMA; the local node comes first in the kernel, but a report does not say which
node is local, so nodes are listed in number order).

The check is `__zone_watermark_ok()` in mm/page_alloc.c, as of 4.4+ (97a16fc82a7c "mm,
page_alloc: only enforce watermarks for order-0 allocations", Mel Gorman):

    free_pages -= (1 << order) - 1
    if ALLOC_HIGH (__GFP_HIGH):  min -= min / 2
    if free_pages <= min + lowmem_reserve[highest_zoneidx]:  fail
    if order == 0:  pass
    pass if a free block of order..MAX_ORDER-1 is on an unmovable, movable or reclaimable list

2.6.x-4.3 instead required `free_pages > min >> k` after removing the blocks below each order
k; the order-0 part is the same. CMA pages, the high-atomic reserve and ALLOC_HARDER are not
in a Mem-Info in a usable form and are left out (docs/kernel.md#lowmem-reserve for the reserve).
The slow path checks the `min` watermark after reclaim; the OOM killer's own last attempt
(`__alloc_pages_may_oom()`, 2.6.x+) checks `high`, to catch a parallel kill. Both are given.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from memstall.model.kernlog import AllocEvent, BuddyLine, MemInfoDump, MemInfoZone

ZONE_ORDER = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")
"""enum zone_type in include/linux/mmzone.h; a kernel compiles in a subset (Normal and Movable always)."""

FORCED, MEMCG, EXHAUSTED, FRAGMENTED, ABOVE_MIN, UNKNOWN = (
    "forced", "memcg", "exhausted", "fragmented", "above_min", "unknown")


@dataclass(frozen=True)
class ZoneCheck:
    """One zone's replayed check. `margin_kb` > 0 passes the `min` watermark; `high_margin_kb`
    the `high` one; `block_ok` is None for order 0 or when no buddy line was printed."""

    node: int | None
    zone: str
    free_kb: int
    min_kb: int
    high_kb: int | None
    reserve_kb: int | None
    margin_kb: int
    high_margin_kb: int | None
    block_ok: bool | None

    @property
    def passes(self) -> bool:
        return self.margin_kb > 0 and self.block_ok is not False


@dataclass(frozen=True)
class OomCause:
    kind: str
    """forced, memcg, exhausted (every zone below min + reserve), fragmented (enough free
    pages but no free block of the order), above_min (a zone passed at the time of the dump),
    unknown (no Mem-Info with watermarks)."""
    highest_zone: str | None
    """gfp_zone() of the mask: the highest zone the allocation may use."""
    order: int | None
    checks: tuple[ZoneCheck, ...]
    page_kb: int
    memcg_path: str | None = None

    @property
    def first_failed(self) -> ZoneCheck | None:
        """The first zone of the zonelist that failed (the preferred zone, when it failed)."""
        return next((c for c in self.checks if not c.passes), None)


def _parse_nodes(text: str | None) -> set[int] | None:
    if not text or text == "(null)":
        return None
    nodes: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            return None
        nodes.update(range(int(lo), int(hi or lo) + 1))
    return nodes


def _violations(layout: Sequence[str], zones: Sequence[MemInfoZone]) -> int:
    """How badly the printed lowmem_reserve arrays disagree with a compiled zone layout:
    zone i's array is 0 up to i and grows at the next populated zone above it on its node."""
    idx = {name: k for k, name in enumerate(layout)}
    bad = 0
    for z in zones:
        r = z.lowmem_reserve
        if r is None or z.zone not in idx:
            continue
        i = idx[z.zone]
        bad += sum(1 for j in range(min(i + 1, len(r))) if r[j] != 0)
        above = [idx[o.zone] for o in zones if o.node == z.node and o.zone in idx and idx[o.zone] > i]
        if above and min(above) < len(r) and r[min(above)] == 0:
            bad += 1
    return bad


def zone_layout(zones: Sequence[MemInfoZone]) -> tuple[str, ...] | None:
    """The compiled zones (the lowmem_reserve array's columns), inferred from the printed zones
    and the arrays' length and zeros; None when the printed names are not all known."""
    lengths = [len(z.lowmem_reserve) for z in zones if z.lowmem_reserve is not None]
    names = {z.zone for z in zones}
    if not lengths or not names <= set(ZONE_ORDER):
        return None
    n = max(set(lengths), key=lengths.count)
    required = names | {"Normal", "Movable"}
    optional = [z for z in ZONE_ORDER if z not in required]
    best: tuple[int, tuple[str, ...]] | None = None
    for extra in itertools.combinations(optional, max(n - len(required), 0)):
        layout = tuple(z for z in ZONE_ORDER if z in required or z in extra)
        if len(layout) != n:
            continue
        score = _violations(layout, zones)
        if "DMA32" in layout and "HighMem" in layout and "HighMem" not in names:
            score += 1  # DMA32 is a 64-bit zone, HighMem a 32-bit one: prefer Device
        if best is None or score < best[0]:
            best = (score, layout)
    return best[1] if best else None


def has_free_block(buddy: BuddyLine, order: int) -> bool:
    """A free block of `order` or larger on an unmovable, movable or reclaimable list (types
    printed 3.8+; without them every block counts)."""
    for k in range(max(order, 0), len(buddy.counts or ())):
        types = buddy.types[k] if k < len(buddy.types) else ""
        if (buddy.counts or ())[k] > 0 and (not types or any(t in types for t in "UME")):
            return True
    return False


def _block_ok(buddy: BuddyLine | None, order: int) -> bool | None:
    if order <= 0 or buddy is None or buddy.counts is None:
        return None
    return has_free_block(buddy, order)


def _check(z: MemInfoZone, reserve_pages: int | None, order: int, high_flag: bool, page_kb: int,
           buddy: BuddyLine | None) -> ZoneCheck | None:
    if z.free_kb is None or z.min_kb is None:
        return None
    min_kb = z.min_kb - (z.min_kb // page_kb // 2) * page_kb if high_flag else z.min_kb
    reserve_kb = reserve_pages * page_kb if reserve_pages is not None else None
    extra_kb = ((1 << max(order, 0)) - 1) * page_kb
    margin = z.free_kb - extra_kb - (min_kb + (reserve_kb or 0))
    high = None if z.high_kb is None else z.free_kb - extra_kb - (z.high_kb + (reserve_kb or 0))
    return ZoneCheck(z.node, z.zone, z.free_kb, min_kb, z.high_kb, reserve_kb, margin, high,
                     _block_ok(buddy, order))


def replay_watermarks(dump: MemInfoDump, highest_zone: str, order: int, nodes: set[int] | None,
                      high_flag: bool = False) -> tuple[tuple[ZoneCheck, ...], int]:
    """Every zone the allocation may use, in zonelist order, with its replayed check."""
    page_kb = next((b.base_kb for b in dump.buddy if b.base_kb), None) or 4
    layout = zone_layout(dump.zones) or ZONE_ORDER
    idx = {name: k for k, name in enumerate(layout)}
    top = idx.get(highest_zone, idx.get("Normal", 2))  # no HighMem/DMA32 compiled: gfp_zone() gives Normal
    buddy = {(b.node, b.zone): b for b in dump.buddy}
    zones = [z for z in dump.zones if z.zone in idx and idx[z.zone] <= top
             and (nodes is None or z.node is None or z.node in nodes)]
    zones.sort(key=lambda z: (z.node if z.node is not None else -1, -idx[z.zone]))
    checks = []
    for z in zones:
        r = z.lowmem_reserve
        reserve = r[top] if r is not None and top < len(r) else (0 if idx[z.zone] == top else None)
        c = _check(z, reserve, order, high_flag, page_kb, buddy.get((z.node, z.zone)))
        if c is not None:
            checks.append(c)
    return tuple(checks), page_kb


def oom_cause(event: AllocEvent, highest_zone: str | None, high_flag: bool = False) -> OomCause:
    """Why this OOM report happened. `highest_zone` is gfp_zone() of its mask
    (analysis/gfp.py `gfp_zone_and_reclaim`), None when the mask could not be decoded."""
    order = event.order
    if order == -1:  # SysRq-f / moom_callback (drivers/tty/sysrq.c): an administrator's kill
        return OomCause(FORCED, highest_zone, order, (), 4)
    details = event.oom
    constraint = details.constraint.constraint if details and details.constraint else None
    if event.memcg or constraint == "CONSTRAINT_MEMCG":
        path = None
        if details is not None:
            path = ((details.constraint.oom_memcg if details.constraint else None)
                    or details.limit_of or details.stats_of)
        return OomCause(MEMCG, highest_zone, order, (), 4, memcg_path=path)
    dump = event.mem_info
    if dump is None or order is None:
        return OomCause(UNKNOWN, highest_zone, order, (), 4)
    nodes = _parse_nodes(event.nodemask) or _parse_nodes(event.mems_allowed)
    checks, page_kb = replay_watermarks(dump, highest_zone or "Normal", order, nodes, high_flag)
    if not checks:
        return OomCause(UNKNOWN, highest_zone, order, (), page_kb)
    if any(c.passes for c in checks):
        kind = ABOVE_MIN
    elif any(c.margin_kb > 0 for c in checks):
        kind = FRAGMENTED
    else:
        kind = EXHAUSTED
    return OomCause(kind, highest_zone, order, checks, page_kb)
