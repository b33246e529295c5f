"""Before/after each tune transaction: the mean of each measure in the window before the
marker and in the window after it, the change in %, and whether the change is beyond the
noise of the period before (more than twice the standard deviation of its samples). Pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memstall.analysis.rates import Rates, sum_zoned
from memstall.model.state import SystemState
from memstall.outputs.report.series import Sampled
from memstall.store import Marker

WINDOW_MS = 300_000
"""At most 5 minutes on each side, and never past the neighbouring marker."""
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Row:
    measure: str
    before: float | None
    after: float | None
    change_pct: float | None
    noise: float | None
    """Two standard deviations of the before-samples; None with fewer than MIN_SAMPLES."""
    beyond_noise: bool | None


@dataclass(frozen=True)
class Comparison:
    marker: Marker
    before_ms: tuple[int, int]
    after_ms: tuple[int, int]
    samples: tuple[int, int]
    rows: tuple[Row, ...]


def _high_order_free(st: SystemState, order: int) -> float | None:
    if st.buddyinfo is None:
        return None
    return float(sum(n << k for z in st.buddyinfo.zones for k, n in enumerate(z.free_blocks) if k >= order))


def _headroom(st: SystemState) -> float | None:
    """The smallest free - low over populated zones (pages): how far the tightest zone is from kswapd."""
    zs = [z for z in (st.zoneinfo.zones if st.zoneinfo else ()) if z.managed_pages]
    return float(min(z.free_pages - z.low_pages for z in zs)) if zs else None


StateMeasure = Callable[[SystemState], "float | None"]
RateMeasure = Callable[[Rates], "float | None"]
STATE_MEASURES: tuple[tuple[str, StateMeasure], ...] = (
    (
        "free pages, all zones",
        lambda st: float(sum(z.free_pages for z in st.zoneinfo.zones)) if st.zoneinfo else None,
    ),
    ("tightest zone free - low (pages)", _headroom),
    ("free pages in blocks of order >= 4", lambda st: _high_order_free(st, 4)),
    ("free pages in blocks of order >= 9", lambda st: _high_order_free(st, 9)),
)
RATE_MEASURES: tuple[tuple[str, RateMeasure], ...] = (
    ("allocstall /s", lambda r: sum_zoned(r, "allocstall")),
    ("pgscan direct /s", lambda r: sum_zoned(r, "pgscan_direct")),
    ("pgscan kswapd /s", lambda r: sum_zoned(r, "pgscan_kswapd")),
    ("compact_stall /s", lambda r: r.per_second.get("compact_stall")),
    ("compact_fail /s", lambda r: r.per_second.get("compact_fail")),
    ("kswapd_low_wmark_hit_quickly /s", lambda r: r.per_second.get("kswapd_low_wmark_hit_quickly")),
    ("PSI some (share of time)", lambda r: r.psi_some_ratio),
    ("PSI full (share of time)", lambda r: r.psi_full_ratio),
)


def _row(measure: str, before: Sequence[float], after: Sequence[float]) -> Row:
    b = statistics.fmean(before) if before else None
    a = statistics.fmean(after) if after else None
    change = None if a is None or b is None or b == 0 else (a - b) / abs(b) * 100
    noise = 2 * statistics.pstdev(before) if len(before) >= MIN_SAMPLES else None
    beyond = None if noise is None or a is None or b is None else abs(a - b) > noise
    return Row(measure, b, a, change, noise, beyond)


def compare(s: Sampled, marker: Marker, prev_ms: int | None, next_ms: int | None) -> Comparison:
    t = marker.t_ms
    lo = max(t - WINDOW_MS, prev_ms if prev_ms is not None else t - WINDOW_MS)
    hi = min(t + WINDOW_MS, next_ms if next_ms is not None else t + WINDOW_MS)
    before = [i for i, x in enumerate(s.t_ms) if lo <= x < t]
    after = [i for i, x in enumerate(s.t_ms) if t <= x <= hi]
    rows = []
    for name, get in STATE_MEASURES:
        vals = [[v for i in idx if (v := get(s.states[i])) is not None] for idx in (before, after)]
        rows.append(_row(name, *vals))
    for name, rget in RATE_MEASURES:
        # a rate belongs to the side its whole interval lies on: the first sample after is mixed
        vals = [
            [v for i in idx[skip:] if (r := s.rates[i]) is not None and (v := rget(r)) is not None]
            for idx, skip in ((before, 0), (after, 1))
        ]
        rows.append(_row(name, *vals))
    first = s.t_ms[before[0]] if before else t
    last = s.t_ms[after[-1]] if after else t
    return Comparison(marker, (first, t), (t, last), (len(before), len(after)), tuple(rows))


def comparisons(s: Sampled, markers: Sequence[Marker]) -> list[Comparison]:
    shown = [m for m in markers if m.action in ("apply", "rollback", "failed")]
    times = [m.t_ms for m in shown]
    return [
        compare(s, m, times[k - 1] if k else None, times[k + 1] if k + 1 < len(times) else None)
        for k, m in enumerate(shown)
    ]


__all__ = ["MIN_SAMPLES", "WINDOW_MS", "Comparison", "Row", "compare", "comparisons"]
