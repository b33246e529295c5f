"""/proc/vmstat (and per-node vmstat) model.

Every name starting with `nr_` is a gauge; every other name is a monotonically
increasing event counter (analysis/rates.py relies on this rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Lower-case zone names as vmstat suffixes them (allocstall_dma32, pgscan_direct_normal...).
ZONE_SUFFIXES = ("dma", "dma32", "normal", "high", "movable", "device")


def zoned_names(name: str) -> tuple[str, ...]:
    """`name` and its per-zone forms, in that order."""
    return (name, *(f"{name}_{z}" for z in ZONE_SUFFIXES))


def is_gauge(name: str) -> bool:
    return name.startswith("nr_")


@dataclass(frozen=True)
class VmStat:
    counters: Mapping[str, int]

    def get(self, name: str) -> int | None:
        return self.counters.get(name)

    def sum_zoned(self, name: str) -> int | None:
        """`name` plus every per-zone `name_<zone>`; None if no form is present.

        `allocstall` was split per zone in 4.8 (`allocstall_normal`...); summing both
        forms gives one number on every kernel. Only zone suffixes count:
        `pgscan_direct_throttle` is not part of `pgscan_direct`.
        """
        values = [self.counters[n] for n in zoned_names(name) if n in self.counters]
        return sum(values) if values else None
