"""Pair tracepoint begin/end events per task into stalls, and aggregate them.

Kinds of stall (the time a task spent in the allocator instead of running):

- `direct_reclaim`: vmscan:mm_vmscan_direct_reclaim_begin -> _end (same pid).
- `memcg_reclaim`: vmscan:mm_vmscan_memcg_reclaim_begin -> _end (a cgroup at its limit).
- `direct_compaction`: compaction:mm_compaction_try_to_compact_pages opens a window; the
  compact_zone() runs of the same task (mm_compaction_begin/_end) extend it; it ends at the
  last mm_compaction_end before the task's next stall event or the end of the trace. There
  is no "try_to_compact_pages returned" tracepoint (6.18), so a window whose zones were all
  skipped or deferred has length 0.
- `other_compaction`: compact_zone() runs of a task that is not kcompactd and had no open
  window (a write to /proc/sys/vm/compact_memory, or a window whose opening event was lost).

kswapd (mm_vmscan_kswapd_wake -> _sleep per node) and kcompactd (mm_compaction_kcompactd_wake
-> _sleep per node, and its own compact_zone() runs) are background activity, not stalls.

Memory is bounded: open begins per (pid, kind), aggregated histograms, per-pid totals and the
N slowest stalls; no event list is kept.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from memstall.analysis.log2hist import Log2Hist
from memstall.model.trace import TraceEvent

DIRECT_RECLAIM = "direct_reclaim"
MEMCG_RECLAIM = "memcg_reclaim"
DIRECT_COMPACTION = "direct_compaction"
OTHER_COMPACTION = "other_compaction"
KINDS = (DIRECT_RECLAIM, MEMCG_RECLAIM, DIRECT_COMPACTION, OTHER_COMPACTION)

# (system, event) the tracer enables, in this order; every one exists on 6.18 (and since 4.6,
# when kcompactd came; try_to_compact_pages since 3.16, memcg_reclaim since 2.6.36).
EVENTS = (
    ("vmscan", "mm_vmscan_direct_reclaim_begin"), ("vmscan", "mm_vmscan_direct_reclaim_end"),
    ("vmscan", "mm_vmscan_memcg_reclaim_begin"), ("vmscan", "mm_vmscan_memcg_reclaim_end"),
    ("compaction", "mm_compaction_try_to_compact_pages"),
    ("compaction", "mm_compaction_begin"), ("compaction", "mm_compaction_end"),
    ("vmscan", "mm_vmscan_kswapd_wake"), ("vmscan", "mm_vmscan_kswapd_sleep"),
    ("compaction", "mm_compaction_kcompactd_wake"), ("compaction", "mm_compaction_kcompactd_sleep"),
)
_BEGIN = {"mm_vmscan_direct_reclaim_begin": DIRECT_RECLAIM,
          "mm_vmscan_memcg_reclaim_begin": MEMCG_RECLAIM}
_END = {"mm_vmscan_direct_reclaim_end": DIRECT_RECLAIM,
        "mm_vmscan_memcg_reclaim_end": MEMCG_RECLAIM}
_BACKGROUND = frozenset({"mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep",
                         "mm_compaction_kcompactd_wake", "mm_compaction_kcompactd_sleep"})


@dataclass(frozen=True)
class Stall:
    kind: str
    pid: int
    comm: str
    order: int | None
    gfp_flags: str | None
    start_us: int
    duration_us: int
    detail: str  # nr_reclaimed=N for reclaim, the last compaction status for compaction


@dataclass
class _Open:
    event: TraceEvent
    last_us: int
    status: str = ""


@dataclass
class NodeActivity:
    """kswapd or kcompactd on one node: wakeups, time awake, and (kcompactd) its zone runs."""

    wakes: int = 0
    sleeps: int = 0
    awake_us: int = 0
    runs: int = 0
    run_us: int = 0
    orders: dict[int, int] = field(default_factory=dict)
    awake_since_us: int | None = None


@dataclass
class TaskTotals:
    comm: str
    stalls: int = 0
    stall_us: int = 0
    by_kind_us: dict[str, int] = field(default_factory=dict)


class StallTracker:
    """Feed events in timestamp order; read the aggregates at any time."""

    def __init__(self, keep_slowest: int = 10) -> None:
        self.keep_slowest = keep_slowest
        self.hists: dict[tuple[str, int | None, str | None], Log2Hist] = {}
        self.tasks: dict[int, TaskTotals] = {}
        self.kswapd: dict[int, NodeActivity] = {}
        self.kcompactd: dict[int, NodeActivity] = {}
        self.slowest: list[tuple[int, int, Stall]] = []  # min-heap of (duration, seq, stall)
        self.events = 0
        self.unmatched_end = 0  # an end without its begin (begin before the start, or lost)
        self.dropped_begin = 0  # a begin followed by another begin of the same kind (end lost)
        self.first_us: int | None = None
        self.last_us: int | None = None
        self._open: dict[tuple[int, str], _Open] = {}
        self._zone_runs: dict[int, TraceEvent] = {}  # pid -> mm_compaction_begin
        self._seq = 0

    def feed(self, ev: TraceEvent) -> None:
        self.events += 1
        if self.first_us is None:
            self.first_us = ev.timestamp_us
        self.last_us = ev.timestamp_us
        name = ev.name
        if name in _BEGIN:
            self._close_compaction(ev.pid)
            self._begin(ev, _BEGIN[name])
        elif name in _END:
            self._end(ev, _END[name])
        elif name == "mm_compaction_try_to_compact_pages":
            self._close_compaction(ev.pid)
            self._open[(ev.pid, DIRECT_COMPACTION)] = _Open(ev, ev.timestamp_us)
        elif name == "mm_compaction_begin":
            self._zone_runs[ev.pid] = ev
        elif name == "mm_compaction_end":
            self._zone_end(ev)
        elif name in _BACKGROUND:
            self._background(ev)
        # any other event (a wider trace saved with --input) is read and ignored

    def _begin(self, ev: TraceEvent, kind: str) -> None:
        key = (ev.pid, kind)
        if key in self._open:
            self.dropped_begin += 1
        self._open[key] = _Open(ev, ev.timestamp_us)

    def _end(self, ev: TraceEvent, kind: str) -> None:
        opened = self._open.pop((ev.pid, kind), None)
        if opened is None:
            self.unmatched_end += 1
            return
        begin = opened.event
        self._record(Stall(kind, ev.pid, ev.comm, begin.int_field("order"),
                           begin.fields.get("gfp_flags"), begin.timestamp_us,
                           ev.timestamp_us - begin.timestamp_us,
                           f"nr_reclaimed={ev.fields.get('nr_reclaimed', '?')}"))

    def _zone_end(self, ev: TraceEvent) -> None:
        begin = self._zone_runs.pop(ev.pid, None)
        if begin is None:
            self.unmatched_end += 1
            return
        window = self._open.get((ev.pid, DIRECT_COMPACTION))
        if window is not None:
            window.last_us = ev.timestamp_us
            window.status = ev.fields.get("status", "")
        elif ev.comm.startswith("kcompactd"):
            node = self.kcompactd.setdefault(_kthread_node(ev.comm), NodeActivity())
            node.runs += 1
            node.run_us += ev.timestamp_us - begin.timestamp_us
        else:
            self._record(Stall(OTHER_COMPACTION, ev.pid, ev.comm, None, None, begin.timestamp_us,
                               ev.timestamp_us - begin.timestamp_us,
                               f"status={ev.fields.get('status', '?')}"))

    def close_idle_compaction(self) -> None:
        """End every direct compaction window that has no zone run in flight, as the end of a
        trace does: a periodic reader (top's frames) calls it so an idle task's compaction is
        counted now rather than when that task next stalls."""
        for pid, kind in list(self._open):
            if kind == DIRECT_COMPACTION and pid not in self._zone_runs:
                self._close_compaction(pid)

    def _close_compaction(self, pid: int) -> None:
        window = self._open.pop((pid, DIRECT_COMPACTION), None)
        if window is None:
            return
        begin = window.event
        self._record(Stall(DIRECT_COMPACTION, pid, begin.comm, begin.int_field("order"),
                           begin.fields.get("gfp_mask"), begin.timestamp_us,
                           window.last_us - begin.timestamp_us,
                           f"status={window.status or 'none'}"))

    def _background(self, ev: TraceEvent) -> None:
        name = ev.name
        table = self.kswapd if "kswapd" in name else self.kcompactd
        node = table.setdefault(ev.int_field("nid") or 0, NodeActivity())
        if name.endswith("_wake"):
            node.wakes += 1
            order = ev.int_field("order")
            if order is not None:
                node.orders[order] = node.orders.get(order, 0) + 1
            if node.awake_since_us is None:
                node.awake_since_us = ev.timestamp_us
        elif name.endswith("_sleep"):
            node.sleeps += 1
            if node.awake_since_us is not None:
                node.awake_us += ev.timestamp_us - node.awake_since_us
                node.awake_since_us = None

    def _record(self, stall: Stall) -> None:
        key = (stall.kind, stall.order, stall.gfp_flags)
        hist = self.hists.get(key)
        if hist is None:
            hist = self.hists[key] = Log2Hist()
        hist.add(stall.duration_us)
        task = self.tasks.get(stall.pid)
        if task is None:
            task = self.tasks[stall.pid] = TaskTotals(stall.comm)
        task.stalls += 1
        task.stall_us += stall.duration_us
        task.by_kind_us[stall.kind] = task.by_kind_us.get(stall.kind, 0) + stall.duration_us
        self._seq += 1
        item = (stall.duration_us, -self._seq, stall)
        if len(self.slowest) < self.keep_slowest:
            heapq.heappush(self.slowest, item)
        elif self.slowest and item[:2] > self.slowest[0][:2]:  # keep_slowest=0 keeps none
            heapq.heapreplace(self.slowest, item)

    def finish(self) -> int:
        """Close compaction windows (they end at their last zone run); return how many
        reclaim begins are still open (in progress when tracing stopped: not counted)."""
        for pid, kind in list(self._open):
            if kind == DIRECT_COMPACTION:
                self._close_compaction(pid)
        in_progress = len(self._open)
        self._open.clear()
        for table in (self.kswapd, self.kcompactd):
            for node in table.values():
                if node.awake_since_us is not None and self.last_us is not None:
                    node.awake_us += self.last_us - node.awake_since_us
                    node.awake_since_us = None
        return in_progress

    def slowest_stalls(self) -> list[Stall]:
        return [s for _, _, s in sorted(self.slowest, key=lambda t: (-t[0], -t[1]))]


def _kthread_node(comm: str) -> int:
    digits = comm[len("kcompactd"):]
    return int(digits) if digits.isdigit() else 0


def by_cgroup(tasks: dict[int, TaskTotals],
              cgroup_of: dict[int, str | None]) -> dict[str, TaskTotals]:
    """Per-task totals summed per cgroup path ("?" when the task's cgroup is unknown)."""
    out: dict[str, TaskTotals] = {}
    for pid, task in tasks.items():
        name = cgroup_of.get(pid) or "?"
        total = out.get(name)
        if total is None:
            total = out[name] = TaskTotals(comm="")
        total.stalls += task.stalls
        total.stall_us += task.stall_us
        for kind, us in task.by_kind_us.items():
            total.by_kind_us[kind] = total.by_kind_us.get(kind, 0) + us
    return out
