"""`memstall show buddyinfo|zones|vmstat|meminfo|psi|sysctl|thp|kthreads|extfrag`.

One JSON document builder (`<what>_doc`, schema `memstall.<what>/1`, docs/json.md) and
one text renderer (`<what>_text`) per kernel file. Both are pure: they take a
SystemState and raise SourceUnavailable (naming the file, why, and a hint) when the
file the view needs was not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memstall import specs
from memstall.analysis.fragmentation import (
    format_extfrag_milli,
    format_unusable_milli,
    fragmentation_indices,
    unusable_indices,
)
from memstall.errors import SourceUnavailable
from memstall.model.meminfo import MemInfo
from memstall.model.state import SystemState
from memstall.model.vmstat import VmStat, is_gauge
from memstall.outputs.render.table import render_table
from memstall.units import pages_to_mib

Doc = dict[str, Any]

def need(value: Any, rel: str, state: SystemState) -> Any:
    """`value`, or SourceUnavailable naming `rel`, why it is missing, and what to do (the
    file registry's hint, which the reader put in `state.hints`)."""
    if value is None:
        raise SourceUnavailable(rel, state.unavailable.get(rel, "not available"),
                                hint=state.hints.get(rel))
    return value


def _doc(schema: str, state: SystemState, **body: Any) -> Doc:
    return {"schema": f"memstall.{schema}/1", "notes": list(state.notes), **body}


# -- buddyinfo -------------------------------------------------------------------------

def buddyinfo_doc(state: SystemState) -> Doc:
    buddy = need(state.buddyinfo, specs.BUDDYINFO, state)
    return _doc("buddyinfo", state, page_size=state.page_size, zones=[
        {"node": z.node, "zone": z.zone, "free_blocks": list(z.free_blocks),
         "free_pages": z.free_pages} for z in buddy.zones])


def buddyinfo_text(state: SystemState) -> str:
    doc = buddyinfo_doc(state)
    orders = max((len(z["free_blocks"]) for z in doc["zones"]), default=0)
    rows = [[f"node{z['node']}/{z['zone']}", *z["free_blocks"],
             pages_to_mib(z["free_pages"], state.page_size)] for z in doc["zones"]]
    headers = ["zone", *(str(k) for k in range(orders)), "free_MiB"]
    return render_table(headers, rows, title="Free blocks per order (proc/buddyinfo); "
                        f"order k = blocks of {state.page_size // 1024} KiB << k")


# -- zones -----------------------------------------------------------------------------

_ZONE_KEYS = ("free_pages", "min_pages", "low_pages", "high_pages", "promo_pages", "boost_pages",
              "spanned_pages", "present_pages", "managed_pages", "cma_pages")


def zones_doc(state: SystemState) -> Doc:
    zi = need(state.zoneinfo, specs.ZONEINFO, state)
    zones = []
    for z in zi.zones:
        entry: Doc = {"node": z.node, "zone": z.zone}
        entry.update({k: getattr(z, k) for k in _ZONE_KEYS})
        entry["protection_pages"] = list(z.protection_pages)
        entry["counters"] = dict(sorted(z.counters.items()))
        entry["extra"] = dict(sorted(z.extra.items()))
        zones.append(entry)
    nodes = [{"node": n.node, "counters": dict(sorted(n.counters.items()))} for n in zi.nodes]
    return _doc("zones", state, page_size=state.page_size, zones=zones, nodes=nodes)


def zones_text(state: SystemState) -> str:
    doc = zones_doc(state)
    rows = [[f"node{z['node']}/{z['zone']}", *(z[k] for k in _ZONE_KEYS),
             " ".join(str(p) for p in z["protection_pages"]) or None] for z in doc["zones"]]
    headers = ["zone", *(k[: -len("_pages")] for k in _ZONE_KEYS), "protection"]
    note = ("min/low/high/promo include boost; '-' = not printed by this kernel "
            "(boost < 5.0, promo < 6.12, cma without CONFIG_CMA).\n")
    return render_table(headers, rows, title="Zones (proc/zoneinfo), in pages") + note


# -- vmstat / meminfo ------------------------------------------------------------------

def vmstat_doc(state: SystemState) -> Doc:
    vm: VmStat = need(state.vmstat, specs.VMSTAT, state)
    return _doc("vmstat", state, counters=dict(sorted(vm.counters.items())), nodes=[
        {"node": n, "counters": dict(sorted(v.counters.items()))}
        for n, v in sorted(state.node_vmstat.items())])


def _per_node_table(names: list[str], total: Mapping[str, int],
                    nodes: Mapping[int, Mapping[str, int]], kinds: Mapping[str, str],
                    total_header: str, title: str) -> str:
    node_ids = sorted(nodes)
    rows = [[name, kinds.get(name, ""), total[name], *(nodes[n].get(name) for n in node_ids)]
            for name in names]
    headers = ["name", "kind", total_header, *(f"node{n}" for n in node_ids)]
    return render_table(headers, rows, title=title)


def vmstat_text(state: SystemState) -> str:
    doc = vmstat_doc(state)
    counters = doc["counters"]
    kinds = {k: "gauge" if is_gauge(k) else "counter" for k in counters}
    nodes = {n["node"]: n["counters"] for n in doc["nodes"]}
    return _per_node_table(sorted(counters), counters, nodes, kinds, "value",
                           "proc/vmstat (nr_* are gauges in pages; the rest count events since boot)")


def _meminfo_entry(m: MemInfo) -> Doc:
    return {"fields_kib": dict(m.fields_kib), "counts": dict(m.counts)}


def meminfo_doc(state: SystemState) -> Doc:
    mi: MemInfo = need(state.meminfo or state.container_meminfo, specs.MEMINFO, state)
    nodes = [{"node": n, **_meminfo_entry(m)} for n, m in sorted(state.node_meminfo.items())]
    return _doc("meminfo", state, nodes=nodes, **_meminfo_entry(mi))


def meminfo_text(state: SystemState) -> str:
    doc = meminfo_doc(state)
    values = {**doc["fields_kib"], **doc["counts"]}
    kinds = dict.fromkeys(doc["fields_kib"], "kB")
    nodes = {n["node"]: {**n["fields_kib"], **n["counts"]} for n in doc["nodes"]}
    # Keep the kernel's order: it groups related lines.
    return _per_node_table(list(values), values, nodes, kinds, "value", "proc/meminfo")


# -- psi -------------------------------------------------------------------------------

def psi_doc(state: SystemState) -> Doc:
    p = need(state.psi_memory, specs.PSI_MEMORY, state)
    lines = {name: None if line is None else {
        "avg10": line.avg10, "avg60": line.avg60, "avg300": line.avg300, "total_us": line.total_us}
        for name, line in (("some", p.some), ("full", p.full))}
    return _doc("psi", state, resource="memory", **lines)


def psi_text(state: SystemState) -> str:
    doc = psi_doc(state)
    rows = [[kind, line["avg10"], line["avg60"], line["avg300"], round(line["total_us"] / 1e6, 3)]
            for kind in ("some", "full") if (line := doc[kind]) is not None]
    return render_table(["", "avg10_%", "avg60_%", "avg300_%", "total_s"], rows,
                        title="Memory pressure (proc/pressure/memory)") + (
        "some: share of time at least one task stalled on memory; "
        "full: all non-idle tasks stalled at once.\n")


# -- sysctl / thp ----------------------------------------------------------------------

def sysctl_doc(state: SystemState) -> Doc:
    s = need(state.sysctl_vm, specs.SYSCTL_VM_DIR, state)
    return _doc("sysctl", state, vm=dict(sorted(s.values.items())))


def sysctl_text(state: SystemState) -> str:
    doc = sysctl_doc(state)
    rows = [[f"vm.{k}", v.replace("\t", " ")] for k, v in doc["vm"].items()]
    return render_table(["name", "value"], rows, title="proc/sys/vm")


def thp_doc(state: SystemState) -> Doc:
    t = need(state.thp, specs.THP_ENABLED, state)
    return _doc("thp", state, enabled=t.enabled, defrag=t.defrag,
                khugepaged_defrag=t.khugepaged_defrag)


def thp_text(state: SystemState) -> str:
    doc = thp_doc(state)
    rows = [[k, doc[k]] for k in ("enabled", "defrag", "khugepaged_defrag")]
    return render_table(["setting", "value"], rows,
                        title="Transparent hugepages (sys/kernel/mm/transparent_hugepage)")


# -- kthreads / extfrag ----------------------------------------------------------------

def kthreads_doc(state: SystemState) -> Doc:
    if not state.kthreads and state.kthreads_ps:
        return _kthreads_ps_doc(state)
    if not state.kthreads:
        raise SourceUnavailable("proc/<pid>/stat", state.unavailable.get(
            specs.KTHREAD_STAT, "no kswapd or kcompactd thread found"),
            hint=state.hints.get(specs.KTHREAD_STAT))
    hz = state.user_hz
    threads = []
    for t in state.kthreads:
        cpu_s = t.cpu_ticks / hz
        alive_s = None if state.uptime_seconds is None else (
            state.uptime_seconds - t.starttime_ticks / hz)
        threads.append({
            "pid": t.pid, "comm": t.comm, "node": t.node, "state": t.state,
            "utime_ticks": t.utime_ticks, "stime_ticks": t.stime_ticks, "cpu_seconds": cpu_s,
            "cpu_share_since_start": (round(cpu_s / alive_s, 6) if alive_s and alive_s > 0 else None)})
    return _doc("kthreads", state, clock_ticks_per_second=hz,
                uptime_seconds=state.uptime_seconds, threads=threads)



def _kthreads_ps_doc(state: SystemState) -> Doc:
    """From a sosreport's `ps` output: whole CPU seconds and ps's %CPU, no tick split."""
    threads = [{"pid": t.pid, "comm": t.comm, "node": t.node, "state": t.state,
                "utime_ticks": None, "stime_ticks": None, "cpu_seconds": t.cpu_seconds,
                "cpu_share_since_start": round(t.cpu_percent / 100, 6)} for t in state.kthreads_ps]
    return _doc("kthreads", state, clock_ticks_per_second=state.clock_ticks_per_second,
                uptime_seconds=state.uptime_seconds, threads=threads)


def kthreads_text(state: SystemState) -> str:
    doc = kthreads_doc(state)
    rows = [[t["comm"], t["pid"], t["state"], t["cpu_seconds"],
             None if t["cpu_share_since_start"] is None else round(100 * t["cpu_share_since_start"], 2)]
            for t in doc["threads"]]
    return render_table(["thread", "pid", "state", "cpu_s", "cpu_%_since_start"], rows,
                        title="Reclaim and compaction threads (" + (
                            "proc/<pid>/stat)" if state.kthreads else "ps output)")) + (
        "Sample twice (memstall snapshot --samples 2) to see their current CPU use.\n") + (
        f"Clock ticks per second not recorded in this capture: {state.user_hz} assumed.\n"
        if state.clock_ticks_per_second is None and state.kthreads else "")


def extfrag_doc(state: SystemState) -> Doc:
    """Both debugfs files; when one is absent (a capture posted only unusable_index), its
    values are computed from buddyinfo with the kernel's formula (mm/vmstat.c computes both
    from the same free-block counts) and a note says so."""
    ext_file, unu_file = state.extfrag_index, state.unusable_index
    if ext_file is None and unu_file is None:
        need(None, specs.DEBUGFS_EXTFRAG_INDEX, state)
    read = {name: {(z.node, z.zone): z.values_milli for z in f.zones}
            for name, f in (("extfrag_index", ext_file), ("unusable_index", unu_file)) if f is not None}
    notes = list(state.notes)
    if len(read) == 1:
        absent, rel = (("unusable_index", specs.DEBUGFS_UNUSABLE_INDEX) if ext_file is not None
                       else ("extfrag_index", specs.DEBUGFS_EXTFRAG_INDEX))
        formula = unusable_indices if absent == "unusable_index" else fragmentation_indices
        if state.buddyinfo is not None:
            read[absent] = {(z.node, z.zone): formula(z.free_blocks) for z in state.buddyinfo.zones}
            notes.append(f"{rel} is absent: its values are computed from {specs.BUDDYINFO} with "
                         "the kernel's formula (matches_buddyinfo checks the captured file only)")
        else:
            notes.append(f"{rel} is absent, and so is {specs.BUDDYINFO} to compute it from")
    keys = list(dict.fromkeys(k for table in read.values() for k in table))
    zones = []
    for node, zone in keys:
        ext = read.get("extfrag_index", {}).get((node, zone), ())
        unu = read.get("unusable_index", {}).get((node, zone), ())
        entry: Doc = {"node": node, "zone": zone, "extfrag_index": [v / 1000 for v in ext],
                      "unusable_index": [v / 1000 for v in unu], "matches_buddyinfo": None}
        buddy = state.buddyinfo.zone(node, zone) if state.buddyinfo else None
        if buddy is not None:
            entry["matches_buddyinfo"] = (
                (ext_file is None or fragmentation_indices(buddy.free_blocks) == ext)
                and (unu_file is None or unusable_indices(buddy.free_blocks) == unu))
        zones.append(entry)
    return {**_doc("extfrag", state, zones=zones), "notes": notes}


def extfrag_text(state: SystemState) -> str:
    doc = extfrag_doc(state)
    out = []
    for z in doc["zones"]:
        unusable = z["unusable_index"]
        # As the kernel prints them (C "%2d.%03d" / "%d.%03d", docs/kernel.md#debugfs-extfrag-files).
        frag = z["extfrag_index"]
        rows = [[k, format_extfrag_milli(round(frag[k] * 1000)).strip() if k < len(frag) else None,
                 format_unusable_milli(round(unusable[k] * 1000)) if k < len(unusable) else None]
                for k in range(max(len(frag), len(unusable)))]
        match = {True: "yes", False: "NO (buddyinfo changed between reads?)", None: "-"}
        out.append(render_table(["order", "extfrag_index", "unusable_index"], rows,
                                title=f"node{z['node']}/{z['zone']} (debugfs); same as computed "
                                      f"from buddyinfo: {match[z['matches_buddyinfo']]}"))
    out += [f"note: {n}\n" for n in doc["notes"] if n not in state.notes]
    return "\n".join(out)
