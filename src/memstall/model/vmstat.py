"""/proc/vmstat (and per-node vmstat) model.

Every name starting with `nr_` is a gauge; every other name is a monotonically
increasing event counter (analysis/rates.py relies on this rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def is_gauge(name: str) -> bool:
    return name.startswith("nr_")


@dataclass(frozen=True)
class VmStat:
    counters: Mapping[str, int]

    def get(self, name: str) -> int | None:
        return self.counters.get(name)

    def sum_prefix(self, prefix: str) -> int | None:
        """Sum of every counter named `prefix` or `prefix_*`; None if there is none.

        `allocstall` was split per zone in 4.8 (`allocstall_normal`...); summing both
        forms gives one number on every kernel.
        """
        values = [v for k, v in self.counters.items()
                  if k == prefix or k.startswith(prefix + "_")]
        return sum(values) if values else None
