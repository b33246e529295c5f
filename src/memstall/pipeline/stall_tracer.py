"""A live stall trace in memstall's own tracefs instance, by either method.

`StallTracer` is shared by `memstall trace`, `diagnose --trace`, `exporter --trace` and
`record --trace`: start() makes the instance (and, for the hist method, the synthetic events
and triggers of analysis/stall_hist.py), poll() reads `trace_pipe` into a StallTracker,
current() gives the totals so far (the pipe's aggregates plus the kernel's hists, read
anew), stop() returns the TraceRun, and close() — idempotent, also after a failed start —
removes triggers, instance and synthetic events in that order. Signals are the caller's.

- `pipe`: every event through `trace_pipe` (sources/tracefs.py says why not the raw pipe).
- `hist`: direct and memcg reclaim latencies are built in the kernel (CONFIG_HIST_TRIGGERS
  and CONFIG_SYNTH_EVENTS, `.trace()` actions 5.6+); user space reads only their totals.
  Compaction windows and kswapd/kcompactd still come through the pipe (no end tracepoint).
- `auto`: hist where the kernel has it, else pipe; `fallback_reason` says why.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from memstall.analysis.log2hist import Log2Hist
from memstall.analysis.stall_hist import HistPlan, KindHists, fill_tracker, hist_plan
from memstall.analysis.stall_trace import EVENTS, StallTracker, TaskTotals
from memstall.errors import ParseError, SourceUnavailable, UsageError
from memstall.model.kernel import KernelVersion
from memstall.model.trace import EventField, TraceEvent
from memstall.parsers.proc_cgroup import parse_proc_cgroup
from memstall.parsers.trace_format import parse_event_format
from memstall.parsers.trace_hist import latency_rows, parse_trace_hists, task_rows
from memstall.parsers.trace_stats import parse_trace_stats
from memstall.pipeline.trace_feed import PipeFeed
from memstall.sources.tracefs import (
    PipeReader,
    hist_unsupported,
    read_cpu_stats,
    read_event_format,
    read_proc_cgroup,
)
from memstall.sources.tracefs_control import (
    TraceInstance,
    create_instance,
    delete_synthetic_events,
    ensure_tracefs,
    install_hist,
    remove_instance,
    remove_stale_instances,
    remove_triggers,
    stop_tracing,
)

METHODS = ("auto", "hist", "pipe")


@dataclass
class TraceRun:
    """What one trace produced, plus how it was taken."""

    tracker: StallTracker
    wall_seconds: float
    source: str  # "instances/memstall-1234" or the --input file
    path: str = "pipe"  # "pipe" (trace_pipe) or "input" (a saved text)
    buffer_kb: int | None = None
    lost_events: int = 0  # per-CPU stats overrun + dropped, or LOST markers of a saved text
    lost_by_cpu: Mapping[int, int] = field(default_factory=dict)
    missing_events: tuple[str, ...] = ()
    removed_stale: tuple[str, ...] = ()
    in_progress: int = 0
    interrupted: bool = False
    cgroup_of: dict[int, str | None] = field(default_factory=dict)
    method: str = "pipe"  # "pipe", "hist" (reclaim in the kernel) or "input"
    fallback_reason: str | None = None  # why --method auto did not use hist
    kernel_stalls: int | None = None  # hist: stalls the kernel counted
    kernel_dropped: int = 0  # hist: entries its maps could not hold (lost)


def _hist_plan_for(pid: int) -> tuple[list[tuple[str, str]], list[str]]:
    plan = hist_plan(pid)
    return plan.removal_in_order(), [k.synth for k in plan.kinds]


def choose_method(requested: str, tracefs: Path) -> tuple[str, str | None]:
    """(method, why hist is not used); `hist` where it cannot run is a one-line error."""
    if requested not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, got {requested!r}")
    if requested == "pipe":
        return "pipe", None
    why = hist_unsupported(tracefs)
    if why is None:
        return "hist", None
    if requested == "hist":
        raise SourceUnavailable(str(tracefs), f"--method hist: {why}",
                                hint="use --method pipe (or auto), which needs only the tracepoints")
    return "pipe", why


def _formats(tracefs: Path) -> dict[str, dict[str, EventField]]:
    out: dict[str, dict[str, EventField]] = {}
    for system, event in EVENTS:
        text = read_event_format(tracefs, system, event)
        if text is not None:
            with contextlib.suppress(ParseError):
                out[event] = parse_event_format(text, f"events/{system}/{event}/format")
    return out


def _kernel_version() -> KernelVersion | None:
    try:
        return KernelVersion.parse(Path("/proc/sys/kernel/osrelease").read_text())
    except OSError:
        return None


def _cgroup(pid: int) -> str | None:
    text = read_proc_cgroup(pid)
    if text is None or pid == 0:
        return None
    try:
        return parse_proc_cgroup(text, f"/proc/{pid}/cgroup")
    except ParseError:
        return None


class StallTracer:
    """One live trace; see the module docstring for the life cycle."""

    def __init__(self, method: str = "auto", buffer_kb: int = 4096, keep_slowest: int = 10) -> None:
        self.requested = method
        self.buffer_kb = buffer_kb
        self.tracker = StallTracker(keep_slowest)
        self._pipe = PipeFeed(self.tracker, self._saw)
        self.method = "pipe"
        self.fallback_reason: str | None = None
        self.lost = self._pipe.lost
        self.cgroups: dict[int, str | None] = {}
        self.removed_stale: list[str] = []
        self.mounted: Path | None = None
        self.tracefs: Path | None = None
        self.instance: TraceInstance | None = None
        self.plan: HistPlan | None = None
        self.kernel = _kernel_version()
        self._reader: PipeReader | None = None
        self._start = 0.0
        self._wall: float | None = None
        self._final: dict[str, KindHists] | None = None
        self._lock = threading.Lock()  # poll() in a background thread, current() in another

    def start(self) -> None:
        tracefs, mounted = ensure_tracefs()
        self.tracefs, self.mounted = tracefs, tracefs if mounted else None
        self.method, self.fallback_reason = choose_method(self.requested, tracefs)
        self.removed_stale = remove_stale_instances(tracefs, _hist_plan_for)
        self._start = time.monotonic()
        try:
            self._make(tracefs)
        except SourceUnavailable as err:
            self.close()
            if self.requested != "auto" or self.method != "hist":
                raise
            # a kernel with hist triggers but without what the plan needs (`.trace()`: 5.6+)
            self.method, self.fallback_reason = "pipe", f"the kernel refused the hist path: {err.message}"
            try:
                self._make(tracefs)
            except BaseException:
                self.close()
                raise
        except BaseException:
            self.close()
            raise

    def _make(self, tracefs: Path) -> None:
        if self.method == "hist":
            self.plan = hist_plan(os.getpid(), _formats(tracefs))
            self.instance = create_instance(tracefs, self.plan.pipe_events, self.buffer_kb)
            install_hist(tracefs, self.instance.path, [k.definition for k in self.plan.kinds],
                         self.plan.triggers_in_order())
        else:
            self.instance = create_instance(tracefs, EVENTS, self.buffer_kb)
        self._reader = PipeReader(self.instance.path / "trace_pipe")

    def poll(self, timeout_seconds: float) -> None:
        """Wait at most timeout_seconds for events and feed what arrived."""
        reader = self._reader
        if reader is not None:
            lines = reader.read_lines(timeout_seconds)
            with self._lock:
                self._pipe.feed(lines)

    def _saw(self, record: TraceEvent) -> None:
        if record.pid not in self.cgroups:
            self.cgroups[record.pid] = _cgroup(record.pid)

    def _read_hists(self) -> dict[str, KindHists]:
        if self._final is not None:
            return self._final
        out: dict[str, KindHists] = {}
        if self.plan is None or self.instance is None:
            return out
        for k in self.plan.kinds:
            name = f"{self.instance.path.name}/{k.hist_file}"
            blocks = parse_trace_hists((self.instance.path / k.hist_file).read_text(), name)
            latency = next((b for b in blocks if "lat.log2" in b.trigger), None)
            tasks = next((b for b in blocks if "common_pid.execname" in b.trigger), None)
            dropped = sum(b.dropped for b in blocks)
            for rel in (k.begin_trigger[0], k.end_trigger[0]):  # the pid maps can fill up too
                hist = (self.instance.path / rel).with_name("hist").read_text()
                dropped += sum(b.dropped for b in parse_trace_hists(hist, rel))
            out[k.kind] = KindHists(
                latency=tuple(latency_rows(latency, name)) if latency else (),
                tasks=tuple(task_rows(tasks, name)) if tasks else (),
                stalls=latency.hits if latency else 0, dropped=dropped)
        return out

    def current(self) -> StallTracker:
        """A new tracker: the pipe's aggregates so far plus the kernel's hists read now."""
        out = StallTracker(self.tracker.keep_slowest)
        with self._lock:
            for key, hist in self.tracker.hists.items():
                copy = out.hists[key] = Log2Hist()
                copy.merge(hist)
            for pid, task in self.tracker.tasks.items():
                out.tasks[pid] = TaskTotals(task.comm, task.stalls, task.stall_us, dict(task.by_kind_us))
            out.events = self.tracker.events
        fill_tracker(out, self._read_hists(), self.kernel)
        return out

    def lost_so_far(self) -> int:
        """Events lost until now: per CPU, the buffer's overrun or the LOST markers read."""
        markers = dict(self.lost)
        instance = self.instance
        if instance is None:
            return sum(markers.values())
        try:
            stats = {cpu: parse_trace_stats(text, f"per_cpu/cpu{cpu}/stats")
                     for cpu, text in read_cpu_stats(instance.path).items()}
        except (OSError, ParseError):
            return sum(markers.values())
        return sum(max(s.lost_events, markers.get(cpu, 0)) for cpu, s in stats.items())

    def stop(self, interrupted: bool = False) -> TraceRun:
        """Stop, drain, read the kernel's totals, clean up; the run."""
        if self.instance is None:
            raise SourceUnavailable("tracefs", "the trace was not started")
        instance, plan = self.instance, self.plan
        try:
            self._wall = time.monotonic() - self._start
            stop_tracing(instance.path)
            if self._reader is not None:
                self._pipe.drain(self._reader)
            self._final = self._read_hists()
            stats = {cpu: parse_trace_stats(text, f"per_cpu/cpu{cpu}/stats")
                     for cpu, text in read_cpu_stats(instance.path).items()}
        finally:
            self.close()
        kernel = fill_tracker(self.tracker, self._final, self.kernel) if plan else None
        for pid in self.tracker.tasks:  # the kernel's tasks: their cgroup now, if still running
            if pid not in self.cgroups:
                self.cgroups[pid] = _cgroup(pid)
        by_cpu = {cpu: max(s.lost_events, self.lost.get(cpu, 0)) for cpu, s in stats.items()}
        return TraceRun(
            tracker=self.tracker, wall_seconds=self._wall, source=f"instances/{instance.path.name}",
            path="pipe", buffer_kb=instance.buffer_kb, lost_events=sum(by_cpu.values()),
            lost_by_cpu={c: n for c, n in by_cpu.items() if n},
            missing_events=tuple(f"{s}:{e}" for s, e in instance.missing),
            removed_stale=tuple(self.removed_stale), in_progress=self.tracker.finish(),
            interrupted=interrupted, cgroup_of=self.cgroups, method=self.method,
            fallback_reason=self.fallback_reason,
            kernel_stalls=kernel.stalls if kernel else None,
            kernel_dropped=kernel.dropped if kernel else 0)

    def close(self) -> None:
        """Close the pipe, remove triggers, the instance, then the synthetic events."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        instance, self.instance = self.instance, None
        if self.tracefs is None:
            return
        if instance is not None and self.plan is not None:
            remove_triggers(instance.path, self.plan.removal_in_order())
        if instance is not None:
            remove_instance(instance.path)
        if self.plan is not None:
            delete_synthetic_events(self.tracefs, [k.synth for k in self.plan.kinds])
            self.plan = None


class BackgroundTrace:
    """A StallTracer polled by a daemon thread while the caller does something else
    (`diagnose --trace`, `exporter --trace`, `record --trace`). current() from any thread;
    stop() or close() from the one that started it. A failure in the thread (a parse
    error of a line the kernel printed) stops polling and is raised by stop()."""

    def __init__(self, tracer: StallTracer, poll_seconds: float = 0.2) -> None:
        self.tracer = tracer
        self.poll_seconds = poll_seconds
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memstall-trace", daemon=True)

    def start(self) -> None:
        self.tracer.start()
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                self.tracer.poll(self.poll_seconds)
        except BaseException as err:  # handed to the caller's thread by stop()
            self.error = err

    def _join(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def current(self) -> StallTracker:
        return self.tracer.current()

    def stop(self, interrupted: bool = False) -> TraceRun:
        self._join()
        if self.error is not None:
            raise self.error
        return self.tracer.stop(interrupted)

    def close(self) -> None:
        self._join()
        self.tracer.close()
