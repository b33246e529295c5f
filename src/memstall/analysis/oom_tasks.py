"""The task table of an OOM report, summed: who held the memory, and how much of RAM that is.

`rss`, `total_vm` and `swapents` are pages (mm/oom_kill.c `dump_task()`, every era); page
tables are `pgtables_bytes` (4.15+) or `nr_ptes` (+ `nr_pmds`, 4.1-4.14) pages. RAM is the
Mem-Info's `N pages RAM`. The table counts a page shared by several processes once per
process, so the sum can exceed RAM; kernel memory (slab, page tables) is not in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstall.model.kernlog import MemInfoDump
from memstall.model.oom import OomTask, TaskTable

TOP = 10


@dataclass(frozen=True)
class TaskUse:
    task: OomTask
    rss_kb: int
    swap_kb: int | None
    pgtables_kb: int | None


@dataclass(frozen=True)
class TaskSummary:
    count: int
    rss_kb: int
    swap_kb: int | None
    pgtables_kb: int | None
    ram_kb: int | None
    """`N pages RAM` of the report's Mem-Info, kB; None when not printed."""
    top: tuple[TaskUse, ...]
    """The largest resident sets, largest first (at most TOP)."""

    @property
    def rss_percent_of_ram(self) -> int | None:
        """Truncated, as OOMAnalyser prints it (94 for 31705788 of 33519336 kB)."""
        return self.rss_kb * 100 // self.ram_kb if self.ram_kb else None


def _pgtables_kb(t: OomTask, page_kb: int) -> int | None:
    if t.pgtables_bytes is not None:
        return t.pgtables_bytes // 1024
    if t.nr_ptes is None:
        return None
    return (t.nr_ptes + (t.nr_pmds or 0)) * page_kb


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def summarize_tasks(table: TaskTable, dump: MemInfoDump | None, page_kb: int = 4) -> TaskSummary:
    uses = [TaskUse(t, t.rss_pages * page_kb,
                    t.swapents_pages * page_kb if t.swapents_pages is not None else None,
                    _pgtables_kb(t, page_kb)) for t in table.tasks]
    ram_kb = dump.pages_ram * page_kb if dump is not None and dump.pages_ram is not None else None
    top = sorted(uses, key=lambda u: (-u.rss_kb, u.task.pid))[:TOP]
    return TaskSummary(
        count=len(uses), rss_kb=sum(u.rss_kb for u in uses),
        swap_kb=_sum([u.swap_kb for u in uses]), pgtables_kb=_sum([u.pgtables_kb for u in uses]),
        ram_kb=ram_kb, top=tuple(top),
    )
