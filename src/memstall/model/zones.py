"""/proc/zoneinfo model (also built from a kernel log's Mem-Info zone lines)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

# Zones the kernel treats like highmem when setting watermarks (see analysis/watermarks.py).
HIGHMEM_ZONES = frozenset({"HighMem"})
MOVABLE_ZONES = frozenset({"Movable"})


@dataclass(frozen=True)
class Zone:
    """One `Node N, zone NAME` block. Watermarks as printed: they include `boost_pages`.

    `None` means the kernel did not print the field (boost: < 5.16; promo: < 6.12;
    managed: < 3.8; cma: without CONFIG_CMA; docs/kernel.md#zoneinfo).
    """

    node: int
    zone: str
    free_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    spanned_pages: int
    present_pages: int
    managed_pages: int | None
    boost_pages: int | None = None
    promo_pages: int | None = None
    cma_pages: int | None = None
    protection_pages: tuple[int, ...] = ()
    counters: Mapping[str, int] = field(default_factory=dict)
    """nr_* and numa_* lines of the zone (gauges and counters as the kernel names them)."""
    extra: Mapping[str, int] = field(default_factory=dict)
    """Trailer lines such as `start_pfn`, `node_unreclaimable`, `vm stats threshold`."""

    @property
    def subject(self) -> str:
        return f"node{self.node}/{self.zone}"

    @property
    def populated(self) -> bool:
        return self.present_pages > 0

    def watermarks_without_boost(self) -> tuple[int, int, int, int | None]:
        """min/low/high/promo minus the boost, i.e. what __setup_per_zone_wmarks computed."""
        b = self.boost_pages or 0
        promo = None if self.promo_pages is None else self.promo_pages - b
        return self.min_pages - b, self.low_pages - b, self.high_pages - b, promo


@dataclass(frozen=True)
class NodeStats:
    """The `per-node stats` block (4.8+): node-wide LRU and page-cache counters."""

    node: int
    counters: Mapping[str, int]


@dataclass(frozen=True)
class ZoneInfo:
    zones: tuple[Zone, ...]
    nodes: tuple[NodeStats, ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()
    """(line number, line) of the lines of a shape the parser does not know, left out."""

    def zone(self, node: int, name: str) -> Zone | None:
        return self.by_key.get((node, name))

    @cached_property
    def by_key(self) -> dict[tuple[int, str], Zone]:
        """(node, zone) -> Zone, built on the first look-up: the rules look zones up in every
        earlier state of the history on every tick. The first block wins, as a scan would."""
        index: dict[tuple[int, str], Zone] = {}
        for z in self.zones:
            index.setdefault((z.node, z.zone), z)
        return index

    @property
    def node_ids(self) -> tuple[int, ...]:
        return tuple(sorted({z.node for z in self.zones}))
