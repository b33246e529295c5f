"""Per-run numbers from a recorded run directory (its snapshots and latency file).

Counters are differences between the first snapshot (taken after the profile was applied,
before the workload started) and the last one (the workload done, still holding its
memory). Gauges are read in every snapshot: the lowest free memory and the lowest free
memory in blocks of order >= 4 (PAGE_ALLOC_COSTLY_ORDER is 3: above it, allocations
compact and may fail) over the run. Absent is not zero: a counter this kernel lacks is
None and is left out of the comparison.

Time in direct reclaim and direct compaction comes from the guest's tracefs instance
(run<K>/trace.txt, enabled before the first snapshot and stopped after the last): begin/end
events paired per task by analysis/stall_trace.py, summed, and their p99 per run. No trace
file (a kernel without tracefs), or one of the events not enabled (trace-events.txt), is
None; a trace with no stall of a kind is 0 s. Events the ring buffer lost are counted
(`trace_lost_events`): then the sums are lower bounds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from memstall.analysis.rates import compute_rates
from memstall.analysis.stall_trace import DIRECT_COMPACTION, DIRECT_RECLAIM, StallTracker
from memstall.collect import load_state
from memstall.errors import InputError
from memstall.lab.stats import percentile
from memstall.model.state import SystemState
from memstall.parsers.trace_pipe import parse_trace_pipe
from memstall.sources import open_root

HIGH_ORDER = 4


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    """'count', 'pages', 'bytes', 'seconds', 'ratio', 'us'."""
    better: str
    """'lower' or 'higher': which way is an improvement."""


METRICS = (
    Metric("allocstall", "allocstall (direct reclaim entries)", "count", "lower"),
    Metric("compact_stall", "compact_stall", "count", "lower"),
    Metric("compact_fail", "compact_fail", "count", "lower"),
    Metric("compact_success", "compact_success", "count", "higher"),
    Metric("pgscan_direct", "pages scanned by direct reclaim", "pages", "lower"),
    Metric("pgsteal_direct", "pages reclaimed by direct reclaim", "pages", "lower"),
    Metric("psi_some_seconds", "PSI memory some", "seconds", "lower"),
    Metric("psi_full_seconds", "PSI memory full", "seconds", "lower"),
    Metric("oom_kill", "OOM kills", "count", "lower"),
    Metric("free_min_bytes", "lowest free memory", "bytes", "higher"),
    Metric("free_mean_bytes", "mean free memory", "bytes", "higher"),
    Metric("wmark_low_bytes", "low watermarks (sum)", "bytes", "higher"),
    Metric("wmark_high_bytes", "high watermarks (sum)", "bytes", "higher"),
    Metric("high_order_free_min_bytes", f"lowest free in order>={HIGH_ORDER} blocks", "bytes", "higher"),
    Metric("direct_reclaim_seconds", "time in direct reclaim (traced)", "seconds", "lower"),
    Metric("direct_reclaim_p99_us", "direct reclaim stall p99 (traced)", "us", "lower"),
    Metric("compaction_seconds", "time in direct compaction (traced)", "seconds", "lower"),
    Metric("compaction_p99_us", "direct compaction stall p99 (traced)", "us", "lower"),
    Metric("trace_lost_events", "trace events lost (times are lower bounds)", "count", "lower"),
    Metric("thp_fault_alloc", "THP faults served", "count", "higher"),
    Metric("thp_fault_fallback", "THP faults fallen back", "count", "lower"),
    Metric("latency_p50_us", "workload latency p50", "us", "lower"),
    Metric("latency_p90_us", "workload latency p90", "us", "lower"),
    Metric("latency_p99_us", "workload latency p99", "us", "lower"),
    Metric("latency_max_us", "workload latency max", "us", "lower"),
    Metric("ops", "workload operations", "count", "higher"),
    Metric("failed_ops", "workload operations failed", "count", "lower"),
)
_COUNTERS = ("allocstall", "compact_stall", "compact_fail", "compact_success", "pgscan_direct",
             "pgsteal_direct", "oom_kill", "thp_fault_alloc", "thp_fault_fallback")
_SNAP = re.compile(r"snap-(\d+)$")
# metric prefix -> (stall kind, the events its pairing needs, as set_event lists them)
_TRACED = {
    "direct_reclaim": (DIRECT_RECLAIM, ("vmscan:mm_vmscan_direct_reclaim_begin",
                                        "vmscan:mm_vmscan_direct_reclaim_end")),
    "compaction": (DIRECT_COMPACTION, ("compaction:mm_compaction_try_to_compact_pages",
                                       "compaction:mm_compaction_begin", "compaction:mm_compaction_end")),
}
TRACE_KEYS = ("direct_reclaim_seconds", "direct_reclaim_p99_us", "compaction_seconds", "compaction_p99_us",
              "trace_lost_events")


def snapshot_dirs(run_dir: Path) -> list[Path]:
    snaps = [p for p in run_dir.iterdir() if p.is_dir() and _SNAP.match(p.name)]
    return sorted(snaps, key=lambda p: int(_SNAP.match(p.name).group(1)))  # type: ignore[union-attr]


def parse_latencies(text: str, path: str = "latency_us.txt") -> tuple[list[float], int]:
    """(latencies of the operations that succeeded, number that failed); 'fail N' lines fail."""
    ok: list[float] = []
    failed = 0
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "fail" and len(parts) == 2 and parts[1].isdigit():
            failed += 1
        elif len(parts) == 1 and parts[0].isdigit():
            ok.append(float(parts[0]))
        else:
            raise InputError(f"{path}:{no}: expected '<microseconds>' or 'fail <microseconds>', "
                             f"got {line[:60]!r}")
    return ok, failed


def _free_pages(state: SystemState) -> int | None:
    return sum(z.free_pages for z in state.zoneinfo.zones) if state.zoneinfo else None


def _high_order_free_pages(state: SystemState) -> int | None:
    if state.buddyinfo is None:
        return None
    return sum(c << o for z in state.buddyinfo.zones for o, c in enumerate(z.free_blocks) if o >= HIGH_ORDER)


def _delta(first: SystemState, last: SystemState, name: str) -> float | None:
    if first.vmstat is None or last.vmstat is None:
        return None
    a, b = first.vmstat.sum_zoned(name), last.vmstat.sum_zoned(name)
    return None if a is None or b is None else float(b - a)


def _psi_seconds(first: SystemState, last: SystemState, kind: str) -> float | None:
    a, b = first.psi_memory, last.psi_memory
    if a is None or b is None:
        return None
    la, lb = (a.some, b.some) if kind == "some" else (a.full, b.full)
    return None if la is None or lb is None else (lb.total_us - la.total_us) / 1e6


def state_metrics(states: list[SystemState]) -> dict[str, float | None]:
    """The snapshot part of a run's metrics (first and last, plus every one for gauges)."""
    first, last = states[0], states[-1]
    page = last.page_size
    out: dict[str, float | None] = {n: _delta(first, last, n) for n in _COUNTERS}
    out["psi_some_seconds"] = _psi_seconds(first, last, "some")
    out["psi_full_seconds"] = _psi_seconds(first, last, "full")
    frees = [f for f in (_free_pages(s) for s in states) if f is not None]
    out["free_min_bytes"] = float(min(frees) * page) if frees else None
    out["free_mean_bytes"] = sum(frees) * page / len(frees) if frees else None
    highs = [h for h in (_high_order_free_pages(s) for s in states) if h is not None]
    out["high_order_free_min_bytes"] = float(min(highs) * page) if highs else None
    zones = last.zoneinfo.zones if last.zoneinfo else ()
    out["wmark_low_bytes"] = float(sum(z.low_pages for z in zones) * page) if zones else None
    out["wmark_high_bytes"] = float(sum(z.high_pages for z in zones) * page) if zones else None
    timed = len(states) > 1 and first.uptime_seconds is not None and last.uptime_seconds is not None
    out["interval_seconds"] = compute_rates(first, last).interval_seconds if timed else None
    return out


def latency_metrics(ok: list[float], failed: int) -> dict[str, float | None]:
    return {"latency_p50_us": percentile(ok, 50), "latency_p90_us": percentile(ok, 90),
            "latency_p99_us": percentile(ok, 99), "latency_max_us": max(ok) if ok else None,
            "ops": float(len(ok) + failed), "failed_ops": float(failed)}


def trace_metrics(text: str, enabled: set[str] | None,
                  path: str = "trace.txt") -> dict[str, float | None]:
    """Time in direct reclaim and direct compaction from a `trace` text: the sum over the
    paired stalls and their p99. `enabled`: the events that were on (None: unknown, all)."""
    parsed = parse_trace_pipe(text, path)
    tracker = StallTracker(keep_slowest=len(parsed.events) + 1)  # every stall, for the p99
    for event in parsed.events:
        tracker.feed(event)
    tracker.finish()  # compaction windows end at their last zone run; open reclaims are dropped
    stalls = tracker.slowest_stalls()
    out: dict[str, float | None] = {"trace_lost_events": float(sum(x.count for x in parsed.lost))}
    for prefix, (kind, needs) in _TRACED.items():
        if enabled is not None and not set(needs) <= enabled:
            out[f"{prefix}_seconds"] = out[f"{prefix}_p99_us"] = None
            continue
        us = [float(s.duration_us) for s in stalls if s.kind == kind]
        out[f"{prefix}_seconds"] = sum(us) / 1e6
        out[f"{prefix}_p99_us"] = percentile(us, 99)
    return out


def run_trace_metrics(run_dir: Path) -> dict[str, float | None]:
    trace = run_dir / "trace.txt"
    if not trace.exists():
        return dict.fromkeys(TRACE_KEYS)
    events = run_dir / "trace-events.txt"
    enabled = set(events.read_text().split()) if events.exists() else None
    return trace_metrics(trace.read_text(errors="replace"), enabled, str(trace))


def state_series(states: list[SystemState]) -> dict[str, list[float | None]]:
    """Per snapshot, for the report's charts: seconds since the first snapshot (guest
    uptime; the snapshot's index when uptime is missing), free memory and the zones' min and
    low watermarks summed, free in order >= HIGH_ORDER blocks, and allocstall and
    compact_stall counted from the first snapshot."""
    first = states[0]
    page = first.page_size
    out: dict[str, list[float | None]] = {k: [] for k in (
        "t_seconds", "free_bytes", "wmark_min_bytes", "wmark_low_bytes", "high_order_free_bytes",
        "allocstall", "compact_stall")}
    for k, st in enumerate(states):
        t0, t = first.uptime_seconds, st.uptime_seconds
        out["t_seconds"].append(float(k) if t0 is None or t is None else round(t - t0, 2))
        free, high = _free_pages(st), _high_order_free_pages(st)
        out["free_bytes"].append(None if free is None else float(free * page))
        out["high_order_free_bytes"].append(None if high is None else float(high * page))
        zones = st.zoneinfo.zones if st.zoneinfo else ()
        out["wmark_min_bytes"].append(float(sum(z.min_pages for z in zones) * page) if zones else None)
        out["wmark_low_bytes"].append(float(sum(z.low_pages for z in zones) * page) if zones else None)
        out["allocstall"].append(_delta(first, st, "allocstall"))
        out["compact_stall"].append(_delta(first, st, "compact_stall"))
    return out


def read_run(run_dir: Path) -> tuple[dict[str, float | None], dict[str, list[float | None]]]:
    """(the run's metrics, its per-snapshot series), reading each snapshot once."""
    snaps = snapshot_dirs(run_dir)
    if not snaps:
        raise InputError(f"{run_dir}: no snap-* directories (an unfinished run?)")
    states = [load_state(open_root(str(p))) for p in snaps]
    out = state_metrics(states)
    lat = run_dir / "latency_us.txt"
    text = lat.read_text() if lat.exists() else ""
    out.update(latency_metrics(*parse_latencies(text, str(lat))))
    out.update(run_trace_metrics(run_dir))
    return out, state_series(states)


def run_metrics(run_dir: Path) -> dict[str, float | None]:
    return read_run(run_dir)[0]


def metric(name: str) -> Metric:
    return next(m for m in METRICS if m.name == name)


def known(values: Mapping[str, float | None]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}
