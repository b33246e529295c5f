"""Log2 latency histograms in microseconds, bucketed exactly as the kernel's hist trigger.

The `.log2` modifier of a hist trigger keys a value v by `ilog2(roundup_pow_of_two(v))`
(kernel/trace/trace_events_hist.c, hist_field_log2, since 4.7), printed `~ 2^k`: bucket k
holds 2**(k-1) < v <= 2**k, bucket 0 holds 0 and 1. The pipe path uses the same buckets, so
both paths give the same histogram bucket for bucket (checked on a QEMU guest's capture in
tests/test_trace_hist.py), and a bucket's upper bound is a Prometheus `le` bound. (bcc's
`print_log2_hist` differs: its bucket k is [2**(k-1), 2**k - 1].)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def bucket_of(value_us: int) -> int:
    """ilog2(roundup_pow_of_two(v)): the smallest k with v <= 2**k (0 for v <= 1)."""
    return (value_us - 1).bit_length() if value_us > 1 else 0


def bucket_range_us(bucket: int) -> tuple[int, int]:
    """The inclusive [low, high] microseconds of a bucket."""
    if bucket == 0:
        return (0, 1)
    return ((1 << (bucket - 1)) + 1, 1 << bucket)


@dataclass
class Log2Hist:
    """A mutable accumulator; `counts` maps bucket -> count; sums kept for the mean."""

    counts: dict[int, int] = field(default_factory=dict)
    total_us: int = 0
    n: int = 0
    max_us: int = 0

    def add(self, value_us: int) -> None:
        b = (value_us - 1).bit_length() if value_us > 1 else 0
        self.counts[b] = self.counts.get(b, 0) + 1
        self.total_us += value_us
        self.n += 1
        self.max_us = max(self.max_us, value_us)

    def merge(self, other: Log2Hist) -> None:
        for b, c in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + c
        self.total_us += other.total_us
        self.n += other.n
        self.max_us = max(self.max_us, other.max_us)

    def percentile_us(self, q: float) -> int:
        """Upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty."""
        if self.n == 0:
            return 0
        need = q * self.n
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= need:
                return bucket_range_us(b)[1]
        return self.max_us


def counts_by_high_us(hist: Log2Hist) -> Mapping[int, int]:
    """{bucket upper bound in µs (2**k, the kernel's `~ 2^k`): count}, ascending (the JSON shape)."""
    return {bucket_range_us(b)[1]: hist.counts[b] for b in sorted(hist.counts)}
