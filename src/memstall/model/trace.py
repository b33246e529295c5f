"""Tracepoint records as `trace_pipe` prints them, and the per-CPU buffer statistics.

No I/O and no logic: `parsers/trace_pipe.py` builds these from text, `analysis/stall_trace.py`
pairs them into stalls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TraceEvent:
    """One event line: `<comm>-<pid> [<cpu>] <flags> <sec>.<usec>: <name>: <key>=<value> ...`.

    `timestamp_us` is the trace clock (the instance's `trace_clock`, `local` by default:
    per-CPU, monotonic, microseconds since boot) converted to integer microseconds, so the
    difference of two timestamps is exact. `fields` keeps the event's own key=value text
    (the kernel's field names, e.g. `order`, `gfp_flags`, `nr_reclaimed`, `status`).
    """

    comm: str
    pid: int
    cpu: int
    timestamp_us: int
    name: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def int_field(self, key: str) -> int | None:
        """A numeric field (decimal or 0x-hex), None when absent or not a number."""
        text = self.fields.get(key)
        if text is None:
            return None
        try:
            return int(text, 0) if text.startswith(("0x", "-0x")) else int(text)
        except ValueError:
            return None


@dataclass(frozen=True)
class LostEvents:
    """`CPU:<cpu> [LOST <count> EVENTS]`: the ring buffer of `cpu` overwrote `count` events."""

    cpu: int
    count: int


@dataclass(frozen=True)
class TraceCpuStats:
    """`per_cpu/cpuN/stats` of a trace instance (counters since the buffer was last reset).

    `overrun` counts events overwritten before they were read (lost), `dropped_events`
    events dropped because the buffer was full in non-overwrite mode. Unknown lines are kept
    in `extra` so a newer kernel does not break the parser.
    """

    entries: int
    overrun: int
    commit_overrun: int
    bytes: int
    dropped_events: int | None
    read_events: int | None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def lost_events(self) -> int:
        return self.overrun + (self.dropped_events or 0)


@dataclass(frozen=True)
class HistEntry:
    """One `{ key: value, ... } hitcount: N ...` line of a hist trigger's `hist` file.

    `keys` keeps the printed key text (`order` -> "0", `lat` -> "~ 2^8" for a `.log2` key),
    `values` the numeric values after the braces (`hitcount` and any `vals=`).
    """

    keys: Mapping[str, str]
    values: Mapping[str, int]


@dataclass(frozen=True)
class TraceHist:
    """A hist trigger's `hist` file: its entries and the `Totals:` block."""

    trigger: str
    entries: tuple[HistEntry, ...]
    hits: int
    entries_count: int
    dropped: int


@dataclass(frozen=True)
class EventField:
    """One `field:` line of an event's tracefs `format` file."""

    name: str
    type: str  # the C type as declared: `int`, `unsigned long`, `gfp_t`
    size_bytes: int
    signed: bool


@dataclass(frozen=True)
class HistLatencyRow:
    """One entry of the hist path's `keys=order,gfp_flags,lat.log2:vals=hitcount,lat` hist."""

    order: int
    gfp_flags: int  # the mask as a number (hist keys print it in decimal)
    bucket: int  # k of `~ 2^k`
    count: int
    lat_us: int  # the sum of the entry's latencies


@dataclass(frozen=True)
class HistTaskRow:
    """One entry of the hist path's `keys=common_pid.execname:vals=hitcount,lat` hist."""

    pid: int
    comm: str
    count: int
    lat_us: int


@dataclass(frozen=True)
class KindLatency:
    """The traced stalls of one kind (`direct_reclaim`, ...), from `memstall trace`'s tracker.

    Percentiles are log2-bucket upper bounds (analysis/log2hist.py), so `p99_seconds` reads
    "99% of stalls took at most this long".
    """

    kind: str
    stalls: int
    total_seconds: float
    p50_seconds: float
    p99_seconds: float
    max_seconds: float
    by_order: Mapping[int, int] = field(default_factory=dict)  # order -> stalls (None order left out)


@dataclass(frozen=True)
class TracedStalls:
    """Stalls measured by a trace taken beside a live sample (`diagnose --trace N`)."""

    wall_seconds: float
    method: str  # "hist" or "pipe"
    kinds: Mapping[str, KindLatency]
    lost_events: int = 0
