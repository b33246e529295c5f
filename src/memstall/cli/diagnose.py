"""`memstall diagnose`: run every rule on this host, a capture or a kernel log.

Live: two Sampler ticks `--interval` seconds apart give the rates. A capture made with
`memstall snapshot --samples N` gives rates between its first and last sample; a
single-sample capture or a log runs the rules that need rates as "skipped", saying why.
Exit code: the monitoring-plugins convention, so diagnose runs as a Nagios/Icinga check:
0 OK, 1 WARNING, 2 CRITICAL (`--fail-on` sets the bar), 3 UNKNOWN for every failure that
kept the check from running (EXIT_ON_FAILURE, applied by the error sink in cli/__init__.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import time
from types import FrameType
from typing import Any

from memstall.advice.recommend import recommend
from memstall.analysis.stall_summary import traced_stalls
from memstall.cli.args import seconds
from memstall.errors import PluginStatus, SourceUnavailable, UsageError
from memstall.model.trace import TracedStalls
from memstall.outputs.diagnose import (
    diagnosis_doc,
    diagnosis_text,
    oom_story_doc,
    oom_story_lines,
    trace_doc,
    trace_lines,
)
from memstall.outputs.render.jsonout import dumps
from memstall.pipeline.log_inputs import inputs_from_log
from memstall.pipeline.root_inputs import inputs_from_root
from memstall.pipeline.stall_tracer import BackgroundTrace, StallTracer
from memstall.rules import Inputs, Severity, run_rules

FAIL_ON = ("info", "warning", "critical", "never")
EXIT_ON_FAILURE = PluginStatus.UNKNOWN
"""Bad flags, unreadable or malformed input, an internal error, Ctrl-C, a closed stdout: 3."""

EXIT_STATUS = """exit status (the monitoring-plugins convention): 0 OK (no finding reaches --fail-on),
1 WARNING, 2 CRITICAL, 3 UNKNOWN when the check could not run: bad flags, a missing or
malformed input, an internal error (each one line on stderr), Ctrl-C or a closed stdout."""


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "diagnose", parents=[common],
        help="find what stalls page allocations, explain it and recommend settings",
        description="Run every rule on this host (two samples --interval apart), a capture "
                    "(--root) or a kernel log (--log): findings by severity with evidence, "
                    "recommended settings, and the rules skipped with the reason.",
        epilog=EXIT_STATUS)
    p.add_argument("--interval", type=seconds, default=5.0, metavar="SECONDS",
                   help="live only: seconds between the two samples for rates (default 5; "
                        "0 = one sample, rules that need rates are skipped)")
    p.add_argument("--log", metavar="FILE", action="append",
                   help="diagnose a kernel log (dmesg, dmesg -T, journalctl -k, syslog) instead: "
                        "its Mem-Info dump and its allocation stall/failure/OOM reports; with "
                        "--root, its reports are added to those of the logs the root holds "
                        "(var/log/kern.log*, messages*, syslog*, a sosreport's journal and "
                        "dmesg). May be given more than once")
    p.add_argument("--trace", type=seconds, metavar="SECONDS",
                   help="live only: also trace direct reclaim and compaction for SECONDS beside "
                        "the samples (as memstall trace, root) and add the measured stall "
                        "latencies to the findings; without root or tracefs, says why and goes on")
    p.add_argument("--fail-on", choices=FAIL_ON, default="warning",
                   help="lowest severity that makes the exit code non-zero (default warning): "
                        "1 for WARNING, 2 for CRITICAL")
    p.set_defaults(handler=run)


def exit_code(worst: Severity | None, fail_on: str) -> PluginStatus:
    if worst is None or fail_on == "never" or worst < Severity.parse(fail_on):
        return PluginStatus.OK
    return PluginStatus.CRITICAL if worst is Severity.CRITICAL else PluginStatus.WARNING


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _traced_inputs(args: argparse.Namespace) -> tuple[Inputs, str, TracedStalls | None, str | None]:
    """The live inputs with a trace of --trace seconds beside them (the trace keeps going
    after the samples until its time is up); the trace or why it was unavailable."""
    background: BackgroundTrace | None = None
    unavailable = None
    old = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up like Ctrl-C
    try:
        started = time.monotonic()
        try:
            background = BackgroundTrace(StallTracer("auto"))
            background.start()
        except SourceUnavailable as err:
            background, unavailable = None, err.message + (f" ({err.hint})" if err.hint else "")
        inputs, how = inputs_from_root(args.root, args.interval)
        if background is None:
            return inputs, how, None, unavailable
        time.sleep(max(0.0, args.trace - (time.monotonic() - started)))
        run = background.stop()
        traced = traced_stalls(run.tracker, run.wall_seconds, run.method, run.lost_events)
        return dataclasses.replace(inputs, traced=traced), how, traced, None
    finally:
        if background is not None:
            background.close()
        signal.signal(signal.SIGTERM, old)


def run(args: argparse.Namespace, io: Any) -> int:
    managed_total: int | None = None
    traced: TracedStalls | None = None
    unavailable: str | None = None
    logs: list[str] = args.log or []
    if args.trace is not None and (logs or args.root != "/" or args.trace <= 0):
        raise UsageError("--trace SECONDS (more than 0) traces this host: not with --log or --root")
    if logs and args.root == "/" and len(logs) == 1:
        inputs, how, managed_total = inputs_from_log(logs[0])
        label = logs[0]
    elif args.trace is not None:
        inputs, how, traced, unavailable = _traced_inputs(args)
        label = inputs.state.source
    else:
        inputs, how = inputs_from_root(args.root, args.interval, logs=logs)
        label = inputs.state.source
    report = run_rules(inputs)
    advice = recommend(report, inputs, managed_total)
    if args.format == "json":
        doc = diagnosis_doc(report, advice)
        oom = oom_story_doc(inputs.events)
        if oom is not None:
            doc["oom"] = oom
        if args.trace is not None:
            doc["trace"] = trace_doc(traced, unavailable)
        io.stdout.write(dumps(doc))
    else:
        kernel = inputs.kernel or inputs.state.kernel
        title = f"memstall diagnose: {label} ({how}; kernel {kernel or 'unknown'})"
        # the last OOM's story first, as an on-call reads one: right under the title
        text = diagnosis_text(report, advice, title, oom_story_lines(inputs.events))
        if args.trace is not None:
            text = text + "\n" + "\n".join(trace_lines(traced, unavailable)).rstrip("\n") + "\n"
        io.stdout.write(text)
    return int(exit_code(report.worst, args.fail_on))
