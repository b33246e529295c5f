"""`memstall trace` output: text for people, `--format json` (schema memstall.trace/1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memstall.analysis.log2hist import Log2Hist, bucket_range_us, counts_by_high_us
from memstall.analysis.stall_trace import (
    DIRECT_RECLAIM,
    KINDS,
    MEMCG_RECLAIM,
    NodeActivity,
    TaskTotals,
    by_cgroup,
)
from memstall.outputs.render.table import render_table
from memstall.pipeline.stall_tracer import TraceRun

__all__ = ["SCHEMA", "TraceRun", "trace_doc", "trace_text"]

SCHEMA = "memstall.trace/1"
BAR_WIDTH = 40


def _hist_rows(hist: Log2Hist) -> list[str]:
    peak = max(hist.counts.values())
    lines = []
    for bucket in range(min(hist.counts), max(hist.counts) + 1):
        count = hist.counts.get(bucket, 0)
        low, high = bucket_range_us(bucket)
        bar = "*" * (count * BAR_WIDTH // peak) if count else ""
        lines.append(f"  {low:>9} -> {high:<9} : {count:<8} |{bar:<{BAR_WIDTH}}|")
    return lines


def _share(us: int, wall_seconds: float) -> float | None:
    return round(us / (wall_seconds * 1e6), 6) if wall_seconds > 0 else None


def _ms(us: int) -> float:
    return round(us / 1000, 3)


def _task_rows(run: TraceRun) -> list[list[object]]:
    tasks = sorted(run.tracker.tasks.items(), key=lambda kv: (-kv[1].stall_us, kv[0]))
    return [[pid, t.comm, run.cgroup_of.get(pid) or "?", t.stalls, _ms(t.stall_us),
             _share(t.stall_us, run.wall_seconds)] for pid, t in tasks]


def _activity_rows(table: Mapping[int, NodeActivity]) -> list[list[object]]:
    return [[nid, a.wakes, a.sleeps, _ms(a.awake_us), a.runs, _ms(a.run_us),
             ",".join(f"{o}:{n}" for o, n in sorted(a.orders.items())) or "-"]
            for nid, a in sorted(table.items())]


def trace_text(run: TraceRun) -> str:
    t = run.tracker
    how = (f"{run.path} path" if run.method != "hist" else
           "hist path: reclaim latencies built in the kernel, compaction and kthreads from trace_pipe")
    out = [f"memstall trace: {run.wall_seconds:.1f} s from {run.source} ({how}"
           + (f", buffer {run.buffer_kb} KiB per CPU" if run.buffer_kb else "")
           + (", stopped early" if run.interrupted else "") + ")"]
    if run.fallback_reason:
        out.append(f"note: pipe path, the hist path is not available: {run.fallback_reason}")
    out.extend(f"note: removed leftover {_what(n)} {n} of a dead memstall run" for n in run.removed_stale)
    if run.missing_events:
        out.append("not on this kernel: " + ", ".join(run.missing_events))
    out.append(f"events: {t.events} read, {run.lost_events} lost"
               + (" (raise --buffer-kb)" if run.lost_events else "")
               + f"; unmatched ends {t.unmatched_end}, lost begins {t.dropped_begin}, "
                 f"in progress at stop {run.in_progress}")
    if run.kernel_stalls is not None:
        out.append(f"in the kernel: {run.kernel_stalls} reclaim stalls counted, "
                   f"{run.kernel_dropped} dropped (maps full)")
    out.append("")
    if not t.hists:
        out.append("no direct reclaim or compaction stalls traced")
    for (kind, order, gfp), hist in sorted(t.hists.items(), key=_hist_sort):
        bound = "<= " if _max_is_bound(run, kind) else ""
        out.append(f"{kind} order={'-' if order is None else order} gfp={gfp or '-'}: "
                   f"{hist.n} stalls, total {_ms(hist.total_us)} ms, max {bound}{_ms(hist.max_us)} ms")
        out.append(f"  {'usecs':>22} : {'count':<8} distribution")
        out.extend(_hist_rows(hist))
    if t.tasks:
        out.append("")
        out.append(render_table(["PID", "COMM", "CGROUP", "STALLS", "STALL_MS", "WALL_SHARE"],
                                _task_rows(run), title="stall time per process"))
        groups = sorted(by_cgroup(t.tasks, run.cgroup_of).items(), key=lambda kv: -kv[1].stall_us)
        out.append(render_table(["CGROUP", "STALLS", "STALL_MS", "WALL_SHARE"],
                                [[name, g.stalls, _ms(g.stall_us), _share(g.stall_us, run.wall_seconds)]
                                 for name, g in groups], title="stall time per cgroup"))
        out.append(render_table(["KIND", "PID", "COMM", "ORDER", "GFP", "START_S", "MS", "DETAIL"],
                                [[s.kind, s.pid, s.comm, s.order, s.gfp_flags or "-",
                                  f"{s.start_us / 1e6:.6f}", _ms(s.duration_us), s.detail]
                                 for s in t.slowest_stalls()], title="slowest stalls"))
    for label, table in (("kswapd", t.kswapd), ("kcompactd", t.kcompactd)):
        if table:
            out.append(render_table(["NODE", "WAKES", "SLEEPS", "AWAKE_MS", "RUNS", "RUN_MS", "ORDERS"],
                                    _activity_rows(table), title=f"{label} activity"))
    return "\n".join(out).rstrip("\n") + "\n"


def _what(name: str) -> str:
    return "instance" if name.startswith("memstall-") else "synthetic event"


def _max_is_bound(run: TraceRun, kind: str) -> bool:
    """The kernel keeps no maximum: a hist-path kind's max is its top bucket's bound."""
    return run.method == "hist" and kind in (DIRECT_RECLAIM, MEMCG_RECLAIM)


def _hist_sort(item: tuple[tuple[str, int | None, str | None], Log2Hist]) -> tuple[int, int, str]:
    (kind, order, gfp), _ = item
    return (KINDS.index(kind), -1 if order is None else order, gfp or "")


def _totals(task: TaskTotals, wall_seconds: float) -> dict[str, Any]:
    return {"stalls": task.stalls, "stall_seconds": task.stall_us / 1e6,
            "wall_share_ratio": _share(task.stall_us, wall_seconds),
            "by_kind_seconds": {k: v / 1e6 for k, v in sorted(task.by_kind_us.items())}}


def trace_doc(run: TraceRun) -> dict[str, Any]:
    t = run.tracker
    return {
        "schema": SCHEMA,
        "source": run.source, "path": run.path, "method": run.method,
        "fallback_reason": run.fallback_reason, "wall_seconds": round(run.wall_seconds, 6),
        "buffer_kb": run.buffer_kb, "interrupted": run.interrupted,
        "missing_events": list(run.missing_events), "removed_stale_instances": list(run.removed_stale),
        "events": {"read": t.events, "lost": run.lost_events,
                   "lost_by_cpu": {str(c): n for c, n in sorted(run.lost_by_cpu.items())},
                   "unmatched_end": t.unmatched_end, "lost_begin": t.dropped_begin,
                   "in_progress": run.in_progress},
        "in_kernel": None if run.kernel_stalls is None else
        {"stalls": run.kernel_stalls, "dropped": run.kernel_dropped},
        "histograms": [
            {"kind": kind, "order": order, "gfp_flags": gfp, "count": h.n,
             "total_seconds": h.total_us / 1e6, "max_seconds": h.max_us / 1e6,
             "max_is_bucket_bound": _max_is_bound(run, kind),
             "buckets_us": {str(high): n for high, n in counts_by_high_us(h).items()}}
            for (kind, order, gfp), h in sorted(t.hists.items(), key=_hist_sort)],
        "processes": [dict(pid=pid, comm=task.comm, cgroup=run.cgroup_of.get(pid),
                           **_totals(task, run.wall_seconds))
                      for pid, task in sorted(t.tasks.items())],
        "cgroups": [dict(cgroup=name, **_totals(g, run.wall_seconds))
                    for name, g in sorted(by_cgroup(t.tasks, run.cgroup_of).items())],
        "slowest": [{"kind": s.kind, "pid": s.pid, "comm": s.comm, "order": s.order,
                     "gfp_flags": s.gfp_flags, "start_seconds": s.start_us / 1e6,
                     "duration_seconds": s.duration_us / 1e6, "detail": s.detail}
                    for s in t.slowest_stalls()],
        "kswapd": _activity_doc(t.kswapd), "kcompactd": _activity_doc(t.kcompactd),
    }


def _activity_doc(table: Mapping[int, NodeActivity]) -> list[dict[str, Any]]:
    return [{"node": nid, "wakes": a.wakes, "sleeps": a.sleeps, "awake_seconds": a.awake_us / 1e6,
             "runs": a.runs, "run_seconds": a.run_us / 1e6,
             "wake_orders": {str(o): n for o, n in sorted(a.orders.items())}}
            for nid, a in sorted(table.items())]
