"""Host-wide meminfo and vmstat from the per-node files, when proc/ lacks them.

sys/devices/system/node/nodeN/{meminfo,vmstat} hold each node's share. Summed over every
node they give the host's value for the fields every node file prints; the per-node files
lack some host-wide lines (meminfo: MemAvailable, Cached, Swap*; vmstat: the event counters
such as pgscan_* and allocstall_*, which the kernel keeps per CPU, not per node), which
stay absent rather than zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from memstall.model.meminfo import MemInfo
from memstall.model.vmstat import VmStat

V = TypeVar("V")


def _sum_common(parts: list[Mapping[str, int]]) -> dict[str, int]:
    """Σ per key over `parts`, only for the keys every part has."""
    if not parts:
        return {}
    common = set(parts[0]).intersection(*parts[1:])
    return {k: sum(p[k] for p in parts) for k in parts[0] if k in common}


def sum_meminfo(nodes: Mapping[int, MemInfo]) -> MemInfo:
    """
    >>> a = MemInfo({"MemTotal": 100, "MemFree": 10}, {"HugePages_Total": 2})
    >>> b = MemInfo({"MemTotal": 50}, {"HugePages_Total": 1})
    >>> s = sum_meminfo({0: a, 1: b})
    >>> s.fields_kib, s.counts
    ({'MemTotal': 150}, {'HugePages_Total': 3})
    """
    parts = list(nodes.values())
    return MemInfo(_sum_common([p.fields_kib for p in parts]), _sum_common([p.counts for p in parts]))


def sum_vmstat(nodes: Mapping[int, VmStat]) -> VmStat:
    return VmStat(_sum_common([p.counters for p in nodes.values()]))


def missing_nodes(files: Mapping[int, V], zone_nodes: tuple[int, ...]) -> tuple[int, ...]:
    """Nodes with zones but no per-node file: summing without them would undercount."""
    return tuple(n for n in zone_nodes if n not in files)
