"""The lines an OOM report prints after its Mem-Info: the kill, the reaper, the memory cgroup.

Formats by era (mm/oom_kill.c, mm/memcontrol.c; docs/kernel.md#oom-report):

* kill, 2.6.x: `Killed process N (comm)`; 2.6.36-3.x: `... vsz:NkB, anon-rss:NkB, file-rss:NkB`
  then `total-vm:`; 4.5+: `, shmem-rss:NkB`; 5.10+: `, UID:N pgtables:NkB oom_score_adj:N`.
  4.19+ prefixes it with `Out of memory: ` or `Memory cgroup out of memory: `.
* select, 2.6.36-4.18: `Out of memory: Kill process N (comm) score S or sacrifice child`
  (`kill process ... or a child` before 3.x, `Memory cgroup out of memory: Kill process` for
  a cgroup, `Out of memory (oom_kill_allocating_task): Kill process` with that sysctl).
* reaper, 4.6+: `oom_reaper: reaped process N (comm), now anon-rss:NkB, file-rss:NkB, shmem-rss:NkB`.
* memory cgroup: `memory: usage NkB, limit NkB, failcnt N` and the same for `memory+swap:`
  (v1), `swap:` (v2), `kmem:`; v1 up to 4.18: `Task in /a killed as a result of limit of /b`;
  `Memory cgroup stats for /a:`; 5.0+: `oom-kill:constraint=...,oom_memcg=/a,task_memcg=/b,
  task=comm,pid=N,uid=N`.

A comm is kept exactly as printed (spaces, parentheses, `kworker/0:1`), at most 64 characters.
"""

from __future__ import annotations

import re

from memstall.model.oom import MemcgCounter, OomConstraint, OomDetails, OomKill, OomReaped, OomSelect
from memstall.parsers.kernlog import tasks

_COMM = r"\((.{0,64}?)\)"
_KILLED = re.compile(rf"\bKilled process (\d{{1,18}}) {_COMM}(?=\s+(?:total-vm|vsz):|\s*$|,|\s+UID:)")
_KILL_SIZES = re.compile(r"\b(total-vm|vsz|anon-rss|file-rss|shmem-rss|pgtables):(\d{1,18})kB")
_KILL_UID = re.compile(r"\bUID:(\d{1,18})")
_KILL_ADJ = re.compile(r"\boom_score_adj:(-?\d{1,18})")
_SELECT = re.compile(rf"\b[Kk]ill process (\d{{1,18}}) {_COMM} score (-?\d{{1,18}}) "
                     r"or (?:sacrifice )?(?:a )?child")
_REAPED = re.compile(rf"^\s*oom_reaper: reaped process (\d{{1,18}}) {_COMM}, now (.*)$")
_RSS = re.compile(r"\b(anon|file|shmem)-rss:(\d{1,18})kB")
_COUNTER = re.compile(r"^\s*(memory|memory\+swap|swap|kmem|tcpmem): usage (\d{1,20})kB, limit (\d{1,20})kB"
                      r"(?:, failcnt (\d{1,20}))?")
_TASK_IN = re.compile(r"^\s*Task in (.+?) killed as a result of limit of (.+?)\s*$")
_STATS = re.compile(r"^\s*Memory cgroup stats for (.+?):(?:\s|$)")
_CONSTRAINT = re.compile(r"^\s*oom-kill:(.*)$")
_TASK_TAIL = re.compile(r",task=(.*),pid=(\d{1,18}),uid=(\d{1,18})\s*$")


def _memcg_prefix(text: str, at: int) -> bool:
    return "Memory cgroup out of memory" in text[:at]


def parse_kill(text: str) -> OomKill | None:
    """The `Killed process` line.

    >>> k = parse_kill("Killed process 6576 (mysqld) total-vm:33914892kB, anon-rss:20629004kB, "
    ...                "file-rss:0kB, shmem-rss:0kB")
    >>> (k.pid, k.comm, k.anon_rss_kb, k.rss_kb, k.memcg)
    (6576, 'mysqld', 20629004, 20629004, False)
    """
    m = _KILLED.search(text)
    if m is None:
        return None
    rest = text[m.end():]
    sizes = {k: int(v) for k, v in _KILL_SIZES.findall(rest)}
    uid = _KILL_UID.search(rest)
    adj = _KILL_ADJ.search(rest)
    return OomKill(
        pid=int(m.group(1)), comm=m.group(2),
        total_vm_kb=sizes.get("total-vm", sizes.get("vsz")), anon_rss_kb=sizes.get("anon-rss"),
        file_rss_kb=sizes.get("file-rss"), shmem_rss_kb=sizes.get("shmem-rss"),
        uid=int(uid.group(1)) if uid else None, pgtables_kb=sizes.get("pgtables"),
        oom_score_adj=int(adj.group(1)) if adj else None, memcg=_memcg_prefix(text, m.start()),
    )


def parse_select(text: str) -> OomSelect | None:
    """`Out of memory: Kill process N (comm) score S or sacrifice child`.

    >>> parse_select("Out of memory: Kill process 6576 (mysqld) score 651 or sacrifice child")
    OomSelect(pid=6576, comm='mysqld', score=651, memcg=False)
    """
    m = _SELECT.search(text)
    if m is None:
        return None
    return OomSelect(int(m.group(1)), m.group(2), int(m.group(3)), _memcg_prefix(text, m.start()))


def parse_reaped(text: str) -> OomReaped | None:
    """`oom_reaper: reaped process N (comm), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB`."""
    m = _REAPED.match(text)
    if m is None:
        return None
    rss = {k: int(v) for k, v in _RSS.findall(m.group(3))}
    return OomReaped(int(m.group(1)), m.group(2), rss.get("anon"), rss.get("file"), rss.get("shmem"))


def parse_counter(text: str) -> MemcgCounter | None:
    """`memory: usage 31211520kB, limit 31211520kB, failcnt 83420` and its siblings."""
    m = _COUNTER.match(text)
    if m is None:
        return None
    return MemcgCounter(m.group(1), int(m.group(2)), int(m.group(3)),
                        int(m.group(4)) if m.group(4) is not None else None)


def parse_task_in(text: str) -> tuple[str, str] | None:
    """`Task in /a killed as a result of limit of /b` -> ('/a', '/b')."""
    m = _TASK_IN.match(text)
    return (m.group(1), m.group(2)) if m else None


def parse_stats_of(text: str) -> str | None:
    """`Memory cgroup stats for /lxc/39004:` -> '/lxc/39004'."""
    m = _STATS.match(text)
    return m.group(1) if m else None


def parse_constraint(text: str) -> OomConstraint | None:
    """The 5.0+ `oom-kill:` summary line. The comm (`task=`) may hold commas: it is read from
    the right, between `,task=` and `,pid=N,uid=N` at the end of the line."""
    m = _CONSTRAINT.match(text)
    if m is None:
        return None
    body = m.group(1)
    tail = _TASK_TAIL.search(body)
    head = body[:tail.start()] if tail else body
    fields: dict[str, str] = {}
    for part in head.split(","):
        key, sep, value = part.partition("=")
        if sep and key in ("constraint", "oom_memcg", "task_memcg"):
            fields.setdefault(key, value)
    return OomConstraint(
        constraint=fields.get("constraint"), oom_memcg=fields.get("oom_memcg"),
        task_memcg=fields.get("task_memcg"), task=tail.group(1) if tail else None,
        pid=int(tail.group(2)) if tail else None, uid=int(tail.group(3)) if tail else None,
    )


MAX_TASK_LINES = 65536
"""Task-table rows kept per report (a host with more processes keeps its first 65536)."""


class OomTail:
    """Collects the lines after an OOM report's Mem-Info (and the memcg lines before it)."""

    def __init__(self) -> None:
        self.select: OomSelect | None = None
        self.kill: OomKill | None = None
        self.reaped: OomReaped | None = None
        self.task_lines: list[str] = []
        self.counters: list[MemcgCounter] = []
        self.constraint: OomConstraint | None = None
        self.task_in: tuple[str, str] | None = None
        self.stats_of: str | None = None

    def __eq__(self, other: object) -> bool:
        # LogScanner.state_key compares open reports by value (the --jobs boundary check)
        return isinstance(other, OomTail) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable: compared, never hashed

    def feed(self, s: str) -> bool:
        """Take `s` when it is one of the lines this module reads; False otherwise."""
        t = s.lstrip()
        if t.startswith("["):
            if len(self.task_lines) < MAX_TASK_LINES and (tasks.HEADER.match(t) or tasks.ROW.match(t)):
                self.task_lines.append(t)
                return True
            return False
        return self._memcg(t) or self._kill(t)

    def _kill(self, t: str) -> bool:
        if "process" not in t:
            return False
        if "Kill process" in t or "kill process" in t:
            sel = parse_select(t)
            if sel is not None:
                self.select = self.select or sel
                return True
        kill = parse_kill(t)
        if kill is not None:
            self.kill = self.kill or kill
            return True
        reaped = parse_reaped(t)
        if reaped is not None:
            self.reaped = self.reaped or reaped
            return True
        return False

    def _memcg(self, t: str) -> bool:
        counter = parse_counter(t)
        if counter is not None:
            self.counters.append(counter)
            return True
        if t.startswith("Task in "):
            self.task_in = self.task_in or parse_task_in(t)
            return self.task_in is not None
        if t.startswith("Memory cgroup stats"):
            self.stats_of = self.stats_of or parse_stats_of(t)
            return True
        if t.startswith("oom-kill:"):
            self.constraint = self.constraint or parse_constraint(t)
            return True
        return False

    def build(self, has_begin: bool) -> OomDetails:
        return OomDetails(
            select=self.select, kill=self.kill, reaped=self.reaped,
            tasks=tasks.parse_task_table(self.task_lines), counters=tuple(self.counters),
            constraint=self.constraint, task_in=self.task_in[0] if self.task_in else None,
            limit_of=self.task_in[1] if self.task_in else None, stats_of=self.stats_of,
            has_begin=has_begin, has_end=self.kill is not None,
        )


def oom_end(text: str) -> bool:
    """`text` is an OOM report's select or kill line (what ends a report)."""
    return parse_select(text) is not None or parse_kill(text) is not None
