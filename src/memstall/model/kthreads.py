"""CPU time of the memory-management kernel threads (kswapdN, kcompactdN)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NODE_SUFFIX = re.compile(r"^(?:kswapd|kcompactd)(\d+)$")

ASSUMED_USER_HZ = 100
"""USER_HZ when a capture did not record it: 100 (include/asm-generic/param.h) on every
architecture but alpha (1024, arch/alpha/include/asm/param.h) and ia64 (removed in 6.7)."""


@dataclass(frozen=True)
class KThreadStat:
    """From /proc/<pid>/stat: times in clock ticks (SystemState.user_hz; docs/kernel.md#clock-ticks)."""

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


@dataclass(frozen=True)
class KThreadPs:
    """A kswapd/kcompactd row of `ps` output (sosreports keep it, not proc/<pid>/stat)."""

    pid: int
    comm: str
    state: str
    cpu_seconds: int
    """utime + stime in whole seconds (ps rounds down)."""
    cpu_percent: float
    """ps %CPU: CPU time over the time since the thread started, in percent."""

    @property
    def node(self) -> int | None:
        m = _NODE_SUFFIX.search(self.comm.split(":")[0])
        return int(m.group(1)) if m else None
