"""`Sampler`: read a root again and again; each tick gives the state, the rates and the findings.

Every long-running command (diagnose live, and later record, exporter, top) samples the
same way: read the state now, compute per-second rates against the previous tick, run the
rules with the recent states as history. The reader (`collect.StateReader`) re-reads the
files that change every tick and the static ones (sysctls, THP settings, the kernel release,
the list of kernel threads) only on the first tick and then every `static_every_seconds`.
It reads with strict=False: a malformed file is reported in `state.unavailable` and the
rules that need it are skipped, instead of the whole tick failing.

Time comes from an injected `Clock`, so tests drive the Sampler without sleeping.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Protocol

from memstall.analysis.rates import RateError, Rates, compute_rates
from memstall.collect import StateReader
from memstall.model.state import SystemState
from memstall.rules import Inputs, Report, run_rules
from memstall.sources import Source

HISTORY_SECONDS = 300.0
"""Earlier states younger than this are the rules' history (the previous one is always kept)."""
HISTORY_MAX_STATES = 64
"""At most this many earlier states, whatever the interval: memory stays bounded."""
FIRST_TICK = "one sample so far: rates need a second one"


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: time.monotonic and time.sleep."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True)
class Tick:
    """One sample: the state read, rates against the previous tick, and the rules' report."""

    state: SystemState
    rates: Rates | None
    """None on the first tick, or when the previous tick gives no interval (see inputs.rates_reason)."""
    report: Report
    inputs: Inputs
    """What the rules saw: the state, the rates, the history (earlier states, oldest first)."""


class Sampler:
    """Samples one root: `sample()` now, or `ticks(interval)` on a schedule."""

    def __init__(self, source: Source, *, clock: Clock = SYSTEM_CLOCK,
                 static_every_seconds: float = 60.0, skip: Collection[str] = ()) -> None:
        """`skip`: sampled SystemState fields the caller never reads (StateReader.skip)."""
        self.source = source
        self.clock = clock
        self.static_every_seconds = static_every_seconds
        self.refreshed_static = False
        """Whether the latest sample() re-read the static files."""
        self._reader = StateReader(source, strict=False, skip=skip)
        self._static_at: float | None = None
        self._history: deque[tuple[float, SystemState]] = deque(maxlen=HISTORY_MAX_STATES)

    def _static_due(self, now: float) -> bool:
        return self._static_at is None or now - self._static_at >= self.static_every_seconds

    def _rates(self, state: SystemState) -> tuple[Rates | None, str]:
        if not self._history:
            return None, FIRST_TICK
        try:
            return compute_rates(self._history[-1][1], state), ""
        except RateError as err:  # no proc/uptime, or uptime did not advance: this tick has no rates
            return None, err.message

    def _earlier(self, now: float) -> tuple[SystemState, ...]:
        """The states of earlier ticks within HISTORY_SECONDS, oldest first; at least the previous."""
        recent = tuple(state for at, state in self._history if now - at <= HISTORY_SECONDS)
        return recent or tuple(state for _, state in self._history)[-1:]

    def _remember(self, now: float, state: SystemState) -> None:
        while len(self._history) > 1 and now - self._history[0][0] > HISTORY_SECONDS:
            self._history.popleft()
        self._history.append((now, state))

    def sample(self) -> Tick:
        """Read the state now; rates against the previous tick; run the rules."""
        now = self.clock.monotonic()
        self.refreshed_static = self._static_due(now)
        state = self._reader.read(refresh_static=self.refreshed_static)
        if self.refreshed_static:
            self._static_at = now
        rates, reason = self._rates(state)
        history = self._earlier(now)
        inputs = (Inputs(state, rates=rates, history=history) if rates is not None
                  else Inputs(state, history=history, rates_reason=reason))
        tick = Tick(state, rates, run_rules(inputs), inputs)
        self._remember(now, state)
        return tick

    def ticks(self, interval_seconds: float, count: int | None = None) -> Iterator[Tick]:
        """`count` ticks (None: without end), one every `interval_seconds` on the clock.

        The schedule is fixed-rate: the time the caller spends between ticks counts
        towards the interval; a tick that is late starts at once and the schedule restarts from it.
        """
        if interval_seconds < 0:
            raise ValueError(f"interval_seconds must be 0 or more, got {interval_seconds}")
        done = 0
        due = self.clock.monotonic()
        while count is None or done < count:
            wait = due - self.clock.monotonic()
            if wait > 0:
                self.clock.sleep(wait)
            else:
                due = self.clock.monotonic()
            yield self.sample()
            done += 1
            due += interval_seconds


__all__ = ["FIRST_TICK", "HISTORY_MAX_STATES", "HISTORY_SECONDS", "SYSTEM_CLOCK", "Clock", "Sampler",
           "SystemClock", "Tick"]
