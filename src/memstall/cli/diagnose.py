"""`memstall diagnose`: run every rule on this host, a capture or a kernel log.

Live: two samples `--interval` seconds apart give the rates. A capture made with
`memstall snapshot --samples N` gives rates between its first and last sample; a
single-sample capture or a log runs the rules that need rates as "skipped", saying why.
Exit code: 0 clean, 1 a WARNING finding, 2 a CRITICAL one (`--fail-on` sets the bar).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

from memstall.advice.recommend import recommend
from memstall.analysis.log_state import state_from_mem_info
from memstall.analysis.rates import compute_rates
from memstall.collect import load_state
from memstall.collect_log import read_log_last_dump
from memstall.errors import UsageError
from memstall.model.kernel import KernelVersion
from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.model.meminfo import MemInfo
from memstall.model.state import SystemState
from memstall.outputs.diagnose import diagnosis_doc, diagnosis_text
from memstall.outputs.render.jsonout import dumps
from memstall.rules import Inputs, Severity, run_rules
from memstall.sources import open_root
from memstall.sources.snapshot import sample_count

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
        return (Inputs(last, rates=compute_rates(first, last), history=(first,)),
                f"live, {interval:g} s between samples")
    n = sample_count(source)
    if n < 2:
        reason = ("this capture holds one sample, so there are no rates: capture with "
                  "`memstall snapshot --samples 2` (or run live)")
        return Inputs(first, rates_reason=reason), "capture, one sample"
    samples = [first] + [load_state(source, k) for k in range(1, n)]
    last = samples[-1]
    return (Inputs(last, rates=compute_rates(first, last), history=tuple(samples[:-1])),
            f"capture, rates from samples 0 and {n - 1}")


def _last_dump(events: tuple[AllocEvent, ...], standalone: list[MemInfoDump]) -> MemInfoDump | None:
    dumps = [e.mem_info for e in events if e.mem_info is not None] + standalone
    return max(dumps, key=lambda d: d.line_no, default=None)


def _with_mem_total(state: SystemState, dump: MemInfoDump) -> tuple[SystemState, int | None]:
    """MemTotal (= Σ managed) when the log lacks zone lines: pages RAM - pages reserved."""
    if dump.pages_ram is None or dump.pages_reserved is None:
        return state, None
    managed = dump.pages_ram - dump.pages_reserved
    m = state.meminfo
    if m is None or m.kib("MemTotal") is not None:
        return state, managed
    fields = dict(m.fields_kib)
    fields["MemTotal"] = managed * state.page_size // 1024
    note = ("MemTotal estimated as pages RAM - pages reserved "
            f"({dump.pages_ram} - {dump.pages_reserved} pages): not every node's zones were printed")
    return replace(state, meminfo=MemInfo(fields, m.counts), notes=(*state.notes, note)), managed


def inputs_from_log(path: str) -> tuple[Inputs, str, int | None]:
    """Rules' inputs from a kernel log: its reports, and its last Mem-Info as a SystemState.

    Returns the inputs, a description, and the host's managed total (pages RAM - pages
    reserved) used to estimate zones the log does not print.
    """
    label, items = read_log_last_dump(path)
    events = tuple(i for i in items if isinstance(i, AllocEvent))
    standalone = [i for i in items if isinstance(i, MemInfoDump)]
    dump = _last_dump(events, standalone)
    # A fleet syslog interleaves hosts: diagnose the host of the last Mem-Info only.
    owner = next((e for e in events if e.mem_info is dump and dump is not None), None)
    hosts = {e.host for e in events if e.host}
    host = owner.host if owner is not None else (hosts.pop() if len(hosts) == 1 else None)
    others = len([e for e in events if host and e.host and e.host != host])
    events = tuple(e for e in events if not host or not e.host or e.host == host)
    release = next((e.kernel_version for e in reversed(events) if e.kernel_version), None)
    managed: int | None = None
    if dump is None:
        state = SystemState(source=label, kernel_release=release,
                            unavailable={"Mem-Info": "the log holds no Mem-Info dump"})
        where = "no Mem-Info"
    else:
        state, managed = _with_mem_total(
            state_from_mem_info(dump, kernel_release=release, source=f"{label}:{dump.line_no}"), dump)
        where = f"Mem-Info at line {dump.line_no}"
    inputs = Inputs(state, events=events, kernel=KernelVersion.parse(release) if release else None,
                    from_log=True, rates_reason="a kernel log holds no counters to compute rates from")
    how = f"kernel log: {len(events)} allocation report{'' if len(events) == 1 else 's'}, {where}"
    if others:
        how += f"; host {host} only, {others} reports of other hosts left out (see memstall logs)"
    return inputs, how, managed


def one_source(args: argparse.Namespace) -> None:
    """--log and --root name two different sources: refuse rather than ignore one."""
    if args.log and args.root != "/":
        raise UsageError(f"--log {args.log} and --root {args.root}: give one source, not both "
                         "(--log reads the Mem-Info of the log, --root a host or capture)")


def run(args: argparse.Namespace, io: Any) -> int:
    one_source(args)
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
