"""`memstall trace`: direct reclaim and compaction latency from the kernel's tracepoints."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from memstall.analysis.stall_trace import StallTracker
from memstall.errors import InputError, SourceUnavailable, UsageError
from memstall.outputs.render.jsonout import dumps
from memstall.outputs.trace import trace_doc, trace_text
from memstall.pipeline.stall_tracer import METHODS, StallTracer, TraceRun
from memstall.pipeline.trace_feed import PipeFeed

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
                    "instance, triggers and synthetic events.")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop after SECONDS (default: until Ctrl-C or SIGTERM)")
    p.add_argument("--buffer-kb", type=int, default=4096, metavar="KIB",
                   help="ring buffer per CPU in KiB (default 4096); raise it when events are lost")
    p.add_argument("--slowest", type=int, default=10, metavar="N",
                   help="how many of the slowest stalls to list (default 10)")
    p.add_argument("--method", choices=METHODS, default="auto",
                   help="hist: build the reclaim latency histograms in the kernel (hist triggers "
                        "and synthetic events), read only totals; pipe: read every event from "
                        "trace_pipe; auto (default): hist where the kernel has it")
    p.add_argument("--input", metavar="FILE",
                   help="analyse a saved trace_pipe/trace text instead of tracing live")
    p.set_defaults(handler=run)


class _Stop(KeyboardInterrupt):
    """SIGINT/SIGTERM/SIGHUP while tracing: stop, clean up, report.

    SIGINT is caught too (not left to KeyboardInterrupt): a shell starts background jobs
    with SIGINT ignored, and `kill -INT` must still stop the trace cleanly.
    """


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _pump(tracer: StallTracer, deadline: float | None) -> bool:
    """Read until the deadline; True when stopped by Ctrl-C or a signal."""
    try:
        while deadline is None or time.monotonic() < deadline:
            left = POLL_SECONDS if deadline is None else deadline - time.monotonic()
            tracer.poll(max(0.0, min(POLL_SECONDS, left)))
        return False
    except (KeyboardInterrupt, _Stop):
        return True


def trace_live(args: argparse.Namespace, io: Any) -> TraceRun:
    tracer = StallTracer(args.method, args.buffer_kb, args.slowest)
    handlers = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        tracer.start()
        if tracer.mounted is not None:
            io.stderr.write(f"memstall: mounted tracefs at {tracer.mounted} (left mounted)\n")
        deadline = None if args.duration is None else time.monotonic() + args.duration
        interrupted = _pump(tracer, deadline)
        return tracer.stop(interrupted)
    finally:
        tracer.close()
        for sig, old in handlers.items():
            signal.signal(sig, old)


def trace_file(args: argparse.Namespace) -> TraceRun:
    tracker = StallTracker(args.slowest)
    feed = PipeFeed(tracker, path=args.input)
    lost = feed.lost
    try:
        with open(args.input, encoding="utf-8", errors="replace") as fh:
            feed.feed(fh)
    except OSError as err:
        raise SourceUnavailable(args.input, err.strerror or str(err)) from None
    in_progress = tracker.finish()
    wall = ((tracker.last_us or 0) - (tracker.first_us or 0)) / 1e6
    return TraceRun(tracker=tracker, wall_seconds=wall, source=Path(args.input).name, path="input",
                    method="input", lost_events=sum(lost.values()), lost_by_cpu=lost, in_progress=in_progress)


def run(args: argparse.Namespace, io: Any) -> int:
    if args.root != "/":
        raise UsageError("trace reads the running kernel: --root is not supported "
                         "(use --input FILE for a saved trace)")
    if args.buffer_kb < 1 or args.slowest < 0 or (args.duration is not None and args.duration <= 0):
        raise UsageError("--buffer-kb and --duration must be positive, --slowest not negative")
    if args.input and (args.duration is not None or args.method != "auto"):
        raise InputError("--input reads a saved trace: --duration and --method do not apply")
    result = trace_file(args) if args.input else trace_live(args, io)
    io.stdout.write(dumps(trace_doc(result)) if args.format == "json" else trace_text(result))
    return 0
