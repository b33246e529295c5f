"""`memstall top --trace`: the stall-latency lines of the frame, from `memstall trace`'s histograms.

Pure: per kind of stall (direct reclaim, memcg reclaim, direct compaction, other compaction;
analysis/stall_trace.py) the stalls that ended in the last interval, merged over orders and
GFP flags: the count, p50 and p99 (the upper bound of the log2 bucket holding the quantile, as
`memstall trace` prints them, but never above the max) and the exact max. Or one line saying
why there is no trace.
"""

from __future__ import annotations

from collections.abc import Mapping

from memstall.analysis.log2hist import Log2Hist
from memstall.analysis.stall_trace import KINDS
from memstall.outputs.render.safe import safe_text

PREFIX = "trace    "


def duration_text(us: int) -> str:
    """250 -> '250us', 1024 -> '1.0ms', 16384 -> '16ms', 2500000 -> '2.5s'."""
    if us < 1000:
        return f"{us}us"
    if us < 1_000_000:
        return f"{us / 1000:.1f}ms" if us < 10_000 else f"{us // 1000}ms"
    return f"{us / 1e6:.1f}s"


def by_kind(hists: Mapping[tuple[str, int | None, str | None], Log2Hist]) -> dict[str, Log2Hist]:
    """StallTracker.hists (kind, order, gfp) -> one histogram per kind."""
    out: dict[str, Log2Hist] = {}
    for (kind, _order, _gfp), hist in hists.items():
        out.setdefault(kind, Log2Hist()).merge(hist)
    return out


def trace_lines(kinds: Mapping[str, Log2Hist], interval_seconds: float | None) -> list[str]:
    """One line per kind that stalled in the interval, or one saying none did."""
    over = "" if interval_seconds is None else f" in the last {interval_seconds:g}s"
    lines = []
    for kind in sorted(kinds, key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS)):
        h = kinds[kind]
        if h.n:
            p50, p99 = (min(h.percentile_us(q), h.max_us) for q in (0.5, 0.99))  # a bucket's bound
            lines.append(f"{PREFIX}{kind} {h.n}{over}  p50 {duration_text(p50)} p99 {duration_text(p99)} "
                         f"max {duration_text(h.max_us)}")
    return lines or [f"{PREFIX}no direct reclaim or compaction stalls{over}"]


def trace_unavailable(why: str) -> list[str]:
    return [safe_text(f"{PREFIX}not available: {why} (top runs on without it)")]


__all__ = ["PREFIX", "by_kind", "duration_text", "trace_lines", "trace_unavailable"]
