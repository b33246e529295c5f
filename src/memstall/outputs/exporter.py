"""`memstall exporter`: the Prometheus collector, built fresh from one Sampler tick per scrape.

Names follow STYLE.md "Metrics": prefix `memstall_`, base units, `_total` on counters,
labels `node`, `zone`, `order` (the kernel's own numbering), `rule`, `severity`, `subject`.
Every family's HELP says what it measures and in which unit (docs/exporter.md lists them).

A scrape never raises: a file that could not be read is `memstall_source_up{file} 0`, a
sample that failed as a whole is `memstall_up 0` and a line in the log. Scrapes that arrive
within `max_age_seconds` of the last sample share it (`SharedSample`), so a burst of
scrapes reads /proc once.

prometheus_client is an optional extra (`pip install 'memstall[exporter]'`): this module
imports it, and only the exporter command imports this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache, partial
from typing import Callable, Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from memstall import __version__
from memstall.analysis.fragmentation import indices_per_order
from memstall.model.kernlog import AllocEvent
from memstall.model.vmstat import zoned_names
from memstall.outputs.exposition import Family, Item, TextRegistry, as_metrics
from memstall.pipeline.sampler import Tick

LOG = logging.getLogger("memstall.exporter")

# vmstat event counters exported as `memstall_vmstat_<name>_total`: name -> what it counts.
# Summed over the per-zone forms (allocstall_normal... since 4.8; pgscan_direct_normal...
# before 4.8), so one series comes out on every kernel (docs/kernel.md#vmstat-counters).
VMSTAT_COUNTERS: Mapping[str, str] = {
    "allocstall": "direct reclaim entries: an allocation stalled to reclaim memory itself",
    "pgscan_direct": "pages scanned by direct reclaim",
    "pgsteal_direct": "pages reclaimed by direct reclaim",
    "pgscan_kswapd": "pages scanned by kswapd (background reclaim)",
    "pgsteal_kswapd": "pages reclaimed by kswapd (background reclaim)",
    "compact_stall": "direct compaction entries: an allocation stalled to compact memory",
    "compact_fail": "direct compactions that did not produce the block asked for",
    "compact_success": "direct compactions that produced the block asked for",
    "compact_migrate_scanned": "pages scanned by compaction for pages to migrate",
    "compact_free_scanned": "pages scanned by compaction for free targets",
    "compact_daemon_wake": "kcompactd wake-ups",
    "kswapd_low_wmark_hit_quickly": "kswapd runs that hit the low watermark again quickly",
    "kswapd_high_wmark_hit_quickly": "kswapd runs that reached the high watermark quickly",
    "pageoutrun": "kswapd reclaim passes",
    "pgmajfault": "major page faults (read from disk)",
    "oom_kill": "processes killed by the OOM killer (4.13+)",
    "thp_fault_alloc": "transparent hugepages allocated at fault",
    "thp_fault_fallback": "transparent hugepage faults that fell back to small pages",
    "drop_pagecache": "writes to vm.drop_caches that dropped the page cache",
}

# Integer vm sysctls exported as `memstall_vm_<name>` (dimensionless unless said).
SYSCTLS: Mapping[str, str] = {
    "watermark_scale_factor": "vm.watermark_scale_factor: low-high watermark gap, in 1/10000 of memory",
    "watermark_boost_factor": "vm.watermark_boost_factor: watermark boost after fragmentation, "
                              "in 1/10000 of the high watermark",
    "swappiness": "vm.swappiness: reclaim's anonymous vs file bias (0-200)",
    "vfs_cache_pressure": "vm.vfs_cache_pressure: dentry/inode reclaim bias (100 = fair)",
    "extfrag_threshold": "vm.extfrag_threshold: fragmentation index above which compaction is tried",
    "compaction_proactiveness": "vm.compaction_proactiveness: proactive compaction effort (0-100, 5.9+)",
    "zone_reclaim_mode": "vm.zone_reclaim_mode: reclaim locally before using another node (bits)",
    "overcommit_memory": "vm.overcommit_memory: 0 heuristic, 1 always, 2 strict",
    "nr_hugepages": "vm.nr_hugepages: persistent huge pages reserved",
}

# SystemState field -> the file behind it, for memstall_source_up 1 (read) lines.
FIELD_FILES: Mapping[str, str] = {
    "buddyinfo": "proc/buddyinfo", "zoneinfo": "proc/zoneinfo", "vmstat": "proc/vmstat",
    "meminfo": "proc/meminfo", "psi_memory": "proc/pressure/memory", "uptime_seconds": "proc/uptime",
    "pagetypeinfo": "proc/pagetypeinfo", "kernel_release": "proc/sys/kernel/osrelease",
    "extfrag_index": "sys/kernel/debug/extfrag/extfrag_index",
    "unusable_index": "sys/kernel/debug/extfrag/unusable_index",
}

UNREAD_FIELDS = ("node_vmstat", "node_meminfo")
"""Sampled SystemState fields that no family and no rule reads: on the live root, where
proc/vmstat and proc/meminfo are always there, the exporter's Sampler does not read them."""

KMSG_FILE = "dev/kmsg"
ZONE_LABELS = ("node", "zone")
ORDER_LABELS = ("node", "zone", "order")
_ZONED = {name: zoned_names(name) for name in VMSTAT_COUNTERS}


def _gauge(name: str, help_: str, labels: tuple[str, ...] = ()) -> Family:
    return Family(name, help_, "gauge", labels)


def _counter(name: str, help_: str, labels: tuple[str, ...] = ()) -> Family:
    return Family(name, help_, "counter", labels)


class Clock(Protocol):
    def monotonic(self) -> float: ...


class SharedSample:
    """One tick shared by every scrape within `max_age_seconds` of it (thread-safe)."""

    def __init__(self, sample: Callable[[], Tick], clock: Clock, max_age_seconds: float = 1.0) -> None:
        self._sample = sample
        self._clock = clock
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        self._last: tuple[float, Tick] | None = None
        self.samples_taken = 0

    def get(self) -> Tick:
        with self._lock:  # scrapes that arrive while one samples wait for it and reuse it
            now = self._clock.monotonic()
            if self._last is not None and now - self._last[0] < self.max_age_seconds:
                return self._last[1]
            tick = self._sample()
            self.samples_taken += 1
            self._last = (self._clock.monotonic(), tick)
            return tick


class AllocEventCounts:
    """Allocation reports from the kernel's log (/dev/kmsg) counted by kind and order.

    `poll` returns the reports completed since its last call (pipeline.kmsg_events.KmsgEvents.poll);
    it is called once per scrape, so a report shows on the first scrape after the kernel
    finished printing it (at the latest the second: the scanner closes a report at the next
    unrelated record or at a poll that finds none). Counts start at 0 when the exporter starts.
    """

    def __init__(self, poll: Callable[[], list[AllocEvent]]) -> None:
        self._poll = poll
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], int] = {}

    def update(self) -> None:
        with self._lock:
            try:
                events = self._poll()
            except Exception:  # a scrape never raises: the counts stay as they were
                LOG.exception("reading the kernel log failed")
                return
            for e in events:
                key = (e.kind, "unknown" if e.order is None else str(e.order))
                self.counts[key] = self.counts.get(key, 0) + 1

    def family(self) -> Family:
        family = _counter(
            "memstall_alloc_events", "allocation reports the kernel logged since the exporter "
            "started (/dev/kmsg): kind stall (4.9-4.14 'page allocation stalls'), failure ('page "
            "allocation failure'), oom (an OOM-killer report; order -1: forced by hand); order as "
            "printed; a count", ("kind", "order"))
        with self._lock:
            for (kind, order), n in sorted(self.counts.items()):
                family.add((kind, order), float(n))
        return family


class MemstallCollector(Collector):
    """The custom collector: every family built fresh from the shared tick on each collect().

    `events`: the kernel log's allocation reports (live root as root); None for a capture,
    which has no kernel log stream: then neither memstall_alloc_events_total nor a dev/kmsg
    memstall_source_up line is exported. `kmsg_up`: on a live root, whether /dev/kmsg could
    be opened (its memstall_source_up{file="dev/kmsg"}); None for a capture.
    """

    def __init__(self, shared: SharedSample, *, per_order: bool = True,
                 events: AllocEventCounts | None = None, kmsg_up: bool | None = None) -> None:
        self.shared = shared
        self.per_order = per_order
        self.events = events
        self.extra_sources = {} if kmsg_up is None else {KMSG_FILE: 1.0 if kmsg_up else 0.0}

    def collect(self) -> Iterator[Metric]:
        return as_metrics(self.collect_families())

    def collect_families(self) -> Iterator[Item]:
        """What collect() gives, as Family rows (outputs/exposition.py writes their text)."""
        info = _gauge("memstall_build_info", "memstall version; always 1", ("version",))
        info.add((__version__,), 1.0)
        yield info
        up = _gauge("memstall_up", "1 if the last sample of the root succeeded, 0 if it "
                    "failed as a whole (see the exporter's log)")
        if self.events is not None:
            self.events.update()
        try:
            tick = self.shared.get()
        except Exception:  # a scrape never raises: the failure shows as memstall_up 0
            LOG.exception("sampling the root failed")
            up.add((), 0.0)
            yield up
            return
        up.add((), 1.0)
        yield up
        yield from family_rows(tick, per_order=self.per_order, extra_sources=self.extra_sources)
        if self.events is not None:
            yield self.events.family()


def families(tick: Tick, *, per_order: bool = True,
             extra_sources: Mapping[str, float] | None = None) -> Iterator[Metric]:
    """Every family of one tick as prometheus_client Metrics (see family_rows)."""
    return as_metrics(family_rows(tick, per_order=per_order, extra_sources=extra_sources))


def family_rows(tick: Tick, *, per_order: bool = True,
                extra_sources: Mapping[str, float] | None = None) -> Iterator[Family]:
    """Every family of one tick; a family whose builder fails is logged and left out."""
    builders: list[Callable[[Tick], list[Family]]] = [
        partial(_source_up, extra=extra_sources or {}), _zones, _vmstat, _psi, _kthreads, _sysctls,
        _findings]
    if per_order:
        builders.insert(1, _orders)
    for build in builders:
        try:
            metrics = build(tick)
        except Exception:  # one bug must not blank the scrape
            LOG.exception("building %s failed", getattr(build, "__name__", build))
            continue
        yield from metrics


def _source_up(tick: Tick, extra: Mapping[str, float]) -> list[Family]:
    state = tick.state
    up = _gauge("memstall_source_up", "1 if the kernel file was read and parsed, 0 if it "
                "could not be (missing, permission denied, malformed; see `memstall "
                "diagnose`)", ("file",))
    status = {rel: 1.0 for field, rel in FIELD_FILES.items() if getattr(state, field) is not None}
    status.update((rel, 0.0) for rel in state.unavailable)
    status.update(extra)
    for rel in sorted(status):
        up.add((rel,), status[rel])
    return [up]


@lru_cache(maxsize=256)
def _order_labels(node: int, zone: str, orders: int) -> tuple[tuple[str, str, str], ...]:
    return tuple((str(node), zone, str(order)) for order in range(orders))


@lru_cache(maxsize=64)
def _indices(free_blocks: tuple[int, ...]) -> tuple[tuple[float, float], ...]:
    """(unusable ratio, fragmentation index) per order; the same free lists (an idle DMA
    zone) are not computed again."""
    return tuple((u / 1000, f / 1000) for u, f in indices_per_order(free_blocks))


def _orders(tick: Tick) -> list[Family]:
    buddy = tick.state.buddyinfo
    free = _gauge("memstall_free_blocks", "free blocks of 2^order pages in the zone's "
                  "buddy allocator (proc/buddyinfo); a count", ORDER_LABELS)
    unusable = _gauge("memstall_unusable_free_ratio", "share of the zone's free memory in "
                      "blocks smaller than 2^order pages, unusable for that order; 0..1", ORDER_LABELS)
    frag = _gauge("memstall_fragmentation_index", "the kernel's fragmentation index for the "
                  "order: towards 0 an allocation fails for lack of memory, towards 1 "
                  "from fragmentation; -1 when a block is free; dimensionless", ORDER_LABELS)
    for z in buddy.zones if buddy else ():
        blocks = tuple(z.free_blocks)
        for labels, count, (unusable_ratio, frag_index) in zip(
                _order_labels(z.node, z.zone, len(blocks)), blocks, _indices(blocks)):
            free.rows.append((labels, float(count)))
            unusable.rows.append((labels, unusable_ratio))
            frag.rows.append((labels, frag_index))
    return [free, unusable, frag]


def _zones(tick: Tick) -> list[Family]:
    state = tick.state
    page = float(state.page_size)

    def gauge(name: str, help_: str) -> Family:
        return _gauge(name, help_, ZONE_LABELS)

    free = gauge("memstall_zone_free_bytes", "free memory in the zone (zoneinfo nr_free_pages); bytes")
    managed = gauge("memstall_zone_managed_bytes", "memory the buddy allocator manages in the zone; bytes")
    marks = {w: gauge(f"memstall_watermark_{w}_bytes",
                      f"the zone's {w} watermark as the kernel prints it (boost included); bytes")
             for w in ("min", "low", "high")}
    headroom = gauge("memstall_watermark_headroom_pages", "free pages above the high watermark "
                     "(free - high; negative: below high, kswapd is or should be running); pages")
    for z in state.zoneinfo.zones if state.zoneinfo else ():
        if not z.populated:
            continue
        labels = (str(z.node), z.zone)
        free.add(labels, z.free_pages * page)
        if z.managed_pages is not None:
            managed.add(labels, z.managed_pages * page)
        for w, pages in (("min", z.min_pages), ("low", z.low_pages), ("high", z.high_pages)):
            marks[w].add(labels, pages * page)
        headroom.add(labels, float(z.free_pages - z.high_pages))
    return [free, managed, *marks.values(), headroom]


def _vmstat(tick: Tick) -> list[Family]:
    vmstat = tick.state.vmstat
    out: list[Family] = []
    counters = vmstat.counters if vmstat else {}
    for name, help_ in VMSTAT_COUNTERS.items():
        # VmStat.sum_zoned: the name and its per-zone forms
        values = [counters[n] for n in _ZONED[name] if n in counters]
        if not values:  # the kernel has no such counter: no series rather than a false 0
            continue
        family = _counter(f"memstall_vmstat_{name}", f"{help_} (proc/vmstat {name}, "
                          "per-zone forms summed); a count")
        family.add((), float(sum(values)))
        out.append(family)
    return out


def _psi(tick: Tick) -> list[Family]:
    psi = tick.state.psi_memory
    if psi is None:
        return []
    out: list[Family] = []
    for kind, line, who in (("some", psi.some, "at least one task"),
                            ("full", psi.full, "all non-idle tasks")):
        if line is None:
            continue
        family = _counter(f"memstall_psi_memory_{kind}_seconds", f"time in which {who} "
                          "stalled waiting for memory (proc/pressure/memory total); seconds")
        family.add((), line.total_us / 1e6)
        out.append(family)
    return out


def _kthreads(tick: Tick) -> list[Family]:
    state = tick.state
    seconds: dict[tuple[str, int], float] = {}
    for t in state.kthreads:
        if t.node is not None:
            key = (t.comm.rstrip("0123456789"), t.node)
            seconds[key] = seconds.get(key, 0.0) + t.cpu_ticks / state.user_hz
    for p in state.kthreads_ps:
        if p.node is not None:
            key = (p.comm.split(":")[0].rstrip("0123456789"), p.node)
            seconds[key] = seconds.get(key, 0.0) + p.cpu_seconds
    out: list[Family] = []
    for kind, what in (("kswapd", "background reclaim"), ("kcompactd", "background compaction")):
        family = _counter(f"memstall_{kind}_cpu_seconds", f"CPU time of the node's {kind} "
                          f"thread ({what}; user + system); seconds", ("node",))
        for (k, node), value in sorted(seconds.items()):
            if k == kind:
                family.add((str(node),), value)
        out.append(family)
    return out


def _sysctls(tick: Tick) -> list[Family]:
    sysctl = tick.state.sysctl_vm
    if sysctl is None:
        return []
    out: list[Family] = []
    kib = sysctl.int_value("min_free_kbytes")
    if kib is not None:
        family = _gauge("memstall_vm_min_free_bytes", "vm.min_free_kbytes: the memory "
                        "reserve the min watermarks are computed from; bytes")
        family.add((), kib * 1024.0)
        out.append(family)
    for name, help_ in SYSCTLS.items():
        value = sysctl.int_value(name)
        if value is not None:
            family = _gauge(f"memstall_vm_{name}", help_)
            family.add((), float(value))
            out.append(family)
    return out


def _findings(tick: Tick) -> list[Family]:
    family = _gauge("memstall_finding_active", "1 while the rule's finding holds for the "
                    "subject (docs/rules.md; `memstall diagnose` explains it)",
                    ("rule", "severity", "subject"))
    active = {(f.key, f.severity.name.lower(), f.subject) for f in tick.report.findings}
    for labels in sorted(active):  # a repeated series would make Prometheus reject the scrape
        family.add(labels, 1.0)
    return [family]


def registry_for(*collectors: Collector) -> TextRegistry:
    """A registry holding only these collectors: the MemstallCollector, and any other
    collector of memstall's (each with its own family names), in the order given. No process
    or platform collectors: their values change on every scrape and say nothing about the
    host's memory."""
    registry = TextRegistry()
    for collector in collectors:
        registry.register(collector)
    return registry


__all__ = ["FIELD_FILES", "KMSG_FILE", "SYSCTLS", "UNREAD_FIELDS", "VMSTAT_COUNTERS", "AllocEventCounts",
           "MemstallCollector", "SharedSample", "families", "family_rows", "registry_for"]
