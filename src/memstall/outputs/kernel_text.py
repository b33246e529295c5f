"""Writers of kernel-format text: a model object back to the file the kernel would print.

One writer per file, the inverse of the parser of the same name (parsers/ only read):
`parse_X(format_X(m)) == m` for every model a kernel could print, which the round-trip
property tests (tests/property/test_prop_roundtrip.py) check. `memstall logs --as-snapshot`
writes its snapshot directory with them; the tests build kernel files with them.

Each follows the kernel's own printf layout, the 6.x one unless the function says otherwise:
mm/vmstat.c (frag_show_print, zoneinfo_show_print, vmstat_show, pagetypeinfo_show,
extfrag_show_print, unusable_show_print), fs/proc/meminfo.c (meminfo_proc_show: show_val_kb
pads "Name:" to 16 columns and the value to 8), mm/hugetlb.c (hugetlb_report_meminfo:
"HugePages_Total:   %5lu"), kernel/sched/psi.c (psi_show), fs/proc/array.c (do_task_stat).
A writer prints only what the model holds: nothing is invented, so a field the model lacks
is a line left out, as an older kernel leaves it out.

>>> from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
>>> format_buddyinfo(BuddyInfo((ZoneFreeAreas(0, "DMA", (1, 0, 2)),)))
'Node 0, zone      DMA      1      0      2 \\n'
>>> format_meminfo(MemInfo({"MemTotal": 16314640}, {"HugePages_Total": 0}))
'MemTotal:       16314640 kB\\nHugePages_Total:       0\\n'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from memstall.analysis.fragmentation import format_extfrag_milli, format_unusable_milli
from memstall.model.buddy import BuddyInfo
from memstall.model.extfrag import ExtfragIndexFile
from memstall.model.kthreads import KThreadStat
from memstall.model.meminfo import MemInfo
from memstall.model.pagetypeinfo import PageTypeInfo, ZoneBlockCounts
from memstall.model.pressure import Pressure, PressureLine
from memstall.model.vmstat import VmStat
from memstall.model.zones import Zone, ZoneInfo


def format_buddyinfo(info: BuddyInfo) -> str:
    """frag_show_print: "Node %d, zone %8s " then "%6lu " per order."""
    return "".join(f"Node {z.node}, zone {z.zone:>8} " + "".join(f"{n:6d} " for n in z.free_blocks) + "\n"
                   for z in info.zones)


def _counter_lines(counters: Mapping[str, int]) -> list[str]:
    return [f"      {k:<12} {v}" for k, v in counters.items()]  # "\n      %-12s %lu"


def _zone_block(z: Zone, node_stats: Mapping[str, int] | None,
                cpu_pagesets: Sequence[tuple[int, int, int]]) -> list[str]:
    out = [f"Node {z.node}, zone {z.zone:>8}"]
    if node_stats is not None:
        out.append("  per-node stats")
        out += _counter_lines(node_stats)
    out.append(f"  pages free     {z.free_pages}")
    if z.boost_pages is not None:  # 5.0+
        out.append(f"        boost    {z.boost_pages}")
    out += [f"        min      {z.min_pages}", f"        low      {z.low_pages}",
            f"        high     {z.high_pages}"]
    if z.promo_pages is not None:  # 6.12+
        out.append(f"        promo    {z.promo_pages}")
    out += [f"        spanned  {z.spanned_pages}", f"        present  {z.present_pages}"]
    if z.managed_pages is not None:  # 3.8+
        out.append(f"        managed  {z.managed_pages}")
    if z.cma_pages is not None:  # CONFIG_CMA
        out.append(f"        cma      {z.cma_pages}")
    if z.protection_pages:
        out.append("        protection: (" + ", ".join(str(p) for p in z.protection_pages) + ")")
    out += _counter_lines(z.counters)
    out.append("  pagesets")
    for cpu, (count, high, batch) in enumerate(cpu_pagesets):
        out += [f"    cpu: {cpu}", f"              count:    {count}", f"              high:     {high}",
                f"              batch:    {batch}"]
    out += [f"  {k + ':':<20} {v}" for k, v in z.extra.items()]  # "\n  start_pfn:           %lu"
    return out


def format_zoneinfo(info: ZoneInfo, cpu_pagesets: Sequence[tuple[int, int, int]] = ()) -> str:
    """zoneinfo_show_print (6.x): per-node stats in the first zone block of each node.

    The model does not keep the per-cpu pagesets (the parser skips them); `cpu_pagesets`
    gives (count, high, batch) to print for each cpu of every zone, none by default.
    """
    stats = {n.node: n.counters for n in info.nodes}
    lines: list[str] = []
    seen: set[int] = set()
    for z in info.zones:
        first = z.node not in seen
        seen.add(z.node)
        lines += _zone_block(z, stats.get(z.node) if first else None, cpu_pagesets)
    return "\n".join(lines) + "\n"


def format_vmstat(v: VmStat) -> str:
    """vmstat_show: "%s %lu" per counter."""
    return "".join(f"{k} {n}\n" for k, n in v.counters.items())


def format_meminfo(m: MemInfo) -> str:
    """meminfo_proc_show: kB fields as show_val_kb, then the unitless HugePages_* counts."""
    lines = [f"{k + ':':<15} {v:8d} kB" for k, v in m.fields_kib.items()]
    lines += [f"{k + ':':<16}   {v:5d}" for k, v in m.counts.items()]
    return "\n".join(lines) + "\n"


def _psi_line(kind: str, p: PressureLine) -> str:
    return f"{kind} avg10={p.avg10:.2f} avg60={p.avg60:.2f} avg300={p.avg300:.2f} total={p.total_us}\n"


def format_psi(p: Pressure) -> str:
    """psi_show: the `some` line, and the `full` line when the file has one."""
    return _psi_line("some", p.some) + (_psi_line("full", p.full) if p.full is not None else "")


def format_extfrag(f: ExtfragIndexFile, unusable: bool = False) -> str:
    """extfrag_show_print / unusable_show_print (debugfs extfrag/extfrag_index, unusable_index)."""
    fmt = format_unusable_milli if unusable else format_extfrag_milli
    return "".join(f"Node {z.node}, zone {z.zone:>8} " + "".join(fmt(v) + " " for v in z.values_milli) + "\n"
                   for z in f.zones)


def format_kthread_stat(s: KThreadStat) -> str:
    """/proc/<pid>/stat with the fields memstall reads in place and zeros elsewhere."""
    fields = ["0"] * 50
    fields[0] = s.state
    fields[11], fields[12], fields[19] = str(s.utime_ticks), str(s.stime_ticks), str(s.starttime_ticks)
    return f"{s.pid} ({s.comm}) " + " ".join(fields) + "\n"


def format_thp_choice(choices: Sequence[str], chosen: str) -> str:
    """A /sys/kernel/mm/transparent_hugepage choice file: "always [madvise] never"."""
    return " ".join(f"[{c}]" if c == chosen else c for c in choices) + "\n"


def _blocks_section(title: str, rows: tuple[ZoneBlockCounts, ...], types: Sequence[str]) -> list[str]:
    out = [f"{title:<23}" + "".join(f"{t:>12} " for t in types)]
    out += [f"Node {r.node}, zone {r.zone:>8} " + "".join(f"{r.blocks[t]:12d} " for t in types) for r in rows]
    return out


def format_pagetypeinfo(p: PageTypeInfo, orders: int, types: Sequence[str]) -> str:
    """pagetypeinfo_show (5.5+ with the >100000 cap marker)."""
    lines = [f"Page block order: {p.page_block_order}", f"Pages per block:  {p.pages_per_block}", "",
             f"{'Free pages count per migrate type at order':<43} "
             + "".join(f"{o:6d} " for o in range(orders))]
    for f in p.free:
        counts = "".join(f"{'>' if o in f.capped_orders else ''}{n:6d} " for o, n in enumerate(f.free_blocks))
        lines.append(f"Node {f.node:4d}, zone {f.zone:>8}, type {f.migrate_type:>12} " + counts)
    lines.append("")
    lines += _blocks_section("Number of blocks type ", p.blocks, types)
    if p.mixed_blocks:
        lines.append("")
        lines += _blocks_section("Number of mixed blocks ", p.mixed_blocks, types)
    return "\n".join(lines) + "\n"
