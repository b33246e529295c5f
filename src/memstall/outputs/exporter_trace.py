"""`memstall exporter --trace`: stall latency histograms from a background tracer.

A collector of its own, registered beside MemstallCollector only when `--trace` is given:

    memstall_direct_reclaim_seconds{order}     histogram  direct reclaim, begin -> end
    memstall_memcg_reclaim_seconds{order}      histogram  reclaim at a memory cgroup's limit
    memstall_compaction_stall_seconds{order}   histogram  direct compaction windows
    memstall_trace_info{method}                gauge 1    hist (in the kernel) or pipe
    memstall_trace_lost_events_total           counter    events the ring buffer overwrote

The tracer's histograms are exact log2 buckets in microseconds (analysis/log2hist.py: bucket
k holds 2**(k-1) < v <= 2**k), so the cumulative count at `le = 2**k µs` is exact for every
k; every second power from 16 µs to 16.8 s is exported (11 bounds and +Inf per series).
Counts and sums only grow while the tracer runs, as a Prometheus histogram needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from memstall.analysis.log2hist import Log2Hist
from memstall.analysis.stall_summary import by_kind_order
from memstall.analysis.stall_trace import DIRECT_COMPACTION, DIRECT_RECLAIM, MEMCG_RECLAIM, StallTracker

LE_BUCKETS = tuple(range(4, 25, 2))  # k of the `le = 2**k µs` bounds
FAMILIES = (
    (DIRECT_RECLAIM, "memstall_direct_reclaim_seconds",
     "time allocating tasks spent in direct reclaim, per reclaim (traced)"),
    (MEMCG_RECLAIM, "memstall_memcg_reclaim_seconds",
     "time tasks spent reclaiming at their memory cgroup's limit, per reclaim (traced)"),
    (DIRECT_COMPACTION, "memstall_compaction_stall_seconds",
     "time allocating tasks spent in direct compaction, per attempt (traced)"),
)


def cumulative_buckets(hist: Log2Hist) -> list[tuple[str, float]]:
    """[(le, cumulative count)] at the LE_BUCKETS bounds, then +Inf.

    >>> h = Log2Hist(); h.add(10); h.add(100); h.add(10**7)
    >>> cumulative_buckets(h)[:3]
    [('1.6e-05', 1), ('6.4e-05', 1), ('0.000256', 2)]
    """
    out: list[tuple[str, float]] = []
    for k in LE_BUCKETS:
        out.append((repr((1 << k) / 1e6), sum(n for b, n in hist.counts.items() if b <= k)))
    out.append(("+Inf", hist.n))
    return out


class StallTraceCollector(Collector):
    """The histograms of `current()` (BackgroundTrace.current: the totals so far)."""

    def __init__(self, current: Callable[[], StallTracker], method: str,
                 lost_events: Callable[[], int]) -> None:
        self.current = current
        self.method = method
        self.lost_events = lost_events

    def collect(self) -> Iterator[Metric]:
        per_order = by_kind_order(self.current())
        for kind, name, doc in FAMILIES:
            family = HistogramMetricFamily(name, doc, labels=["order"])
            for (k, order), hist in sorted(per_order.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)):
                if k == kind and order is not None:
                    family.add_metric([str(order)], cumulative_buckets(hist), hist.total_us / 1e6)
            yield family
        info = GaugeMetricFamily("memstall_trace_info", "the tracing method: hist (latencies built "
                                 "in the kernel) or pipe (every event read); always 1", labels=["method"])
        info.add_metric([self.method], 1)
        yield info
        yield CounterMetricFamily("memstall_trace_lost_events", "events the trace ring buffer "
                                  "overwrote before they were read", value=self.lost_events())
