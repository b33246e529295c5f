"""Watermarks of a SystemState: what the kernel reports beside what memstall computes.

Also tells where the host's min_free_kbytes comes from: the kernel's sqrt default, the
khugepaged (THP) recommendation, or a value somebody wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.watermarks import (
    ZoneSize,
    ZoneWatermarks,
    compute_watermarks,
    default_min_free_kbytes,
    nr_free_buffer_pages,
    pageblock_pages,
    thp_recommended_min_free_kbytes,
)
from memstall.model.kernel import KernelVersion
from memstall.model.state import SystemState
from memstall.model.zones import Zone, ZoneInfo


@dataclass(frozen=True)
class ZoneWatermarkRow:
    zone: Zone
    computed: ZoneWatermarks | None
    """None when min_free_kbytes or watermark_scale_factor could not be read."""
    inferred_boost_pages: int | None = None
    """A boost the kernel applied but zoneinfo did not print (see infer_boost_pages)."""

    @property
    def matches(self) -> bool | None:
        if self.computed is None:
            return None
        wmin, low, high, promo = self.zone.watermarks_without_boost()
        b = self.inferred_boost_pages or 0
        c = self.computed
        same = (wmin - b, low - b, high - b) == (c.min_pages, c.low_pages, c.high_pages)
        if promo is not None and c.promo_pages is not None:
            same = same and promo - b == c.promo_pages
        return same


# Kernels that boost watermarks (5.0+, docs/kernel.md#watermark-boost) but whose zoneinfo has no `boost`
# line add the boost to min/low/high silently. boost_watermark() raises it by a pageblock
# at a time up to max(pageblock, high * watermark_boost_factor / 10000), and never in a
# zone smaller than 4 pageblocks or with the factor 0.
def infer_boost_pages(zone: Zone, computed: ZoneWatermarks, boost_factor: int | None,
                      page_size: int, kernel: KernelVersion | None) -> int | None:
    """The boost that explains reported - computed, or None when none can.

    It must be the same for min, low and high (a boost raises all three alike), positive,
    and within what boost_watermark() allows: otherwise the difference is something else
    (watermarks computed when the zone had other managed pages: 'stale').
    """
    if zone.boost_pages is not None or (kernel is not None and not kernel.at_least(5, 0)):
        return None
    diffs = {zone.min_pages - computed.min_pages, zone.low_pages - computed.low_pages,
             zone.high_pages - computed.high_pages}
    if len(diffs) != 1:
        return None
    boost = diffs.pop()
    block = pageblock_pages(page_size)
    factor = 15000 if boost_factor is None else boost_factor  # the default since 5.0
    if boost <= 0 or factor == 0 or block * 4 > computed.managed_pages:
        return None
    limit = max(block, computed.high_pages * factor // 10000)
    return boost if boost <= limit else None


@dataclass(frozen=True)
class MinFreeOrigin:
    current_kbytes: int
    default_kbytes: int
    thp_recommended_kbytes: int | None
    """None when THP is off (never) or absent: khugepaged does not raise it then."""
    origin: str
    """'kernel default', 'THP recommendation' or 'set by an administrator'."""
    thp_enabled: bool | None = None
    """None: the THP settings were not captured, so whether khugepaged raised it is unknown."""
    thp_if_enabled_kbytes: int | None = None
    """What khugepaged would raise it to with THP enabled (also when that is unknown)."""


def zone_sizes(zoneinfo: ZoneInfo) -> list[ZoneSize]:
    return [ZoneSize(z.node, z.zone, z.managed_pages if z.managed_pages is not None
                     else z.present_pages) for z in zoneinfo.zones]


def watermark_rows(state: SystemState) -> list[ZoneWatermarkRow]:
    if state.zoneinfo is None:
        return []
    computed: tuple[ZoneWatermarks, ...] | None = None
    sysctl = state.sysctl_vm
    mfk = sysctl.int_value("min_free_kbytes") if sysctl else None
    wsf = sysctl.int_value("watermark_scale_factor") if sysctl else None
    if mfk is not None:
        # Before 4.6 there is no watermark_scale_factor; the formula ignores it there.
        computed = compute_watermarks(zone_sizes(state.zoneinfo), mfk, wsf or 10,
                                      state.page_size, state.kernel)
    boost_factor = sysctl.int_value("watermark_boost_factor") if sysctl else None
    rows = []
    for i, zone in enumerate(state.zoneinfo.zones):
        c = computed[i] if computed else None
        inferred = (infer_boost_pages(zone, c, boost_factor, state.page_size, state.kernel)
                    if c is not None else None)
        rows.append(ZoneWatermarkRow(zone, c, inferred))
    return rows


def min_free_origin(state: SystemState) -> MinFreeOrigin | None:
    if state.zoneinfo is None or state.sysctl_vm is None:
        return None
    current = state.sysctl_vm.int_value("min_free_kbytes")
    if current is None:
        return None
    zones = state.zoneinfo.zones
    free_buffer = nr_free_buffer_pages(
        (z.zone, size.managed_pages, z.watermarks_without_boost()[2])
        for z, size in zip(zones, zone_sizes(state.zoneinfo)))
    default = default_min_free_kbytes(free_buffer, state.page_size, state.kernel)
    # Absent is not off: without the THP files, THP may well be on (most distributions).
    thp_enabled: bool | None = False
    if state.thp is not None and state.thp.enabled is not None:
        thp_enabled = state.thp.enabled in ("always", "madvise")
    elif not state.absence_is_known:
        thp_enabled = None
    if_enabled = thp_recommended_min_free_kbytes([z.zone for z in zones if z.populated], free_buffer,
                                                 state.page_size)
    thp = if_enabled if thp_enabled else None
    expected = max(default, thp or 0)
    if current == if_enabled and thp_enabled is not False and if_enabled >= default:
        origin = "THP recommendation" + ("" if thp_enabled else
                                         " (THP assumed enabled: its settings were not captured)")
    elif current in (default, expected):
        origin = "kernel default"
    else:
        # The sqrt default is recomputed from the current high watermarks; within 1 %
        # is the same value computed at another moment (memory onlined since boot).
        origin = ("kernel default" if abs(current - default) * 100 <= default
                  else "set by an administrator")
    return MinFreeOrigin(current, default, thp, origin, thp_enabled, if_enabled)
