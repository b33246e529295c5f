"""The rules' inputs from a root: a live host (sampled twice) or a capture (its samples)."""

from __future__ import annotations

from dataclasses import replace

from memstall.analysis.rates import compute_rates
from memstall.collect import load_state
from memstall.errors import UsageError
from memstall.pipeline.sampler import SYSTEM_CLOCK, Clock, Sampler
from memstall.rules import Inputs
from memstall.sources import Source, open_root
from memstall.sources.snapshot import sample_count

ONE_SAMPLE_CAPTURE = ("this capture holds one sample, so there are no rates: capture with "
                      "`memstall snapshot --samples 2` (or run live)")


def one_source(log: str | None, root: str) -> None:
    """A log and a root other than / name two different sources: refuse rather than ignore one."""
    if log and root != "/":
        raise UsageError(f"--log {log} and --root {root}: give one source, not both "
                         "(--log reads the Mem-Info of the log, --root a host or capture)")


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


def inputs_from_root(root: str, interval: float, clock: Clock = SYSTEM_CLOCK) -> tuple[Inputs, str]:
    """Rules' inputs from a live root (two Sampler ticks `interval` seconds apart) or a
    capture (its first and last sample; every sample is history), and a description."""
    if interval < 0:
        raise UsageError(f"--interval must be 0 or more seconds, got {interval}")
    source = open_root(root)
    if not source.is_live:
        return _capture_inputs(source)
    how = "live, one sample" if interval == 0 else f"live, {interval:g} s between samples"
    return _live_inputs(source, interval, clock), how


__all__ = ["inputs_from_root", "one_source"]
