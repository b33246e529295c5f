"""ps — kswapd/kcompactd rows of `ps auxwww` output (a sosreport's sos_commands/process).

sos does not keep proc/<pid>/stat, but it keeps `ps auxwww`: BSD format, whose TIME is
the thread's CPU time as `MMM:SS` (procps also prints `[DD-]HH:MM:SS` in other formats;
both are read) and whose %CPU is that CPU time over the time since the thread started.
Only the kernel threads memstall reads (`[kswapd0]`, `[kcompactd1]`...) are kept.

>>> rows = parse_ps_kthreads('''USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND
... root 49 0.3 0.0 0 0 ? S 02:19 12:07 [kswapd0]
... root 50 0.0 0.0 0 0 ? S 02:19 0:00 [bash]
... ''')
>>> rows[0].comm, rows[0].cpu_seconds, rows[0].cpu_percent
('kswapd0', 727, 0.3)
"""

from __future__ import annotations

import re

from memstall.errors import ParseError
from memstall.model.kthreads import KThreadPs
from memstall.parsers._lines import numbered

_WANTED = re.compile(r"^\[((?:kswapd|kcompactd)\d+(?::\d+)?)\]$", re.ASCII)
_TIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?$", re.ASCII)
_COLUMNS = ("PID", "%CPU", "STAT", "TIME", "COMMAND")


def _seconds(token: str) -> int | None:
    m = _TIME.match(token)
    if not m:
        return None
    days, a, b, c = m.groups()
    # Two fields: minutes:seconds (BSD TIME); three: hours:minutes:seconds.
    secs = int(a) * 60 + int(b) if c is None else int(a) * 3600 + int(b) * 60 + int(c)
    return secs + int(days or 0) * 86400


def parse_ps_kthreads(text: str, path: str = "sos_commands/process/ps_auxwww") -> tuple[KThreadPs, ...]:
    lines = list(numbered(text))
    if not lines:
        raise ParseError(path, 0, "", "a `ps` header line (the file is empty)")
    header = lines[0][1].split()
    if any(c not in header for c in _COLUMNS) or header[-1] != "COMMAND":
        raise ParseError(path, lines[0][0], lines[0][1], f"a `ps` header with {', '.join(_COLUMNS)}")
    at = {name: header.index(name) for name in _COLUMNS}
    out = []
    for no, line in lines[1:]:
        cols = line.split(None, len(header) - 1)
        if len(cols) < len(header):
            continue  # a wrapped or cut row: not a kernel thread's
        m = _WANTED.match(cols[at["COMMAND"]].strip())
        if not m:
            continue
        secs = _seconds(cols[at["TIME"]])
        pid, cpu = cols[at["PID"]], cols[at["%CPU"]]
        if secs is None or not pid.isdigit() or not re.fullmatch(r"\d+(?:\.\d+)?", cpu):
            raise ParseError(path, no, line, "'<pid> <%cpu> ... <[M]MM:SS> [kswapdN]'")
        out.append(KThreadPs(int(pid), m.group(1), cols[at["STAT"]][:1], secs, float(cpu)))
    return tuple(sorted(out, key=lambda t: t.comm))
