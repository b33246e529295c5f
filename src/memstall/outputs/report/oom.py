"""The out-of-memory reports of a log on the one-moment page (`memstall report --log FILE`).

As OOMAnalyser shows one: the story first (outputs/logs_oom.py tells it, the same sentences as
`memstall logs`), then the numbers: the zones the mask may use with the replayed watermark
check, where the RAM was (a stacked bar from the report's Mem-Info), the largest tasks of the
task table, the memory cgroup's counters. Every string from the log is escaped here (esc and
table); the SVG is drawn by Python, nothing runs in the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from memstall.analysis.log_summary import gfp_view
from memstall.model.kernlog import AllocEvent, MemInfoDump
from memstall.outputs.logs_oom import ZONE_COLUMNS, cause_of, oom_story, tasks_of, zone_rows
from memstall.outputs.report.page import table
from memstall.outputs.report.svg import COLORS, esc
from memstall.units import human_bytes

MAX_OOMS = 20
"""The last this many OOM reports of the log get a section each (a storm prints thousands)."""
BAR_W, BAR_H = 960, 34
PALETTE = (*COLORS, "#a6acaf", "#f1948a")
"""One colour per part of the RAM bar (seven parts and 'other')."""

# (label, Mem-Info summary counters summed); shmem and tmpfs pages sit on the anon LRU lists
_PARTS = (
    ("anon (incl. shmem)", ("active_anon", "inactive_anon")),
    ("file cache", ("active_file", "inactive_file")),
    ("unevictable", ("unevictable",)),
    ("slab reclaimable", ("slab_reclaimable",)),
    ("slab unreclaimable", ("slab_unreclaimable",)),
    ("page tables", ("pagetables",)),
    ("free", ("free",)),
)


def memory_parts(dump: MemInfoDump, page_kb: int) -> list[tuple[str, int]]:
    """(label, kB) of the RAM the Mem-Info accounts for, plus what it does not ('other':
    kernel stacks, vmalloc, hugetlb, reserved...) when `N pages RAM` was printed."""
    pages = dump.summary_pages
    parts = [(label, sum(pages.get(k, 0) for k in keys) * page_kb) for label, keys in _PARTS]
    parts = [(label, kb) for label, kb in parts if kb > 0]
    if dump.pages_ram:
        other = dump.pages_ram * page_kb - sum(kb for _, kb in parts)
        if other > 0:
            parts.append(("other (not in the counters)", other))
    return parts


def memory_bar(parts: Sequence[tuple[str, int]]) -> str:
    total = sum(kb for _, kb in parts)
    if total <= 0:
        return ""
    out = [f'<svg viewBox="0 0 {BAR_W} {BAR_H}" role="img" class="oom-ram">']
    x = 0.0
    for k, (label, kb) in enumerate(parts):
        w = kb / total * (BAR_W - 20)
        out.append(
            f'<g><rect x="{10 + x:.1f}" y="6" width="{w:.1f}" height="22" '
            f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            f"<title>{esc(label)}: {esc(human_bytes(kb * 1024))}</title></g>"
        )
        x += w
    out.append("</svg>")
    legend = "".join(
        f'<li><span style="color:{PALETTE[k % len(PALETTE)]}">&#9632;</span> {esc(label)} '
        f"{esc(human_bytes(kb * 1024))}</li>" for k, (label, kb) in enumerate(parts))
    return "".join(out) + f'<ul class="legend-list">{legend}</ul>'



def _section(e: AllocEvent) -> str:
    view = gfp_view(e)
    who = f"{e.comm or '?'} (pid {e.pid if e.pid is not None else '?'})"
    head = " ".join(x for x in (e.time, e.host, who) if x)
    story = "".join(f"<dt>{esc(label)}</dt><dd>{esc(text)}</dd>" for label, text in oom_story(e, view))
    parts = [f'<div class="oom"><h3>OOM: {esc(head)}</h3><dl class="story">{story}</dl>']
    cause = cause_of(e, view)
    if cause.checks:
        parts.append("<h4>Zones the mask may use, zonelist order (vs_min &gt; 0 passes)</h4>"
                     + table(ZONE_COLUMNS, zone_rows(cause), (1, 2, 3, 4, 5)))
    if e.mem_info is not None:
        bar = memory_bar(memory_parts(e.mem_info, cause.page_kb))
        if bar:
            parts.append(f'<h4>Where the RAM was (Mem-Info)</h4><div class="chart">{bar}</div>')
    summary = tasks_of(e)
    if summary is not None and summary.top:
        rows: list[tuple[object, ...]] = [
            (u.task.pid, u.task.name, u.rss_kb, u.swap_kb, u.pgtables_kb, u.task.oom_score_adj)
            for u in summary.top]
        parts.append("<h4>Largest tasks (task table)</h4>"
                     + table(("pid", "name", "rss_kB", "swap_kB", "pgtables_kB", "oom_score_adj"),
                             rows, (0, 2, 3, 4, 5)))
    counters = e.oom.counters if e.oom is not None else ()
    if counters:
        rows = [(c.name, c.usage_kb, "unlimited" if c.unlimited else c.limit_kb, c.failcnt) for c in counters]
        parts.append("<h4>Memory cgroup counters</h4>"
                     + table(("counter", "usage_kB", "limit_kB", "failcnt"), rows, (1, 2, 3)))
    parts.append(f'<p class="meta">{esc(e.source)}:{e.line_no}</p></div>')
    return "".join(parts)


def oom_sections(events: Sequence[object]) -> str:
    """One section per OOM report (the last MAX_OOMS), or '' when the log has none.
    (The rules see events through a protocol; the OOM details are the parser's records.)"""
    ooms = [e for e in events if isinstance(e, AllocEvent) and e.oom is not None]
    if not ooms:
        return ""
    shown = ooms[-MAX_OOMS:]
    lead = (f"<p>{len(ooms)} OOM reports; the last {len(shown)} are shown.</p>"
            if len(ooms) > len(shown) else "")
    return "<h2>Out-of-memory reports</h2>" + lead + "".join(_section(e) for e in shown)


__all__ = ["MAX_OOMS", "memory_bar", "memory_parts", "oom_sections"]
