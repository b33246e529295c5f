"""A stored History -> the numbers the report draws: per-zone free against watermarks,
free blocks and fragmentation index by order, rates, PSI, downsampled to a fixed number of
columns with min, mean and max kept (a one-sample stall still shows as a spike). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from memstall.analysis.fragmentation import fragmentation_index_milli
from memstall.analysis.rates import RateError, Rates, compute_rates, sum_zoned
from memstall.model.state import SystemState
from memstall.store import Point, Run, state_of

COLUMNS = 480
"""Columns of every time chart at most: 24 h at 10 s (8640 samples) fits in well under 2 MB.
Fewer samples than that: one column per sample interval."""


def columns_for(points: int) -> int:
    return max(1, min(COLUMNS, points))


@dataclass(frozen=True)
class Band:
    """One series over the columns: None where no sample fell."""

    label: str
    lo: tuple[float | None, ...]
    mean: tuple[float | None, ...]
    hi: tuple[float | None, ...]

    @property
    def has_data(self) -> bool:
        return any(v is not None for v in self.mean)


@dataclass(frozen=True)
class Grid:
    """A heat map: rows (orders) x columns (time), None where no sample fell."""

    label: str
    rows: tuple[str, ...]
    cells: tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class Timeline:
    from_ms: int
    to_ms: int
    columns: int

    def column(self, t_ms: int) -> int:
        span = max(1, self.to_ms - self.from_ms)
        return min(self.columns - 1, max(0, (t_ms - self.from_ms) * self.columns // span))


RATE_CHARTS: tuple[tuple[str, str, tuple[tuple[str, Callable[[Rates], float | None]], ...]], ...] = (
    (
        "Direct reclaim",
        "per second",
        (
            ("allocstall", lambda r: sum_zoned(r, "allocstall")),
            ("pgscan direct", lambda r: sum_zoned(r, "pgscan_direct")),
            ("pgscan kswapd", lambda r: sum_zoned(r, "pgscan_kswapd")),
        ),
    ),
    (
        "Compaction",
        "per second",
        (
            ("compact_stall", lambda r: r.per_second.get("compact_stall")),
            ("compact_fail", lambda r: r.per_second.get("compact_fail")),
            ("compact_success", lambda r: r.per_second.get("compact_success")),
        ),
    ),
    (
        "kswapd",
        "per second",
        (
            ("kswapd_low_wmark_hit_quickly", lambda r: r.per_second.get("kswapd_low_wmark_hit_quickly")),
            ("kswapd_high_wmark_hit_quickly", lambda r: r.per_second.get("kswapd_high_wmark_hit_quickly")),
        ),
    ),
    (
        "Memory pressure (PSI)",
        "share of time",
        (("some", lambda r: r.psi_some_ratio), ("full", lambda r: r.psi_full_ratio)),
    ),
)


@dataclass(frozen=True)
class Sampled:
    """Samples kept whole (the ones near a tune marker): each as a state, with the rates
    against the previous sample of its run."""

    t_ms: tuple[int, ...]
    states: tuple[SystemState, ...]
    rates: tuple[Rates | None, ...]


class BandAcc:
    """A Band built one sample at a time: per column the min, the max and the running sum."""

    def __init__(self, tl: Timeline, label: str) -> None:
        self.tl, self.label = tl, label
        self.lo: list[float | None] = [None] * tl.columns
        self.hi: list[float | None] = [None] * tl.columns
        self.total = [0.0] * tl.columns
        self.count = [0] * tl.columns

    def add(self, t_ms: int, v: float | None) -> None:
        if v is None or not math.isfinite(v):
            return
        c = self.tl.column(t_ms)
        lo, hi = self.lo[c], self.hi[c]
        self.lo[c] = v if lo is None else min(v, lo)
        self.hi[c] = v if hi is None else max(v, hi)
        self.total[c] += v
        self.count[c] += 1

    def band(self) -> Band:
        mean = tuple(t / n if n else None for t, n in zip(self.total, self.count))
        return Band(self.label, tuple(self.lo), mean, tuple(self.hi))


def band(tl: Timeline, label: str, ts: Sequence[int], values: Sequence[float | None]) -> Band:
    acc = BandAcc(tl, label)
    for t, v in zip(ts, values):
        acc.add(t, v)
    return acc.band()


def _carry(cells: tuple[float | None, ...], gap: int = 3) -> tuple[float | None, ...]:
    """Empty columns take the value before them, for up to `gap` columns (sample jitter)."""
    out = list(cells)
    last, since = None, 0
    for c, v in enumerate(out):
        if v is None:
            since += 1
            if last is not None and since <= gap:
                out[c] = last
        else:
            last, since = v, 0
    return tuple(out)


class _ZoneAcc:
    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self.watermarks = [BandAcc(tl, label) for label in ("free", "min", "low", "high")]
        self.blocks: list[BandAcc] = []
        self.frag: list[BandAcc] = []

    def add(self, t: int, st: SystemState, node: int, zone: str) -> None:
        z = st.zoneinfo.zone(node, zone) if st.zoneinfo else None
        if z is not None:
            for acc, v in zip(self.watermarks, (z.free_pages, z.min_pages, z.low_pages, z.high_pages)):
                acc.add(t, float(v))
        fa = st.buddyinfo.zone(node, zone) if st.buddyinfo else None
        if fa is None:
            return
        while len(self.blocks) < len(fa.free_blocks):
            self.blocks.append(BandAcc(self.tl, str(len(self.blocks))))
            self.frag.append(BandAcc(self.tl, str(len(self.frag))))
        for order, n in enumerate(fa.free_blocks):
            self.blocks[order].add(t, float(n))
            self.frag[order].add(t, fragmentation_index_milli(fa.free_blocks, order) / 1000)

    def grids(self) -> tuple[Grid, Grid]:
        rows = tuple(a.label for a in self.blocks)
        return (
            Grid("free blocks", rows, tuple(_carry(a.band().mean) for a in self.blocks)),
            Grid("fragmentation index", rows, tuple(_carry(a.band().mean) for a in self.frag)),
        )


class Charts:
    """Every time chart of the page, fed one sample at a time (`add`); the samples within
    `keep_ms` of a time in `keep_near` are also kept whole for the before/after tables."""

    def __init__(self, tl: Timeline, keep_near: Sequence[int] = (), keep_ms: int = 0) -> None:
        self.tl = tl
        self.zones: dict[tuple[int, str], _ZoneAcc] = {}
        self.rates = [
            (title, unit, [BandAcc(tl, label) for label, _ in series]) for title, unit, series in RATE_CHARTS
        ]
        self.keep = sorted(keep_near)
        self.keep_ms = keep_ms
        self.kept: tuple[list[int], list[SystemState], list[Rates | None]] = ([], [], [])
        self.samples = 0
        self.runs: set[int] = set()

    def add(self, t: int, st: SystemState, rates: Rates | None) -> None:
        self.samples += 1
        for z in st.zoneinfo.zones if st.zoneinfo else ():
            if z.managed_pages != 0 and (z.node, z.zone) not in self.zones:
                self.zones[(z.node, z.zone)] = _ZoneAcc(self.tl)
        for fa in st.buddyinfo.zones if st.buddyinfo else ():
            if (fa.node, fa.zone) not in self.zones:
                self.zones[(fa.node, fa.zone)] = _ZoneAcc(self.tl)
        for (node, zone), zacc in self.zones.items():
            zacc.add(t, st, node, zone)
        if rates is not None:
            for (_, _, accs), (_, _, series) in zip(self.rates, RATE_CHARTS):
                for acc, (_, get) in zip(accs, series):
                    acc.add(t, get(rates))
        if any(abs(t - k) <= self.keep_ms for k in self.keep):
            self.kept[0].append(t)
            self.kept[1].append(st)
            self.kept[2].append(rates)

    def zone_bands(self, node: int, zone: str) -> list[Band]:
        return [a.band() for a in self.zones[(node, zone)].watermarks]

    def order_grids(self, node: int, zone: str) -> tuple[Grid, Grid]:
        return self.zones[(node, zone)].grids()

    def rate_bands(self) -> list[tuple[str, str, list[Band]]]:
        return [(title, unit, [a.band() for a in accs]) for title, unit, accs in self.rates]

    def near_markers(self) -> Sampled:
        return Sampled(tuple(self.kept[0]), tuple(self.kept[1]), tuple(self.kept[2]))


def chart(
    points: Iterable[Point],
    runs: Mapping[int, Run],
    tl: Timeline,
    keep_near: Sequence[int] = (),
    keep_ms: int = 0,
) -> Charts:
    """Each point as a state (store.state_of) with rates against the previous point of its
    run, into Charts; only the previous state of each run is held."""
    charts = Charts(tl, keep_near, keep_ms)
    prev: dict[int, SystemState] = {}
    for p in points:
        state = state_of(p, runs[p.run])
        before = prev.get(p.run)
        try:
            rates = compute_rates(before, state) if before is not None else None
        except RateError:
            rates = None
        prev[p.run] = state
        charts.runs.add(p.run)
        charts.add(p.t_ms, state, rates)
    return charts


__all__ = [
    "COLUMNS",
    "RATE_CHARTS",
    "Band",
    "BandAcc",
    "Charts",
    "Grid",
    "Sampled",
    "Timeline",
    "band",
    "chart",
    "columns_for",
]
