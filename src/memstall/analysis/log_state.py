"""A kernel log's Mem-Info dump as the same `SystemState` a live snapshot gives.

`state_from_mem_info(dump)` is what `diagnose --log` and `logs --as-snapshot` run on. The
dump prints kB; the model holds pages, converted with the page size (from the caller, else
from the buddy lines' base block size: `*4kB` = 4 KiB pages, `*64kB` = 64 KiB pages).

What the log does not say is not invented, and what is inferred is said in `notes`:

* a zone or buddy line without `Node N` (non-NUMA kernels, 4.9 KERN_CONT breakage) gets the
  node of the line before it, or 0;
* `spanned` is not printed: it is set to `present`; a 2.6 zone line without `present:` gets
  `managed`, else 0;
* zones that have a buddy line but no zone line (the 4.9 seed log's node 1) are absent from
  `zoneinfo` and listed in notes (analysis/zone_estimate.py estimates them);
* `MemInfo`: only what Mem-Info prints (free, LRU lists, dirty, writeback, slab, shmem, swap,
  hugepages; `Cached` from the page-cache total minus the swap cache); `MemTotal` only when
  every node's zones were printed.
"""

from __future__ import annotations

from collections.abc import Mapping

from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.model.kernlog import MemInfoDump, MemInfoZone
from memstall.model.meminfo import MemInfo
from memstall.model.state import SystemState
from memstall.model.zones import NodeStats, Zone, ZoneInfo

# Zone-line kB fields -> /proc/zoneinfo counter names (pages).
_ZONE_COUNTERS = {
    "active_anon": "nr_zone_active_anon", "inactive_anon": "nr_zone_inactive_anon",
    "active_file": "nr_zone_active_file", "inactive_file": "nr_zone_inactive_file",
    "unevictable": "nr_zone_unevictable", "writepending": "nr_zone_write_pending",
    "mlocked": "nr_mlock", "bounce": "nr_bounce", "free_cma": "nr_free_cma",
    "pagetables": "nr_page_table_pages", "slab_reclaimable": "nr_slab_reclaimable",
    "slab_unreclaimable": "nr_slab_unreclaimable",
}
# Node-line kB fields (4.8+) -> per-node counter names (pages).
_NODE_COUNTERS = {
    "active_anon": "nr_active_anon", "inactive_anon": "nr_inactive_anon",
    "active_file": "nr_active_file", "inactive_file": "nr_inactive_file",
    "unevictable": "nr_unevictable", "isolated(anon)": "nr_isolated_anon",
    "isolated(file)": "nr_isolated_file", "mapped": "nr_mapped", "dirty": "nr_dirty",
    "writeback": "nr_writeback", "shmem": "nr_shmem", "writeback_tmp": "nr_writeback_temp",
}
# Summary counters (pages) -> /proc/meminfo names (kB).
_MEMINFO_FROM_SUMMARY = {
    "free": "MemFree", "active_anon": "Active(anon)", "inactive_anon": "Inactive(anon)",
    "active_file": "Active(file)", "inactive_file": "Inactive(file)", "unevictable": "Unevictable",
    "dirty": "Dirty", "writeback": "Writeback", "mapped": "Mapped", "shmem": "Shmem",
    "slab_reclaimable": "SReclaimable", "slab_unreclaimable": "SUnreclaim",
    "pagetables": "PageTables", "bounce": "Bounce",
}
_MEMINFO_FROM_NODE = {
    "active_anon": "Active(anon)", "inactive_anon": "Inactive(anon)", "active_file": "Active(file)",
    "inactive_file": "Inactive(file)", "unevictable": "Unevictable", "mapped": "Mapped",
    "dirty": "Dirty", "writeback": "Writeback", "shmem": "Shmem",
}

NOT_IN_LOG = "not printed in a kernel-log Mem-Info"


def infer_page_size(dump: MemInfoDump) -> int | None:
    """The page size the buddy lines imply (their order-0 block size), if they agree."""
    bases = {b.base_kb for b in dump.buddy if b.base_kb is not None}
    return bases.pop() * 1024 if len(bases) == 1 else None


def resolved_nodes(dump: MemInfoDump) -> tuple[list[int], list[int]]:
    """Node of every zone line and every buddy line; None becomes the previous line's node or 0."""
    def resolve(nodes: list[int | None]) -> list[int]:
        out, last = [], 0
        for n in nodes:
            last = n if n is not None else last
            out.append(last)
        return out
    return resolve([z.node for z in dump.zones]), resolve([b.node for b in dump.buddy])


def _zone(z: MemInfoZone, node: int, page_kb: int, notes: list[str]) -> Zone | None:
    kb = z.fields_kb
    if any(k not in kb for k in ("free", "min", "low", "high")):
        notes.append(f"node{node}/{z.zone}: zone line without free/min/low/high, left out")
        return None
    present = kb.get("present", kb.get("managed"))
    if present is None:
        notes.append(f"node{node}/{z.zone}: present not printed, set to 0")
    counters = {"nr_free_pages": kb["free"] // page_kb}
    counters.update({name: kb[k] // page_kb for k, name in _ZONE_COUNTERS.items() if k in kb})
    return Zone(
        node=node, zone=z.zone, free_pages=kb["free"] // page_kb, min_pages=kb["min"] // page_kb,
        low_pages=kb["low"] // page_kb, high_pages=kb["high"] // page_kb,
        spanned_pages=(present or 0) // page_kb, present_pages=(present or 0) // page_kb,
        managed_pages=kb["managed"] // page_kb if "managed" in kb else None,
        boost_pages=kb["boost"] // page_kb if "boost" in kb else None,
        protection_pages=z.lowmem_reserve or (), counters=counters,
    )


def _zoneinfo(dump: MemInfoDump, page_kb: int, notes: list[str]) -> ZoneInfo | None:
    zone_nodes, _ = resolved_nodes(dump)
    zones = []
    for z, node in zip(dump.zones, zone_nodes):
        if z.node is None:
            notes.append(f"node{node}/{z.zone}: the zone line has no 'Node N' prefix; node {node} inferred")
        built = _zone(z, node, page_kb, notes)
        if built is not None:
            zones.append(built)
    # /proc/zoneinfo prints a node's stats under its first zone: a node without a zone line
    # keeps its stats in node_meminfo only.
    with_zones = {z.node for z in zones}
    nodes = tuple(NodeStats(n, {name: f[k] // page_kb for k, name in _NODE_COUNTERS.items() if k in f})
                  for n, f in sorted(dump.nodes_kb.items()) if n in with_zones)
    return ZoneInfo(zones=tuple(zones), nodes=nodes) if zones else None


def _buddyinfo(dump: MemInfoDump, page_kb: int, zone_keys: set[tuple[int, str]],
               notes: list[str]) -> BuddyInfo | None:
    _, buddy_nodes = resolved_nodes(dump)
    areas = []
    for b, node in zip(dump.buddy, buddy_nodes):
        if b.empty or b.counts is None:
            continue
        if b.base_kb != page_kb:
            notes.append(f"node{node}/{b.zone}: buddy blocks start at {b.base_kb}kB, not the "
                         f"{page_kb}kB page: left out")
            continue
        areas.append(ZoneFreeAreas(node=node, zone=b.zone, free_blocks=b.counts))
        if (node, b.zone) not in zone_keys:
            notes.append(f"node{node}/{b.zone}: buddy line but no zone line in the log "
                         "(watermarks and managed size unknown)")
    return BuddyInfo(zones=tuple(areas)) if areas else None


def _meminfo(dump: MemInfoDump, zoneinfo: ZoneInfo | None, page_kb: int,
             buddy_nodes: set[int]) -> MemInfo | None:
    s = dump.summary_pages
    kib = {name: s[k] * page_kb for k, name in _MEMINFO_FROM_SUMMARY.items() if k in s}
    if dump.total_pagecache_pages is not None and dump.swap_cache_pages is not None:
        kib["Cached"] = (dump.total_pagecache_pages - dump.swap_cache_pages) * page_kb
    if dump.swap_cache_pages is not None:
        kib["SwapCached"] = dump.swap_cache_pages * page_kb
    if dump.total_swap_kb is not None:
        kib["SwapTotal"] = dump.total_swap_kb
    if dump.free_swap_kb is not None:
        kib["SwapFree"] = dump.free_swap_kb
    if zoneinfo is not None and buddy_nodes <= set(zoneinfo.node_ids) and all(
            z.managed_pages is not None for z in zoneinfo.zones):
        kib["MemTotal"] = sum(z.managed_pages or 0 for z in zoneinfo.zones) * page_kb
    counts: dict[str, int] = {}
    huge = [h for h in dump.hugepages if h.size_kb == 2048] or list(dump.hugepages)
    if huge:
        size = huge[0].size_kb
        same = [h for h in huge if h.size_kb == size]
        counts = {"HugePages_Total": sum(h.total for h in same), "HugePages_Free": sum(h.free for h in same),
                  "HugePages_Surp": sum(h.surp for h in same)}
        kib["Hugepagesize"] = size
        kib["Hugetlb"] = sum(h.total * h.size_kb for h in dump.hugepages)
    return MemInfo(fields_kib=kib, counts=counts) if kib or counts else None


def _node_meminfo(nodes_kb: Mapping[int, Mapping[str, int]]) -> dict[int, MemInfo]:
    return {n: MemInfo(fields_kib={name: f[k] for k, name in _MEMINFO_FROM_NODE.items() if k in f},
                       counts={}) for n, f in nodes_kb.items()}


def state_from_mem_info(dump: MemInfoDump, page_size: int | None = None,
                        kernel_release: str | None = None, source: str | None = None) -> SystemState:
    """The dump as a SystemState (zoneinfo, buddyinfo, meminfo, per-node meminfo).

    >>> from memstall.parsers.kernlog import scan_text
    >>> dump = scan_text('''Mem-Info:
    ... free:100 dirty:3
    ... Normal free:400kB min:100kB low:200kB high:300kB present:4096kB managed:4000kB
    ... Normal: 2*4kB 1*8kB = 16kB''').standalone_mem_info[0]
    >>> st = state_from_mem_info(dump)
    >>> z = st.zoneinfo.zones[0]
    >>> (z.node, z.free_pages, z.min_pages, z.managed_pages), st.buddyinfo.zones[0].free_blocks
    ((0, 100, 25, 1000), (2, 1))
    >>> st.meminfo.kib("MemFree"), st.notes[0]
    (400, "node0/Normal: the zone line has no 'Node N' prefix; node 0 inferred")
    """
    notes: list[str] = []
    inferred = infer_page_size(dump)
    if page_size is None:
        page_size = inferred or 4096
        if inferred is None:
            notes.append("page size not shown by the log (no buddy line): assumed 4096 bytes")
    page_kb = max(1, page_size // 1024)
    zoneinfo = _zoneinfo(dump, page_kb, notes)
    zone_keys = {(z.node, z.zone) for z in zoneinfo.zones} if zoneinfo else set()
    buddyinfo = _buddyinfo(dump, page_kb, zone_keys, notes)
    buddy_nodes = {z.node for z in buddyinfo.zones} if buddyinfo else set()
    if dump.partial:
        notes.append("the Mem-Info dump is partial (cut by the excerpt, an Oops, or interleaved)")
    unavailable = dict.fromkeys(("proc/vmstat", "proc/pressure/memory", "proc/sys/vm",
                                 "sys/kernel/mm/transparent_hugepage"), NOT_IN_LOG)
    return SystemState(
        source=source or f"{dump.source}:{dump.line_no}", page_size=page_size,
        kernel_release=kernel_release, buddyinfo=buddyinfo, zoneinfo=zoneinfo,
        meminfo=_meminfo(dump, zoneinfo, page_kb, buddy_nodes),
        node_meminfo=_node_meminfo(dump.nodes_kb), unavailable=unavailable, notes=tuple(notes),
    )
