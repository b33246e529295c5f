"""Test-only writers of kernel-format text, for round trips: parse(format(m)) == m.

Each follows the kernel's own printf layout (mm/vmstat.c, fs/proc/meminfo.c,
kernel/sched/psi.c); the 6.x layout unless the function says otherwise. They live in
tests/ because memstall itself never writes these files.
"""

from __future__ import annotations

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


def _zone_block(z: Zone, node_stats: dict[str, int] | None) -> list[str]:
    out = [f"Node {z.node}, zone {z.zone:>8}"]
    if node_stats is not None:
        out.append("  per-node stats")
        out += [f"      {k:<12} {v}" for k, v in node_stats.items()]
    out.append(f"  pages free     {z.free_pages}")
    if z.boost_pages is not None:
        out.append(f"        boost    {z.boost_pages}")
    out += [f"        min      {z.min_pages}", f"        low      {z.low_pages}",
            f"        high     {z.high_pages}"]
    if z.promo_pages is not None:
        out.append(f"        promo    {z.promo_pages}")
    out += [f"        spanned  {z.spanned_pages}", f"        present  {z.present_pages}"]
    if z.managed_pages is not None:
        out.append(f"        managed  {z.managed_pages}")
    if z.cma_pages is not None:
        out.append(f"        cma      {z.cma_pages}")
    if z.protection_pages:
        out.append("        protection: (" + ", ".join(str(p) for p in z.protection_pages) + ")")
    out += [f"      {k:<12} {v}" for k, v in z.counters.items()]
    out += ["  pagesets", "    cpu: 0", "              count:    1", "              high:     6",
            "              batch:    63"]
    out += [f"  {k}: {v}" for k, v in z.extra.items()]
    return out


def format_zoneinfo(info: ZoneInfo) -> str:
    """zoneinfo_show_print (6.x): per-node stats in the first zone block of each node."""
    stats = {n.node: dict(n.counters) for n in info.nodes}
    lines: list[str] = []
    seen: set[int] = set()
    for z in info.zones:
        first = z.node not in seen
        seen.add(z.node)
        lines += _zone_block(z, stats.get(z.node) if first else None)
    return "\n".join(lines) + "\n"


def format_vmstat(v: VmStat) -> str:
    return "".join(f"{k} {n}\n" for k, n in v.counters.items())


def format_meminfo(m: MemInfo) -> str:
    """meminfo: "%-15s %8lu kB" style; unitless HugePages_* counts."""
    lines = [f"{k + ':':<15} {v:8d} kB" for k, v in m.fields_kib.items()]
    lines += [f"{k + ':':<15} {v:8d}" for k, v in m.counts.items()]
    return "\n".join(lines) + "\n"


def _psi_line(kind: str, p: PressureLine) -> str:
    return f"{kind} avg10={p.avg10:.2f} avg60={p.avg60:.2f} avg300={p.avg300:.2f} total={p.total_us}\n"


def format_psi(p: Pressure) -> str:
    return _psi_line("some", p.some) + (_psi_line("full", p.full) if p.full is not None else "")


def format_extfrag(f: ExtfragIndexFile, unusable: bool = False) -> str:
    fmt = format_unusable_milli if unusable else format_extfrag_milli
    return "".join(f"Node {z.node}, zone {z.zone:>8} " + "".join(fmt(v) + " " for v in z.values_milli) + "\n"
                   for z in f.zones)


def format_kthread_stat(s: KThreadStat) -> str:
    """/proc/<pid>/stat with the fields memstall reads in place and zeros elsewhere."""
    fields = ["0"] * 50
    fields[0] = s.state
    fields[11], fields[12], fields[19] = str(s.utime_ticks), str(s.stime_ticks), str(s.starttime_ticks)
    return f"{s.pid} ({s.comm}) " + " ".join(fields) + "\n"


def format_thp_choice(choices: list[str], chosen: str) -> str:
    return " ".join(f"[{c}]" if c == chosen else c for c in choices) + "\n"


def _blocks_section(title: str, rows: tuple[ZoneBlockCounts, ...], types: list[str]) -> list[str]:
    out = [f"{title:<23}" + "".join(f"{t:>12} " for t in types)]
    out += [f"Node {r.node}, zone {r.zone:>8} " + "".join(f"{r.blocks[t]:12d} " for t in types) for r in rows]
    return out


def format_pagetypeinfo(p: PageTypeInfo, orders: int, types: list[str]) -> str:
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
