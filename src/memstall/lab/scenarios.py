"""The scenarios a lab run drives: what the guest does, sized from its memory.

Each returns the shell assignments the guest's /init reads from /lab/params. Sizes are
per NUMA node where the workload is bound to a node (one process per node and CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.analysis.stall_trace import EVENTS
from memstall.errors import UsageError


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    disk: bool
    """Needs a virtio disk with a file system (page cache with writeback)."""


SCENARIOS = {s.name: s for s in (
    Scenario("fragmentation",
             "fill each node with 4 KiB pages, free every other one, then time unmovable "
             "order-4 kernel allocations (pipe arrays): direct compaction", disk=False),
    Scenario("cache-pressure",
             "write 1.5x memory of files on an ext4 virtio disk in 1 MiB writes, timed: page "
             "cache filling memory with dirty writeback", disk=True),
    Scenario("thp",
             "fragment each node as in fragmentation, then time 2 MiB THP faults "
             "(MADV_HUGEPAGE) under the THP defrag mode asked for", disk=False),
    Scenario("seed",
             "the incident's shape: hugetlb reserves half of memory, page cache with dirty "
             "writeback fills the rest, and timed sends of ~7 KB datagrams on many AF_UNIX "
             "socket pairs make an order-1 GFP_KERNEL-heavy load (kmalloc-8k slabs)", disk=True),
)}

THP_DEFRAG_MODES = ("always", "defer", "defer+madvise", "madvise", "never")


def scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise UsageError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def guest_params(name: str, memory_mib: int, nodes: int, duration_seconds: int,
                 interval_seconds: float, thp_defrag: str | None = None) -> dict[str, str]:
    """The /lab/params assignments for one run (every value a plain token)."""
    node_mib = memory_mib // nodes
    p = {"SCENARIO": name, "NODES": str(nodes), "DEADLINE": str(duration_seconds),
         "INTERVAL": f"{interval_seconds:g}",
         # snapshots are bounded: the console carries each one base64-encoded
         "MAXSNAPS": str(max(3, min(60, int(duration_seconds / max(interval_seconds, 0.5)) + 3))),
         # the tracepoints the guest enables (system/event), paired on the host (metrics.py)
         "TRACE_EVENTS": " ".join(f"{system}/{event}" for system, event in EVENTS)}
    if name == "fragmentation":
        # order-4 blocks worth 1/4 of the node: far more than the free high-order blocks left
        p.update(ORDER="4", COUNT=str(node_mib * 1024 // 64 // 4))
    elif name == "thp":
        p.update(THP_MB=str(max(16, node_mib // 4)))
        if thp_defrag:
            if thp_defrag not in THP_DEFRAG_MODES:
                raise UsageError(f"--thp-defrag {thp_defrag!r}: choose from {', '.join(THP_DEFRAG_MODES)}")
            p["THP_DEFRAG"] = thp_defrag
    elif name == "cache-pressure":
        p.update(CACHE_MB=str(memory_mib * 3 // 2), DISK="1")
    elif name == "seed":
        # hugetlb pages of 2 MiB for half of memory; files for the other half and more;
        # then socket queues of about a quarter of memory (a full AF_UNIX send buffer holds
        # ~200 KiB: wmem_default 212992), which must come out of the page cache
        p.update(HUGEPAGES=str(memory_mib // 4), CACHE_MB=str(memory_mib), DISK="1",
                 PAIRS=str(memory_mib * 5 // 4), SIZE="7000",
                 # set before the profile, so a profile that names them wins:
                 # a large share of the cache dirty, as in the incident; and
                 # min_free_kbytes in the incident's proportion (90112 kB of 256 GiB,
                 # 0.034 %; floor 1024 kB). Left alone, a small guest's min_free_kbytes
                 # is the THP-recommended one (~45 MB per GiB), whose min/4 gap hides
                 # watermark_scale_factor below ~200 (low = min + max(min/4, wsf * managed / 10000)).
                 PRESET=f"vm/min_free_kbytes={max(1024, memory_mib * 1024 * 90112 // (256 << 20))} "
                        "vm/dirty_ratio=40 vm/dirty_background_ratio=20")
    return p


def params_file(params: dict[str, str]) -> bytes:
    """Shell assignments, single-quoted (no value holds a quote: all are built here)."""
    if any("'" in v or "\n" in v for v in params.values()):
        raise UsageError("a scenario parameter holds a quote or a newline")
    return "".join(f"{k}='{v}'\n" for k, v in sorted(params.items())).encode()
