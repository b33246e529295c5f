"""Fill in what a kernel log leaves out: zones without a zone line, and the settings.

A Mem-Info dump can lack zone lines (the 4.9 seed log prints them for node 0 only:
node 1 appears in its buddy line alone). The missing zone's managed size is estimated
as what is left of the host's managed total (pages RAM - pages reserved, or MemTotal)
after the zones that were printed, split evenly between the missing zones; its
watermarks are then computed with the inferred settings. Everything estimated is
marked so: never shown as measured.

The settings themselves (min_free_kbytes, watermark_scale_factor) are read from the
sysctls when the source has them, otherwise inferred back from the printed watermarks.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.watermarks import (
    ZoneSize,
    default_min_free_kbytes,
    nr_free_buffer_pages,
    thp_recommended_min_free_kbytes,
)
from memstall.model.kernel import KernelVersion
from memstall.model.state import SystemState
from memstall.model.zones import HIGHMEM_ZONES, MOVABLE_ZONES, Zone

DEFAULT_WSF = 10


@dataclass(frozen=True)
class ZoneEntry:
    node: int
    zone: str
    managed_pages: int
    free_pages: int | None
    reported: tuple[int, int, int] | None
    """min/low/high as reported, boost removed; None for an estimated zone."""
    estimated: bool
    populated: bool = True
    """False for a zone with no present pages (an empty Movable zone): the kernel prints
    and computes its watermarks, but it holds no memory and kswapd never balances it."""


@dataclass(frozen=True)
class Settings:
    min_free_kbytes: int
    watermark_scale_factor: int
    inferred: tuple[str, ...] = ()
    """Names of the settings inferred from watermarks rather than read."""


def _lowmem(name: str) -> bool:
    return name not in HIGHMEM_ZONES and name not in MOVABLE_ZONES


def _known(zone: Zone) -> ZoneEntry:
    wmin, low, high, _ = zone.watermarks_without_boost()
    managed = zone.managed_pages if zone.managed_pages is not None else zone.present_pages
    return ZoneEntry(zone.node, zone.zone, managed, zone.free_pages, (wmin, low, high), False,
                     zone.populated)


def zone_entries(state: SystemState, managed_total_pages: int | None = None) -> tuple[ZoneEntry, ...]:
    """Every zone the state prints plus estimates for zones only the buddy lines show.

    Empty zones (no present pages) are kept: the kernel prints watermarks for them too.
    `managed_total_pages` defaults to MemTotal (which is Σ managed).
    """
    zoneinfo = state.zoneinfo
    known = [_known(z) for z in (zoneinfo.zones if zoneinfo else ())]
    seen = {(e.node, e.zone) for e in known}
    missing = [z for z in (state.buddyinfo.zones if state.buddyinfo else ())
               if (z.node, z.zone) not in seen]
    if managed_total_pages is None and state.meminfo is not None:
        total_kib = state.meminfo.kib("MemTotal")
        managed_total_pages = None if total_kib is None else total_kib * 1024 // state.page_size
    left = (managed_total_pages or 0) - sum(e.managed_pages for e in known)
    if not missing or left <= 0:
        return tuple(known)
    share = left // len(missing)
    guessed = [ZoneEntry(z.node, z.zone, share, z.free_pages, None, True) for z in missing]
    return tuple(sorted(known + guessed, key=lambda e: (e.node, e.zone != "DMA", e.zone != "DMA32")))


def sizes(entries: tuple[ZoneEntry, ...]) -> list[ZoneSize]:
    return [ZoneSize(e.node, e.zone, e.managed_pages) for e in entries]


def _infer_min_free_kbytes(entries: tuple[ZoneEntry, ...], page_size: int) -> int:
    """pages_min from the largest reported lowmem zone: min_i = pages_min * managed_i / lowmem."""
    lowmem = sum(e.managed_pages for e in entries if _lowmem(e.zone))
    ref = max((e for e in entries if e.reported and _lowmem(e.zone) and e.managed_pages),
              key=lambda e: e.managed_pages, default=None)
    if ref is None or ref.reported is None or not lowmem:
        return 0
    pages_min = round(ref.reported[0] * lowmem / ref.managed_pages)
    estimate = pages_min * page_size // 1024
    # The kernel's own candidates, recomputed from the (partly estimated) sizes: when one is
    # within 0.1 % the printed watermarks came from it (managed drifts after boot).
    names = [e.zone for e in entries if e.managed_pages]
    free_buffer = nr_free_buffer_pages((e.zone, e.managed_pages, e.reported[2] if e.reported else 0)
                                       for e in entries)
    for candidate in (thp_recommended_min_free_kbytes(names, free_buffer, page_size),
                      default_min_free_kbytes(free_buffer, page_size, None)):
        if abs(candidate - estimate) * 1000 <= candidate:
            return candidate
    return estimate


def _infer_wsf(entries: tuple[ZoneEntry, ...]) -> int | None:
    """d = low - min = max(min/4, managed*wsf/10000): readable only where the wsf term wins."""
    best: int | None = None
    for e in sorted(entries, key=lambda e: -e.managed_pages):
        if e.reported is None or not _lowmem(e.zone) or not e.managed_pages:
            continue
        wmin, low, _ = e.reported
        d = low - wmin
        if d > (wmin >> 2) + 1:
            best = max(1, round(d * 10000 / e.managed_pages))
            break
    return best


def current_settings(state: SystemState, entries: tuple[ZoneEntry, ...],
                     kernel: KernelVersion | None) -> Settings | None:
    """The sysctls when read, else inferred from the printed watermarks (None: no way)."""
    sysctl = state.sysctl_vm
    mfk = sysctl.int_value("min_free_kbytes") if sysctl else None
    wsf = sysctl.int_value("watermark_scale_factor") if sysctl else None
    inferred: list[str] = []
    if mfk is None:
        mfk = _infer_min_free_kbytes(entries, state.page_size)
        if not mfk:
            return None
        inferred.append("vm.min_free_kbytes")
    if wsf is None:
        wsf = _infer_wsf(entries)
        if wsf is None:
            wsf = DEFAULT_WSF
        # Before 4.6 the sysctl does not exist; nothing was inferred then.
        if kernel is None or kernel.at_least(4, 6):
            inferred.append("vm.watermark_scale_factor")
    return Settings(mfk, wsf, tuple(inferred))
