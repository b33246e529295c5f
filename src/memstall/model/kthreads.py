"""CPU time of the memory-management kernel threads (kswapdN, kcompactdN)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NODE_SUFFIX = re.compile(r"^(?:kswapd|kcompactd)(\d+)$")


@dataclass(frozen=True)
class KThreadStat:
    """From /proc/<pid>/stat: utime and stime in clock ticks (USER_HZ: docs/kernel.md#clock-ticks)."""

    pid: int
    comm: str
    state: str
    utime_ticks: int
    stime_ticks: int
    starttime_ticks: int

    @property
    def cpu_ticks(self) -> int:
        return self.utime_ticks + self.stime_ticks

    @property
    def node(self) -> int | None:
        """kswapd0 -> 0, kcompactd1 -> 1."""
        m = _NODE_SUFFIX.search(self.comm)
        return int(m.group(1)) if m else None
