"""/proc/pagetypeinfo model: free blocks per migrate type and pageblock types per zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MigrateFreeAreas:
    """Free blocks per order of one migrate type in one zone.

    Since 5.4 ("mm, vmstat: reduce zone->lock holding time by /proc/pagetypeinfo") the
    kernel stops counting at 100000 blocks and prints `>100000`; those orders are listed
    in `capped_orders` and their count is a lower bound (docs/kernel.md#pagetypeinfo).
    """

    node: int
    zone: str
    migrate_type: str
    free_blocks: tuple[int, ...]
    capped_orders: tuple[int, ...] = ()


@dataclass(frozen=True)
class ZoneBlockCounts:
    """Number of pageblocks of each migrate type in one zone (kernel's column names)."""

    node: int
    zone: str
    blocks: Mapping[str, int]


@dataclass(frozen=True)
class PageTypeInfo:
    page_block_order: int
    pages_per_block: int
    free: tuple[MigrateFreeAreas, ...]
    blocks: tuple[ZoneBlockCounts, ...]
    mixed_blocks: tuple[ZoneBlockCounts, ...] = field(default=())
    """`Number of mixed blocks` (CONFIG_PAGE_OWNER with page_owner=on only)."""

    def free_of(self, node: int, zone: str, migrate_type: str) -> MigrateFreeAreas | None:
        return next((f for f in self.free if (f.node, f.zone, f.migrate_type)
                     == (node, zone, migrate_type)), None)
