"""Summaries of a StallTracker for other commands: per-kind latency (diagnose's evidence),
per-kind totals (record), per-order histograms (the exporter)."""

from __future__ import annotations

from memstall.analysis.log2hist import Log2Hist
from memstall.analysis.stall_trace import KINDS, StallTracker
from memstall.model.trace import KindLatency, TracedStalls


def by_kind(tracker: StallTracker) -> dict[str, Log2Hist]:
    """One histogram per kind (orders and gfp flags merged); kinds without stalls left out."""
    out: dict[str, Log2Hist] = {}
    for (kind, _order, _gfp), hist in tracker.hists.items():
        out.setdefault(kind, Log2Hist()).merge(hist)
    return {k: out[k] for k in KINDS if k in out}


def by_kind_order(tracker: StallTracker) -> dict[tuple[str, int | None], Log2Hist]:
    """One histogram per (kind, order), gfp flags merged."""
    out: dict[tuple[str, int | None], Log2Hist] = {}
    for (kind, order, _gfp), hist in tracker.hists.items():
        out.setdefault((kind, order), Log2Hist()).merge(hist)
    return out


def traced_stalls(tracker: StallTracker, wall_seconds: float, method: str,
                  lost_events: int = 0) -> TracedStalls:
    kinds = {}
    for kind, hist in by_kind(tracker).items():
        orders: dict[int, int] = {}
        for (k, order, _gfp), h in tracker.hists.items():
            if k == kind and order is not None:
                orders[order] = orders.get(order, 0) + h.n
        # a bucket's bound may pass the largest value seen: never report more than that
        p50, p99 = (min(hist.percentile_us(q), hist.max_us) / 1e6 for q in (0.5, 0.99))
        kinds[kind] = KindLatency(kind, hist.n, hist.total_us / 1e6, p50, p99, hist.max_us / 1e6,
                                  dict(sorted(orders.items())))
    return TracedStalls(round(wall_seconds, 3), method, kinds, lost_events)
