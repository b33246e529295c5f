"""`memstall trace`: direct reclaim and compaction latency from the kernel's tracepoints."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from memstall.analysis.stall_trace import EVENTS, StallTracker
from memstall.errors import InputError, ParseError, SourceUnavailable, UsageError
from memstall.model.trace import LostEvents, TraceEvent
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.trace import TraceRun, trace_doc, trace_text
from memstall.parsers.proc_cgroup import parse_proc_cgroup
from memstall.parsers.trace_pipe import parse_trace_line
from memstall.parsers.trace_stats import parse_trace_stats
from memstall.sources.tracefs import PipeReader, read_cpu_stats, read_proc_cgroup
from memstall.sources.tracefs_control import (
    create_instance,
    ensure_tracefs,
    remove_instance,
    remove_stale_instances,
    stop_tracing,
)

POLL_SECONDS = 0.2


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "trace", parents=[common],
        help="measure direct reclaim and compaction stalls with tracepoints (root)",
        description="Trace direct reclaim, memcg reclaim and direct compaction in a tracefs "
                    "instance of memstall's own (instances/memstall-PID), pair begin/end per "
                    "task, and print log2 latency histograms by kind, order and gfp flags, "
                    "stall time per process and cgroup, the slowest stalls and kswapd/"
                    "kcompactd activity. Runs until --duration or Ctrl-C; always removes its "
                    "instance.")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop after SECONDS (default: until Ctrl-C or SIGTERM)")
    p.add_argument("--buffer-kb", type=int, default=4096, metavar="KIB",
                   help="ring buffer per CPU in KiB (default 4096); raise it when events are lost")
    p.add_argument("--slowest", type=int, default=10, metavar="N",
                   help="how many of the slowest stalls to list (default 10)")
    p.add_argument("--input", metavar="FILE",
                   help="analyse a saved trace_pipe/trace text instead of tracing live")
    p.set_defaults(handler=run)


class _Stop(Exception):
    """SIGINT/SIGTERM/SIGHUP while tracing: stop, clean up, report.

    SIGINT is caught too (not left to KeyboardInterrupt): a shell starts background jobs
    with SIGINT ignored, and `kill -INT` must still stop the trace cleanly.
    """


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _feed(lines: list[str], tracker: StallTracker, lost: dict[int, int],
          cgroups: dict[int, str | None], path: str, line_no: int) -> int:
    for line in lines:
        line_no += 1
        record = parse_trace_line(line, line_no, path)
        if isinstance(record, TraceEvent):
            tracker.feed(record)
            if record.pid not in cgroups:
                cgroups[record.pid] = _cgroup(record.pid)
        elif isinstance(record, LostEvents):
            lost[record.cpu] = lost.get(record.cpu, 0) + record.count
    return line_no


def _cgroup(pid: int) -> str | None:
    text = read_proc_cgroup(pid)
    if text is None or pid == 0:
        return None
    try:
        return parse_proc_cgroup(text, f"/proc/{pid}/cgroup")
    except ParseError:
        return None


def _pump(reader: PipeReader, tracker: StallTracker, lost: dict[int, int],
          cgroups: dict[int, str | None], deadline: float | None) -> bool:
    """Read until the deadline; True when stopped by Ctrl-C or a signal."""
    line_no = 0
    try:
        while deadline is None or time.monotonic() < deadline:
            left = POLL_SECONDS if deadline is None else deadline - time.monotonic()
            wait = max(0.0, min(POLL_SECONDS, left))
            line_no = _feed(reader.read_lines(wait), tracker, lost, cgroups, "trace_pipe", line_no)
        return False
    except (KeyboardInterrupt, _Stop):
        return True


def _drain(reader: PipeReader, tracker: StallTracker, lost: dict[int, int],
           cgroups: dict[int, str | None]) -> None:
    while True:
        lines = reader.read_lines(0)
        if not lines:
            return
        _feed(lines, tracker, lost, cgroups, "trace_pipe", 0)


def trace_live(args: argparse.Namespace, io: Any) -> TraceRun:
    tracefs, mounted = ensure_tracefs()
    if mounted:
        io.stderr.write(f"memstall: mounted tracefs at {tracefs} (left mounted)\n")
    removed = remove_stale_instances(tracefs)
    tracker = StallTracker(args.slowest)
    lost: dict[int, int] = {}
    cgroups: dict[int, str | None] = {}
    handlers = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    instance = None
    start = time.monotonic()
    try:
        instance = create_instance(tracefs, EVENTS, args.buffer_kb)
        deadline = None if args.duration is None else start + args.duration
        reader = PipeReader(instance.path / "trace_pipe")
        try:
            interrupted = _pump(reader, tracker, lost, cgroups, deadline)
            wall = time.monotonic() - start
            stop_tracing(instance.path)
            _drain(reader, tracker, lost, cgroups)
        finally:
            reader.close()
        stats = {cpu: parse_trace_stats(text, f"per_cpu/cpu{cpu}/stats")
                 for cpu, text in read_cpu_stats(instance.path).items()}
    finally:
        if instance is not None:
            remove_instance(instance.path)
        for sig, old in handlers.items():
            signal.signal(sig, old)
    by_cpu = {cpu: max(s.lost_events, lost.get(cpu, 0)) for cpu, s in stats.items()}
    return TraceRun(tracker=tracker, wall_seconds=wall, source=f"instances/{instance.path.name}",
                    buffer_kb=instance.buffer_kb, lost_events=sum(by_cpu.values()),
                    lost_by_cpu={c: n for c, n in by_cpu.items() if n},
                    missing_events=tuple(f"{s}:{e}" for s, e in instance.missing),
                    removed_stale=tuple(removed), in_progress=tracker.finish(),
                    interrupted=interrupted, cgroup_of=cgroups)


def trace_file(args: argparse.Namespace) -> TraceRun:
    tracker = StallTracker(args.slowest)
    lost: dict[int, int] = {}
    try:
        with open(args.input, encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(fh, 1):
                record = parse_trace_line(line, line_no, args.input)
                if isinstance(record, TraceEvent):
                    tracker.feed(record)
                elif isinstance(record, LostEvents):
                    lost[record.cpu] = lost.get(record.cpu, 0) + record.count
    except OSError as err:
        raise SourceUnavailable(args.input, err.strerror or str(err)) from None
    in_progress = tracker.finish()
    wall = ((tracker.last_us or 0) - (tracker.first_us or 0)) / 1e6
    return TraceRun(tracker=tracker, wall_seconds=wall, source=Path(args.input).name, path="input",
                    lost_events=sum(lost.values()), lost_by_cpu=lost, in_progress=in_progress)


def run(args: argparse.Namespace, io: Any) -> int:
    if args.root != "/":
        raise UsageError("trace reads the running kernel: --root is not supported "
                         "(use --input FILE for a saved trace)")
    if args.buffer_kb < 1 or args.slowest < 0 or (args.duration is not None and args.duration <= 0):
        raise UsageError("--buffer-kb and --duration must be positive, --slowest not negative")
    if args.input and args.duration is not None:
        raise InputError("--input reads a saved trace: --duration does not apply")
    result = trace_file(args) if args.input else trace_live(args, io)
    io.stdout.write(dumps(trace_doc(result)) if args.format == "json" else trace_text(result))
    return 0
