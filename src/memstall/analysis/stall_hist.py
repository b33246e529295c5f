"""The in-kernel (hist trigger) path of `memstall trace`: what to write, and what it means.

Pure: `hist_plan()` returns every string memstall writes to tracefs for the hist path (so
the command, the cleanup of a SIGKILLed run and the QEMU test all use the same text), and
`fill_tracker()` turns the kernel's `hist` files into the StallTracker the pipe path fills.

For each reclaim kind (direct, memcg) and in memstall's own instance (both paths must read
ONE buffer's timestamps, tests/test_trace_hist.py):

1. a synthetic event `memstall_<pid>_<kind>(u64 lat; <order type> order; <gfp type> gfp_flags)`
   (synthetic events are global, hence the pid in the name; since 4.17);
2. on the begin event, a hist keyed by pid saving `common_timestamp.usecs`, order and gfp;
3. on the end event, a hist keyed by pid computing lat = now - ts and, `onmatch` of the
   begin, emitting the synthetic event (`.trace(...)`: 5.6+);
4. on the synthetic event, two hists: by (order, gfp_flags, lat.log2) with the sum of lat,
   and by `common_pid.execname` with the sum of lat. User space reads only these totals.

Direct compaction has no end tracepoint (docs/trace.md), so its window, the compact_zone
runs and kswapd/kcompactd still come through the pipe, which then carries few events.
The begin/end events are not enabled in the buffer: their triggers run "soft enabled".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memstall.analysis.gfp import decode_gfp
from memstall.analysis.log2hist import Log2Hist, bucket_range_us
from memstall.analysis.stall_trace import (
    DIRECT_RECLAIM,
    EVENTS,
    MEMCG_RECLAIM,
    StallTracker,
    TaskTotals,
)
from memstall.model.kernel import KernelVersion
from memstall.model.trace import EventField, HistLatencyRow, HistTaskRow

SYNTH_PREFIX = "memstall_"
MAP_SIZE = 32768  # tracing_map entries per trigger (2**15; the kernel allows up to 2**17)
# kind -> (short variable prefix, begin event, end event); all in `vmscan`
HIST_KINDS = {
    DIRECT_RECLAIM: ("msdr", "mm_vmscan_direct_reclaim_begin", "mm_vmscan_direct_reclaim_end"),
    MEMCG_RECLAIM: ("msmr", "mm_vmscan_memcg_reclaim_begin", "mm_vmscan_memcg_reclaim_end"),
}
# 6.x declarations, used when the begin event's `format` cannot be read
DEFAULT_TYPES = {"order": "int", "gfp_flags": "unsigned long"}


@dataclass(frozen=True)
class KindPlan:
    kind: str
    synth: str  # the synthetic event's name
    definition: str  # the line for `synthetic_events`
    begin_trigger: tuple[str, str]  # (path relative to the instance, trigger text)
    end_trigger: tuple[str, str]
    hist_triggers: tuple[tuple[str, str], ...]  # on events/synthetic/<synth>/trigger

    @property
    def hist_file(self) -> str:
        return f"events/synthetic/{self.synth}/hist"


@dataclass(frozen=True)
class HistPlan:
    pid: int
    kinds: tuple[KindPlan, ...]
    pipe_events: tuple[tuple[str, str], ...]  # still read from trace_pipe

    def triggers_in_order(self) -> list[tuple[str, str]]:
        """Install order: begin, end (needs begin's variables), then the synthetic hists."""
        out: list[tuple[str, str]] = []
        for k in self.kinds:
            out += [k.begin_trigger, k.end_trigger, *k.hist_triggers]
        return out

    def removal_in_order(self) -> list[tuple[str, str]]:
        """(file, `!trigger`) in the reverse order: a trigger whose variables another uses
        cannot be removed first (EBUSY)."""
        return [(path, "!" + text) for path, text in reversed(self.triggers_in_order())]


def synth_name(pid: int, kind: str) -> str:
    return f"{SYNTH_PREFIX}{pid}_{kind}"


def _types(formats: Mapping[str, Mapping[str, EventField]], begin: str) -> tuple[str, str]:
    fields = formats.get(begin, {})
    order = fields["order"].type if "order" in fields else DEFAULT_TYPES["order"]
    gfp = fields["gfp_flags"].type if "gfp_flags" in fields else DEFAULT_TYPES["gfp_flags"]
    return order, gfp


def kind_plan(pid: int, kind: str, formats: Mapping[str, Mapping[str, EventField]]) -> KindPlan:
    var, begin, end = HIST_KINDS[kind]
    synth = synth_name(pid, kind)
    order_t, gfp_t = _types(formats, begin)
    size = f":size={MAP_SIZE}"
    begin_text = (f"hist:keys=common_pid:{var}_ts=common_timestamp.usecs,{var}_order=order,"
                  f"{var}_gfp=gfp_flags{size}")
    end_text = (f"hist:keys=common_pid:{var}_lat=common_timestamp.usecs-${var}_ts{size}"
                f":onmatch(vmscan.{begin}).trace({synth},${var}_lat,${var}_order,${var}_gfp)")
    trigger = f"events/synthetic/{synth}/trigger"
    return KindPlan(
        kind=kind, synth=synth,
        definition=f"{synth} u64 lat; {order_t} order; {gfp_t} gfp_flags",
        begin_trigger=(f"events/vmscan/{begin}/trigger", begin_text),
        end_trigger=(f"events/vmscan/{end}/trigger", end_text),
        hist_triggers=((trigger, "hist:keys=order,gfp_flags,lat.log2:vals=hitcount,lat"),
                       (trigger, f"hist:keys=common_pid.execname:vals=hitcount,lat{size}")))


def hist_plan(pid: int, formats: Mapping[str, Mapping[str, EventField]] | None = None) -> HistPlan:
    """Everything the hist path writes for the tracer `pid`; `formats` {event: fields}."""
    kinds = tuple(kind_plan(pid, kind, formats or {}) for kind in HIST_KINDS)
    in_kernel = {e for _, begin, end in HIST_KINDS.values() for e in (begin, end)}
    return HistPlan(pid, kinds, tuple(e for e in EVENTS if e[1] not in in_kernel))


@dataclass(frozen=True)
class KernelTotals:
    """What the kernel's maps say beside the histograms: stalls counted, entries dropped."""

    stalls: int
    dropped: int


def gfp_text(mask: int, kernel: KernelVersion | None) -> str:
    """The mask as the tracepoint prints it (`show_gfp_flags`: "none" for 0)."""
    return decode_gfp(mask, kernel).text if mask else "none"


@dataclass(frozen=True)
class KindHists:
    """One kind's in-kernel results, decoded by parsers/trace_hist.py."""

    latency: tuple[HistLatencyRow, ...]
    tasks: tuple[HistTaskRow, ...]
    stalls: int  # Hits of the latency hist
    dropped: int  # entries the kernel's maps could not hold, over every hist of the kind


def _add_latency(tracker: StallTracker, kind: str, rows: tuple[HistLatencyRow, ...],
                 kernel: KernelVersion | None) -> None:
    for row in rows:
        key = (kind, row.order, gfp_text(row.gfp_flags, kernel))
        acc = tracker.hists.get(key)
        if acc is None:
            acc = tracker.hists[key] = Log2Hist()
        acc.counts[row.bucket] = acc.counts.get(row.bucket, 0) + row.count
        acc.n += row.count
        acc.total_us += row.lat_us
        # the kernel keeps no maximum: the top bucket's upper bound (docs/trace.md)
        acc.max_us = max(acc.max_us, bucket_range_us(row.bucket)[1])


def _add_tasks(tracker: StallTracker, kind: str, rows: tuple[HistTaskRow, ...]) -> None:
    for row in rows:
        task = tracker.tasks.get(row.pid)
        if task is None:
            task = tracker.tasks[row.pid] = TaskTotals(row.comm)
        task.stalls += row.count
        task.stall_us += row.lat_us
        task.by_kind_us[kind] = task.by_kind_us.get(kind, 0) + row.lat_us


def fill_tracker(tracker: StallTracker, hists: Mapping[str, KindHists],
                 kernel: KernelVersion | None) -> KernelTotals:
    """Add each kind's in-kernel histograms to a tracker (the pipe's events may be in it
    already); the kernel's totals."""
    for kind, kh in hists.items():
        _add_latency(tracker, kind, kh.latency, kernel)
        _add_tasks(tracker, kind, kh.tasks)
    return KernelTotals(stalls=sum(k.stalls for k in hists.values()),
                        dropped=sum(k.dropped for k in hists.values()))
