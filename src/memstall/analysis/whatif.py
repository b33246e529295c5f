"""What a change of vm.min_free_kbytes / vm.watermark_scale_factor does to every zone.

Before: the watermarks the kernel reports (boost removed), or for a zone a log does
not print, the estimate from zone_estimate. After: __setup_per_zone_wmarks() with the
new settings (analysis/watermarks.py, exact per kernel era). kswapd keeps free memory
between low and high once woken, so the host-wide low->high band is the free memory the
change makes the kernel hold back from the page cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memstall.analysis.memory_use import hugetlb_assumption, memory_use
from memstall.analysis.watermarks import ZoneWatermarks, compute_watermarks
from memstall.analysis.zone_estimate import Settings, ZoneEntry, current_settings, sizes, zone_entries
from memstall.analysis.zone_watermarks import infer_boost_pages
from memstall.model.kernel import KernelVersion
from memstall.model.state import SystemState
from memstall.units import pages_to_bytes

SETTINGS = ("vm.min_free_kbytes", "vm.watermark_scale_factor")


@dataclass(frozen=True)
class Marks:
    min_pages: int
    low_pages: int
    high_pages: int


@dataclass(frozen=True)
class ZoneChange:
    node: int
    zone: str
    managed_pages: int
    free_pages: int | None
    before: Marks
    after: Marks
    estimated: bool
    populated: bool = True
    """False for an empty zone: shown as the kernel prints it, left out of the host totals."""

    @property
    def subject(self) -> str:
        return f"node{self.node}/{self.zone}"


@dataclass(frozen=True)
class WhatIf:
    zones: tuple[ZoneChange, ...]
    current: Settings
    proposed: Settings
    page_size: int
    ram_pages: int
    """Σ managed pages (estimates included): what 'share of RAM' is relative to."""
    hugetlb_pages: int = 0
    """Pages reserved for hugetlb (meminfo): the page cache can only use the rest."""
    notes: tuple[str, ...] = ()
    """What the prediction assumed (hugetlb reservations unknown...)."""

    def total(self, which: str) -> Marks:
        """Σ over the zones that hold memory (an empty zone's watermarks guard nothing)."""
        marks = [getattr(z, which) for z in self.zones if z.populated]
        return Marks(sum(m.min_pages for m in marks), sum(m.low_pages for m in marks),
                     sum(m.high_pages for m in marks))

    def bytes_of(self, pages: int) -> int:
        return pages_to_bytes(pages, self.page_size)

    @property
    def withheld_pages(self) -> int:
        """Extra free memory kswapd holds at most (high after - high before), >= 0 or < 0."""
        return self.total("after").high_pages - self.total("before").high_pages

    @property
    def withheld_ratio(self) -> float:
        return self.withheld_pages / self.ram_pages if self.ram_pages else 0.0

    @property
    def estimated(self) -> bool:
        return any(z.estimated for z in self.zones)


class WhatIfUnavailable(ValueError):
    """The source has no zone sizes or settings to compute from."""


def what_if(state: SystemState, changes: Mapping[str, int], kernel: KernelVersion | None = None,
            managed_total_pages: int | None = None) -> WhatIf:
    """Watermarks before/after `changes` ({'vm.watermark_scale_factor': 500, ...})."""
    kernel = kernel or state.kernel
    entries = zone_entries(state, managed_total_pages)
    if not entries:
        raise WhatIfUnavailable("no zone sizes (zoneinfo or a Mem-Info with zone lines) to compute from")
    current = current_settings(state, entries, kernel)
    if current is None:
        # Name what is missing: the sysctl file, and the zoneinfo watermarks it could be
        # inferred from (a root with buddyinfo but no zoneinfo has estimated zone sizes only).
        raise WhatIfUnavailable("vm.min_free_kbytes is neither readable (proc/sys/vm/min_free_kbytes: "
                                f"{state.unavailable.get('proc/sys/vm', 'not read')}) nor inferable from "
                                "watermarks (proc/zoneinfo: "
                                f"{state.unavailable.get('proc/zoneinfo', 'no watermarks in it')})")
    proposed = Settings(changes.get("vm.min_free_kbytes", current.min_free_kbytes),
                        changes.get("vm.watermark_scale_factor", current.watermark_scale_factor))
    now = compute_watermarks(sizes(entries), current.min_free_kbytes, current.watermark_scale_factor,
                             state.page_size, kernel)
    new = compute_watermarks(sizes(entries), proposed.min_free_kbytes,
                             proposed.watermark_scale_factor, state.page_size, kernel)
    per_zone = [_zone_change(state, entry, cur, after, kernel)
                for entry, cur, after in zip(entries, now, new)]
    zones = [z for z, _ in per_zone]
    boosted = [note for _, note in per_zone if note]
    use = memory_use(state.meminfo, state.page_size)
    assumed = hugetlb_assumption(state.meminfo)
    return WhatIf(tuple(zones), current, proposed, state.page_size,
                  sum(e.managed_pages for e in entries), use.hugetlb_pages if use else 0,
                  (*boosted, *([assumed] if assumed else [])))


def _zone_change(state: SystemState, entry: ZoneEntry, cur: ZoneWatermarks, after: ZoneWatermarks,
                 kernel: KernelVersion | None) -> tuple[ZoneChange, str | None]:
    """One zone before (as reported, boost removed, even a boost zoneinfo did not print)
    and after; with the note when a boost was inferred."""
    before = (Marks(*entry.reported) if entry.reported is not None
              else Marks(cur.min_pages, cur.low_pages, cur.high_pages))
    predicted = Marks(after.min_pages, after.low_pages, after.high_pages)
    note = None
    if entry.managed_pages == 0 and entry.reported is not None:
        # No managed pages: min_free_kbytes and watermark_scale_factor scale nothing, so
        # the kernel keeps what it prints (0/0/0, or clamp(0, SWAP_CLUSTER_MAX, 128) =
        # 32/32/32 for HighMem, and Movable where it is treated alike).
        predicted = before
    zone = state.zoneinfo.zone(entry.node, entry.zone) if state.zoneinfo else None
    sysctl = state.sysctl_vm
    boost = (infer_boost_pages(zone, cur, sysctl.int_value("watermark_boost_factor") if sysctl else None,
                               state.page_size, kernel)
             if zone is not None and entry.reported is not None and entry.managed_pages else None)
    if boost:
        before = Marks(before.min_pages - boost, before.low_pages - boost, before.high_pages - boost)
        note = (f"node{entry.node}/{entry.zone}: watermarks boosted by {boost} pages (inferred: "
                "zoneinfo prints no boost line); 'before' has the boost removed")
    change = ZoneChange(entry.node, entry.zone, entry.managed_pages, entry.free_pages, before,
                        predicted, entry.estimated, entry.populated)
    return change, note

