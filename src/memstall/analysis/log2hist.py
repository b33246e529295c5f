"""Log2 latency histograms in microseconds (the buckets of bcc's `print_log2_hist`).

Bucket k holds values v with v.bit_length() == k: bucket 0 is v == 0, bucket k >= 1 is
[2**(k-1), 2**k - 1]. Both the pipe path (Python) and the kernel's hist trigger
(`.log2` modifier) bucket this way, so their histograms compare bucket by bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def bucket_of(value_us: int) -> int:
    return max(value_us, 0).bit_length()


def bucket_range_us(bucket: int) -> tuple[int, int]:
    """The inclusive [low, high] microseconds of a bucket."""
    if bucket == 0:
        return (0, 0)
    return (1 << (bucket - 1), (1 << bucket) - 1)


@dataclass
class Log2Hist:
    """A mutable accumulator; `counts` maps bucket -> count; sums kept for the mean."""

    counts: dict[int, int] = field(default_factory=dict)
    total_us: int = 0
    n: int = 0
    max_us: int = 0

    def add(self, value_us: int) -> None:
        b = max(value_us, 0).bit_length()
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


def counts_by_low_us(hist: Log2Hist) -> Mapping[int, int]:
    """{bucket low bound in µs: count}, ascending (the JSON shape)."""
    return {bucket_range_us(b)[0]: hist.counts[b] for b in sorted(hist.counts)}
