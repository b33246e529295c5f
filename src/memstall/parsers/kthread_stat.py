"""kthread_stat — /proc/<pid>/stat of kswapdN and kcompactdN

`pid (comm) state ppid ... utime stime ...`: utime and stime are fields 14 and 15 (1-based),
starttime field 22, in clock ticks (docs/kernel.md#clock-ticks). comm may hold spaces and ')', so split at
the last ')'.

>>> s = parse_kthread_stat("93 (kswapd0) S 2 0 0 0 -1 10488384 0 0 0 0 5 312 0 0 20 0 1 0 40 0 0\\n")
>>> (s.pid, s.comm, s.stime_ticks)
(93, 'kswapd0', 312)
"""

from __future__ import annotations

from memstall.errors import ParseError
from memstall.model.kthreads import KThreadStat


def parse_kthread_stat(text: str, path: str = "proc/<pid>/stat") -> KThreadStat:
    line = text.strip()
    head, sep, rest = line.rpartition(")")
    pid_s, _, comm = head.partition(" (")
    fields = rest.split()
    if not sep or not _is_uint(pid_s) or len(fields) < 20:
        raise ParseError(path, 1, line, "'<pid> (<comm>) <state> ...' with at least 22 fields")
    if not all(_is_uint(fields[i]) for i in (11, 12, 19)):
        raise ParseError(path, 1, line, "integer utime, stime and starttime")
    return KThreadStat(pid=int(pid_s), comm=comm, state=fields[0],
                       utime_ticks=int(fields[11]), stime_ticks=int(fields[12]),
                       starttime_ticks=int(fields[19]))


def _is_uint(token: str) -> bool:
    """Plain ASCII decimal digits: int() would also take '٣', '+5' or '1_0'."""
    return token.isascii() and token.isdigit()
