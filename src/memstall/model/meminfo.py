"""/proc/meminfo (and per-node meminfo) model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MemInfo:
    """`fields_kib` holds the `kB` lines, `counts` the unitless ones (HugePages_Total...)."""

    fields_kib: Mapping[str, int]
    counts: Mapping[str, int]

    def kib(self, name: str) -> int | None:
        return self.fields_kib.get(name)

    def count(self, name: str) -> int | None:
        return self.counts.get(name)
