"""The rules' inputs from a root: a live host (sampled twice) or a capture (its samples)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from memstall.analysis.log_state import state_from_mem_info
from memstall.analysis.rates import compute_rates
from memstall.collect import load_state
from memstall.errors import UsageError
from memstall.model.kernel import KernelVersion
from memstall.pipeline.log_inputs import NO_RATES, with_mem_total
from memstall.pipeline.root_logs import LogsRead, read_logs
from memstall.pipeline.sampler import SYSTEM_CLOCK, Clock, Sampler
from memstall.rules import Inputs
from memstall.sources import Source, open_root
from memstall.sources.snapshot import sample_count

ONE_SAMPLE_CAPTURE = ("this capture holds one sample, so there are no rates: capture with "
                      "`memstall snapshot --samples 2` (or run live)")


def one_source(log: str | None, root: str) -> None:
    """A log and a root other than / name two different sources: refuse rather than ignore one
    (for the commands that read one; `diagnose` reads both: the root's state, the log's reports)."""
    if log and root != "/":
        raise UsageError(f"--log {log} and --root {root}: give one source, not both "
                         "(--log reads the Mem-Info of the log, --root a host or capture)")


def _with_logs(inputs: Inputs, found: LogsRead, label: str) -> Inputs:
    """The root's inputs with the reports of its logs; a root with neither zoneinfo nor
    meminfo (a sosreport of logs only) is diagnosed from the logs' last Mem-Info instead."""
    state = inputs.state
    from_log = False
    if state.zoneinfo is None and state.meminfo is None and found.dump is not None:
        release = state.kernel_release or _release(found)
        state, _managed = with_mem_total(
            state_from_mem_info(found.dump, kernel_release=release, source=label), found.dump)
        state = replace(state, notes=(*state.notes, f"{label} holds neither proc/zoneinfo nor "
                                      f"proc/meminfo: zones rebuilt from the Mem-Info at "
                                      f"{found.dump.source}:{found.dump.line_no}"))
        from_log = True
    state = replace(state, notes=(*state.notes, *found.notes))
    kernel = inputs.kernel or state.kernel
    if kernel is None and _release(found):
        kernel = KernelVersion.parse(_release(found) or "")
    return replace(inputs, state=state, events=found.events, kernel=kernel, logs_read=bool(found.read),
                   from_log=from_log, rates_reason=NO_RATES if from_log else inputs.rates_reason)


def _release(found: LogsRead) -> str | None:
    return next((e.kernel_version for e in reversed(found.events) if e.kernel_version), None)


def _logs_how(found: LogsRead) -> str:
    n = len(found.events)
    files = len(found.read)
    how = f"{files} kernel log{'' if files == 1 else 's'}, {n} allocation report{'' if n == 1 else 's'}"
    return how + (f", {len(found.skipped)} skipped" if found.skipped else "")


def _live_inputs(source: Source, interval_seconds: float, clock: Clock) -> Inputs:
    """What the rules saw on the last of two Sampler ticks `interval_seconds` apart (0: one tick)."""
    sampler = Sampler(source, clock=clock)
    if interval_seconds == 0:
        return replace(sampler.sample().inputs, rates_reason="--interval 0: one sample, no rates")
    *_, last = sampler.ticks(interval_seconds, count=2)
    return last.inputs


def _capture_inputs(source: Source) -> tuple[Inputs, str]:
    # needs=(): a malformed file is left out with a note and the rules that need it say
    # so as skipped, as on a live host (the Sampler reads leniently too).
    first = load_state(source, needs=())
    n = sample_count(source)
    if n < 2:
        return Inputs(first, rates_reason=ONE_SAMPLE_CAPTURE), "capture, one sample"
    samples = [first] + [load_state(source, k, needs=()) for k in range(1, n)]
    last = samples[-1]
    return (Inputs(last, rates=compute_rates(first, last), history=tuple(samples[:-1])),
            f"capture, rates from samples 0 and {n - 1}")


def inputs_from_root(root: str, interval: float, clock: Clock = SYSTEM_CLOCK, *,
                     logs: Sequence[str] | None = None) -> tuple[Inputs, str]:
    """Rules' inputs from a live root (two Sampler ticks `interval` seconds apart) or a
    capture (its first and last sample; every sample is history), and a description.

    `logs` not None (diagnose): the kernel logs a capture holds (pipeline/root_logs.py; a
    live root's are not read) and the files in `logs` add their allocation reports.
    """
    if interval < 0:
        raise UsageError(f"--interval must be 0 or more seconds, got {interval}")
    source = open_root(root)
    if not source.is_live:
        inputs, how = _capture_inputs(source)
    else:
        how = "live, one sample" if interval == 0 else f"live, {interval:g} s between samples"
        inputs = _live_inputs(source, interval, clock)
    if logs is None:
        return inputs, how
    found = read_logs(None if source.is_live else source, logs)
    if not found.read and not found.skipped:
        return inputs, how
    return _with_logs(inputs, found, source.label), f"{how}; {_logs_how(found)}"


__all__ = ["inputs_from_root", "one_source"]
