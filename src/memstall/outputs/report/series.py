"""A stored History -> the numbers the report draws: per-zone free against watermarks,
free blocks and fragmentation index by order, rates, PSI, downsampled to a fixed number of
columns with min, mean and max kept (a one-sample stall still shows as a spike). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memstall.analysis.fragmentation import fragmentation_index_milli
from memstall.analysis.rates import RateError, Rates, compute_rates, sum_zoned
from memstall.model.state import SystemState
from memstall.store import History, state_of

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


@dataclass(frozen=True)
class Sampled:
    """Each point as a state, and the rates against the previous point of its run."""

    t_ms: tuple[int, ...]
    states: tuple[SystemState, ...]
    rates: tuple[Rates | None, ...]


def sampled(history: History) -> Sampled:
    states: list[SystemState] = []
    rates: list[Rates | None] = []
    prev: dict[int, SystemState] = {}
    for p in history.points:
        state = state_of(p, history.runs[p.run])
        before = prev.get(p.run)
        try:
            rates.append(compute_rates(before, state) if before is not None else None)
        except RateError:
            rates.append(None)
        prev[p.run] = state
        states.append(state)
    return Sampled(tuple(p.t_ms for p in history.points), tuple(states), tuple(rates))


def band(tl: Timeline, label: str, ts: Sequence[int], values: Sequence[float | None]) -> Band:
    lo: list[float | None] = [None] * tl.columns
    hi: list[float | None] = [None] * tl.columns
    total = [0.0] * tl.columns
    count = [0] * tl.columns
    for t, v in zip(ts, values):
        if v is None or not math.isfinite(v):
            continue
        c = tl.column(t)
        lo[c] = v if lo[c] is None else min(v, lo[c])  # type: ignore[type-var]
        hi[c] = v if hi[c] is None else max(v, hi[c])  # type: ignore[type-var]
        total[c] += v
        count[c] += 1
    mean = tuple(total[c] / count[c] if count[c] else None for c in range(tl.columns))
    return Band(label, tuple(lo), mean, tuple(hi))


def grid(
    tl: Timeline, label: str, ts: Sequence[int], rows: Sequence[str], values: Sequence[Sequence[float] | None]
) -> Grid:
    b = [
        band(tl, r, ts, [None if v is None or i >= len(v) else v[i] for v in values])
        for i, r in enumerate(rows)
    ]
    return Grid(label, tuple(rows), tuple(_carry(x.mean) for x in b))


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


def zones(s: Sampled) -> list[tuple[int, str]]:
    seen: dict[tuple[int, str], None] = {}
    for st in s.states:
        for z in st.zoneinfo.zones if st.zoneinfo else ():
            if z.managed_pages != 0:
                seen[(z.node, z.zone)] = None
        for fa in st.buddyinfo.zones if st.buddyinfo else ():
            seen.setdefault((fa.node, fa.zone), None)
    return list(seen)


def zone_bands(tl: Timeline, s: Sampled, node: int, zone: str) -> list[Band]:
    def field(get: Callable[[SystemState], int | None]) -> list[float | None]:
        return [None if v is None else float(v) for v in map(get, s.states)]

    def z(st: SystemState) -> object:
        return st.zoneinfo.zone(node, zone) if st.zoneinfo else None

    out = []
    for label, attr in (
        ("free", "free_pages"),
        ("min", "min_pages"),
        ("low", "low_pages"),
        ("high", "high_pages"),
    ):
        out.append(band(tl, label, s.t_ms, field(lambda st, a=attr: getattr(z(st), a, None))))  # type: ignore[misc]
    return out


def order_grids(tl: Timeline, s: Sampled, node: int, zone: str) -> tuple[Grid, Grid]:
    blocks: list[Sequence[float] | None] = []
    frag: list[Sequence[float] | None] = []
    for st in s.states:
        fa = st.buddyinfo.zone(node, zone) if st.buddyinfo else None
        if fa is None:
            blocks.append(None)
            frag.append(None)
            continue
        blocks.append([float(n) for n in fa.free_blocks])
        frag.append([fragmentation_index_milli(fa.free_blocks, o) / 1000 for o in range(len(fa.free_blocks))])
    orders = max((len(b) for b in blocks if b is not None), default=0)
    rows = [str(o) for o in range(orders)]
    return (
        grid(tl, "free blocks", s.t_ms, rows, blocks),
        grid(tl, "fragmentation index", s.t_ms, rows, frag),
    )


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


def rate_bands(tl: Timeline, s: Sampled) -> list[tuple[str, str, list[Band]]]:
    out = []
    for title, unit, series in RATE_CHARTS:
        bands = [
            band(tl, label, s.t_ms, [None if r is None else get(r) for r in s.rates]) for label, get in series
        ]
        out.append((title, unit, bands))
    return out


__all__ = [
    "COLUMNS",
    "RATE_CHARTS",
    "Band",
    "Grid",
    "Sampled",
    "Timeline",
    "band",
    "columns_for",
    "grid",
    "order_grids",
    "rate_bands",
    "sampled",
    "zone_bands",
    "zones",
]
