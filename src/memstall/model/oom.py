"""What an OOM report printed after its Mem-Info: the kill, the task table, the memory cgroup.

As printed, like model/kernlog.py: sizes in the unit the kernel used (`_kb` for kB, `_pages`
for pages, `_bytes` for bytes), `None` for what the report did not print. Formats by era are
in docs/kernel.md#oom-report; the parsers are parsers/kernlog/oom.py and tasks.py.
"""

from __future__ import annotations

from dataclasses import dataclass

UNLIMITED_KB = 9007199254740988
"""The `limit` a memory cgroup prints when it has none: PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE
on 64-bit) times 4 kB. A 32-bit kernel prints (LONG_MAX / 4096) * 4 = 2147483644 kB."""
UNLIMITED_KB_32 = 2147483644


@dataclass(frozen=True)
class OomKill:
    """`[Memory cgroup ]Out of memory: Killed process N (comm) total-vm:NkB, anon-rss:NkB,
    file-rss:NkB, shmem-rss:NkB[, UID:N pgtables:NkB oom_score_adj:N]` (2.6-6.x; `Kill process`
    with `score` up to 4.18; the rss split from 4.5)."""

    pid: int
    comm: str
    total_vm_kb: int | None
    anon_rss_kb: int | None
    file_rss_kb: int | None
    shmem_rss_kb: int | None
    uid: int | None
    pgtables_kb: int | None
    oom_score_adj: int | None
    memcg: bool
    """The line began `Memory cgroup out of memory:` (4.19+)."""

    @property
    def rss_kb(self) -> int | None:
        """anon + file + shmem: the resident memory the kill frees (None when none printed)."""
        parts = [v for v in (self.anon_rss_kb, self.file_rss_kb, self.shmem_rss_kb) if v is not None]
        return sum(parts) if parts else None


@dataclass(frozen=True)
class OomSelect:
    """`Out of memory: Kill process N (comm) score S or sacrifice child` (2.6.36-4.18; `kill
    process ... or a child` before), or `Memory cgroup out of memory: Kill process ...`."""

    pid: int
    comm: str
    score: int | None
    memcg: bool


@dataclass(frozen=True)
class OomReaped:
    """`oom_reaper: reaped process N (comm), now anon-rss:NkB, file-rss:NkB, shmem-rss:NkB` (4.6+)."""

    pid: int
    comm: str
    anon_rss_kb: int | None
    file_rss_kb: int | None
    shmem_rss_kb: int | None


@dataclass(frozen=True)
class OomTask:
    """One row of the task table. `rss_pages`, `total_vm_pages` and `swapents_pages` are pages;
    page tables are `pgtables_bytes` (4.15+) or `nr_ptes`/`nr_pmds` pages (older)."""

    pid: int
    uid: int | None
    tgid: int | None
    total_vm_pages: int
    rss_pages: int
    pgtables_bytes: int | None
    nr_ptes: int | None
    nr_pmds: int | None
    swapents_pages: int | None
    oom_score_adj: int | None
    name: str


@dataclass(frozen=True)
class TaskTable:
    """The task table (`oom_dump_tasks`), with the columns its header printed."""

    columns: tuple[str, ...]
    tasks: tuple[OomTask, ...]


@dataclass(frozen=True)
class MemcgCounter:
    """`memory: usage NkB, limit NkB, failcnt N` (and `memory+swap:`, `swap:`, `kmem:`)."""

    name: str
    usage_kb: int
    limit_kb: int
    failcnt: int | None

    @property
    def unlimited(self) -> bool:
        return self.limit_kb in (UNLIMITED_KB, UNLIMITED_KB_32) or self.limit_kb > UNLIMITED_KB


@dataclass(frozen=True)
class OomConstraint:
    """`oom-kill:constraint=CONSTRAINT_X,nodemask=...,cpuset=...,mems_allowed=...,
    [oom_memcg=/x,]task_memcg=/y,task=comm,pid=N,uid=N` (5.0+)."""

    constraint: str | None
    oom_memcg: str | None
    task_memcg: str | None
    task: str | None
    pid: int | None
    uid: int | None


@dataclass(frozen=True)
class OomDetails:
    """Everything an OOM report printed besides its header, trace and Mem-Info."""

    select: OomSelect | None
    kill: OomKill | None
    reaped: OomReaped | None
    tasks: TaskTable | None
    counters: tuple[MemcgCounter, ...]
    constraint: OomConstraint | None
    task_in: str | None
    """v1 (up to 4.18): `Task in /path killed as a result of limit of /limit`: the task's cgroup."""
    limit_of: str | None
    """... and the cgroup whose limit was hit."""
    stats_of: str | None
    """`Memory cgroup stats for /path:` (the first one printed)."""
    has_begin: bool
    """The report's `invoked oom-killer` header was read."""
    has_end: bool
    """A kill line (or the v5.0+ `oom-kill:` summary with the kill) closed it."""

    def counter(self, name: str) -> MemcgCounter | None:
        for c in self.counters:
            if c.name == name:
                return c
        return None

    @property
    def missing(self) -> tuple[str, ...]:
        """What a whole report has and this one lacks: 'begin' (the header) and/or 'end' (the kill)."""
        return tuple(n for n, ok in (("begin", self.has_begin), ("end", self.has_end)) if not ok)
