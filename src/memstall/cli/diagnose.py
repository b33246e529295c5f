"""`memstall diagnose`: run every rule on this host, a capture or a kernel log.

Live: two samples `--interval` seconds apart give the rates. A capture made with
`memstall snapshot --samples N` gives rates between its first and last sample; a
single-sample capture or a log runs the rules that need rates as "skipped", saying why.
Exit code: 0 clean, 1 a WARNING finding, 2 a CRITICAL one (`--fail-on` sets the bar).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from memstall.advice.recommend import recommend
from memstall.analysis.rates import compute_rates
from memstall.collect import load_state
from memstall.errors import UsageError
from memstall.outputs.diagnose import diagnosis_doc, diagnosis_text
from memstall.outputs.render.jsonout import dumps
from memstall.rules import Inputs, Severity, run_rules
from memstall.sources import open_root
from memstall.sources.snapshot import SampleView, sample_count

FAIL_ON = ("info", "warning", "critical", "never")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "diagnose", parents=[common],
        help="find what stalls page allocations, explain it and recommend settings",
        description="Run every rule on this host (two samples --interval apart), a capture "
                    "(--root) or a kernel log (--log): findings by severity with evidence, "
                    "recommended settings, and the rules skipped with the reason.")
    p.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                   help="live only: seconds between the two samples for rates (default 5; "
                        "0 = one sample, rules that need rates are skipped)")
    p.add_argument("--log", metavar="FILE",
                   help="diagnose a kernel log (dmesg, dmesg -T, journalctl -k, syslog) instead: "
                        "its Mem-Info dump and its allocation stall/failure/OOM reports")
    p.add_argument("--fail-on", choices=FAIL_ON, default="warning",
                   help="lowest severity that makes the exit code non-zero (default warning): "
                        "1 for WARNING, 2 for CRITICAL")
    p.set_defaults(handler=run)


def exit_code(worst: Severity | None, fail_on: str) -> int:
    if worst is None or fail_on == "never" or worst < Severity.parse(fail_on):
        return 0
    return 2 if worst is Severity.CRITICAL else 1


def inputs_from_root(root: str, interval: float) -> tuple[Inputs, str]:
    """Rules' inputs from a live root (two samples) or a capture (its first and last sample)."""
    if interval < 0:
        raise UsageError(f"--interval must be 0 or more seconds, got {interval}")
    source = open_root(root)
    first = load_state(source)
    if source.is_live:
        if interval == 0:
            return Inputs(first, rates_reason="--interval 0: one sample, no rates"), "live, one sample"
        time.sleep(interval)
        last = load_state(source)
        return Inputs(last, rates=compute_rates(first, last)), f"live, {interval:g} s between samples"
    n = sample_count(source)
    if n < 2:
        reason = ("this capture holds one sample, so there are no rates: capture with "
                  "`memstall snapshot --samples 2` (or run live)")
        return Inputs(first, rates_reason=reason), "capture, one sample"
    last = load_state(SampleView(source, n - 1))
    return Inputs(last, rates=compute_rates(first, last)), f"capture, rates from samples 0 and {n - 1}"


def inputs_from_log(path: str) -> tuple[Inputs, str, int | None]:
    raise UsageError("--log is not available yet")


def run(args: argparse.Namespace, io: Any) -> int:
    managed_total: int | None = None
    if args.log:
        inputs, how, managed_total = inputs_from_log(args.log)
        label = args.log
    else:
        inputs, how = inputs_from_root(args.root, args.interval)
        label = inputs.state.source
    report = run_rules(inputs)
    advice = recommend(report, inputs, managed_total)
    if args.format == "json":
        io.stdout.write(dumps(diagnosis_doc(report, advice)))
    else:
        kernel = inputs.kernel or inputs.state.kernel
        title = f"memstall diagnose: {label} ({how}; kernel {kernel or 'unknown'})"
        io.stdout.write(diagnosis_text(report, advice, title))
    return exit_code(report.worst, args.fail_on)
