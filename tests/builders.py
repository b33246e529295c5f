"""Small builders of model objects for rule and analysis tests (no files touched).

Every builder returns the real frozen model classes; defaults describe a healthy
one-node 4 KiB-page host so a test only states what its case is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from memstall.analysis.rates import Rates
from memstall.analysis.watermarks import ZoneSize, compute_watermarks
from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.model.kernel import KernelVersion
from memstall.model.kernlog import AllocEvent
from memstall.model.kthreads import KThreadStat
from memstall.model.meminfo import MemInfo
from memstall.model.pressure import Pressure, PressureLine
from memstall.model.state import SystemState
from memstall.model.sysctl import SysctlVm
from memstall.model.thp import ThpSettings
from memstall.model.vmstat import VmStat
from memstall.model.zones import Zone, ZoneInfo
from memstall.rules import Inputs

GIB_PAGES = 262144  # 1 GiB in 4 KiB pages


def zone(node: int = 0, name: str = "Normal", *, free: int = 500_000, min_: int = 10_000,
         low: int = 12_500, high: int = 15_000, managed: int = 4 * GIB_PAGES,
         boost: int | None = None) -> Zone:
    return Zone(node=node, zone=name, free_pages=free, min_pages=min_, low_pages=low,
                high_pages=high, spanned_pages=managed, present_pages=managed,
                managed_pages=managed, boost_pages=boost)


def zoneinfo(*zones: Zone) -> ZoneInfo:
    return ZoneInfo(zones=zones or (zone(),))


def formula_zones(sizes: Sequence[tuple[int, str, int]], min_free_kbytes: int, wsf: int,
                  kernel: KernelVersion | None = None, page_size: int = 4096,
                  free: int = 0) -> ZoneInfo:
    """Zones whose watermarks are exactly what the kernel computes for these settings."""
    marks = compute_watermarks([ZoneSize(n, z, m) for n, z, m in sizes], min_free_kbytes, wsf,
                               page_size, kernel)
    return ZoneInfo(zones=tuple(
        Zone(node=w.node, zone=w.zone, free_pages=free, min_pages=w.min_pages, low_pages=w.low_pages,
             high_pages=w.high_pages, spanned_pages=w.managed_pages, present_pages=w.managed_pages,
             managed_pages=w.managed_pages, promo_pages=w.promo_pages) for w in marks))


def buddy(*zones: tuple[int, str, Sequence[int]]) -> BuddyInfo:
    return BuddyInfo(zones=tuple(ZoneFreeAreas(n, z, tuple(blocks)) for n, z, blocks in zones))


def meminfo(counts: Mapping[str, int] | None = None, **kib: int) -> MemInfo:
    """meminfo(MemTotal=..., ...): `(file)` names are passed as Active_file / Inactive_file."""
    fields = {k.replace("_file", "(file)"): v for k, v in kib.items()}
    base = {"MemTotal": 16 * 1024 * 1024, "MemFree": 8 * 1024 * 1024, "Active(file)": 1024 * 1024,
            "Inactive(file)": 1024 * 1024, "Dirty": 1024, "Writeback": 0, "SReclaimable": 100 * 1024,
            "Hugepagesize": 2048}
    base.update(fields)
    return MemInfo(fields_kib=base, counts=dict(counts or {"HugePages_Total": 0, "HugePages_Free": 0}))


def sysctl(**values: int | str) -> SysctlVm:
    base: dict[str, str] = {"min_free_kbytes": "67584", "watermark_scale_factor": "10",
                            "extfrag_threshold": "500", "vfs_cache_pressure": "100",
                            "watermark_boost_factor": "15000", "compaction_proactiveness": "20",
                            "zone_reclaim_mode": "0", "dirty_background_bytes": "0",
                            "dirty_bytes": "0", "dirty_ratio": "20", "dirty_background_ratio": "10"}
    base.update({k: str(v) for k, v in values.items()})
    return SysctlVm(values=base)


def psi(some10: float = 0.0, full10: float = 0.0) -> Pressure:
    return Pressure(some=PressureLine(some10, some10, some10, 0),
                    full=PressureLine(full10, full10, full10, 0))


def kthread(comm: str, ticks: int = 0) -> KThreadStat:
    return KThreadStat(pid=100, comm=comm, state="S", utime_ticks=0, stime_ticks=ticks,
                       starttime_ticks=1)


def rates(interval: float = 5.0, kthreads: Mapping[str, float] | None = None,
          psi_some: float | None = None, psi_full: float | None = None, **per_second: float) -> Rates:
    return Rates(interval_seconds=interval, per_second=dict(per_second), resets=(),
                 kthread_cpu_ratio=dict(kthreads or {}), psi_some_ratio=psi_some,
                 psi_full_ratio=psi_full)


def state(**parts: object) -> SystemState:
    """A healthy host; override any SystemState field by keyword."""
    base = SystemState(source="test", kernel_release="6.1.0", zoneinfo=zoneinfo(),
                       buddyinfo=buddy((0, "Normal", [100] * 11)), meminfo=meminfo(),
                       vmstat=VmStat({"compact_stall": 0, "compact_fail": 0, "compact_success": 0}),
                       psi_memory=psi(), sysctl_vm=sysctl(),
                       thp=ThpSettings(enabled="madvise", defrag="madvise", khugepaged_defrag=1))
    return replace(base, **parts)  # type: ignore[arg-type]


def inputs(st: SystemState | None = None, **kw: object) -> Inputs:
    return Inputs(state=st or state(), **kw)  # type: ignore[arg-type]


def alloc_event(kind: str = "stall", order: int | None = 1,
                flags: tuple[str, ...] | None = ("GFP_KERNEL",), stall_ms: int | None = 15412,
                comm: str = "python", mode: str | None = "0x26040c0") -> AllocEvent:
    """One kernel-log allocation report (no Mem-Info attached)."""
    return AllocEvent(kind=kind, time=None, uptime_s=None, host=None, comm=comm, pid=1, cpu=0,
                      order=order, gfp_mode=mode, gfp_flags=flags,
                      stall_ms=stall_ms if kind == "stall" else None, kernel_version="4.9.0",
                      nodemask=None, cpuset=None, mems_allowed=None, oom_score_adj=None,
                      call_trace=(), mem_info=None, source="test", line_no=1)


class StepClock:
    """A clock the test moves by hand (the Sampler's Clock protocol): time passes only when
    someone sleeps on it or the test sets `now`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
