"""Parse a tracefs `per_cpu/cpuN/stats` file.

    entries: 231
    overrun: 0
    commit overrun: 0
    bytes: 13064
    oldest event ts:  4247.394760
    now ts:  4251.587913
    dropped events: 0
    read events: 0

`dropped events` and `read events` appeared in 3.17/4.x; absent ones are None. Keys are the
kernel's words with spaces turned into underscores.
"""

from __future__ import annotations

from memstall.errors import ParseError
from memstall.model.trace import TraceCpuStats

_REQUIRED = ("entries", "overrun", "commit_overrun", "bytes")


def parse_trace_stats(text: str, path: str = "per_cpu/cpu0/stats") -> TraceCpuStats:
    """The counters of one CPU's ring buffer.

    >>> s = parse_trace_stats("entries: 3\\noverrun: 5\\ncommit overrun: 0\\nbytes: 9\\ndropped events: 1")
    >>> (s.entries, s.overrun, s.lost_events, s.read_events)
    (3, 5, 6, None)
    """
    values: dict[str, str] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ParseError(path, line_no, line, "'<name>: <value>'")
        values[key.strip().replace(" ", "_")] = value.strip()

    def number(key: str) -> int | None:
        if key not in values:
            return None
        try:
            return int(values[key])
        except ValueError:
            raise ParseError(path, 0, f"{key}: {values[key]}", f"an integer for {key!r}") from None

    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise ParseError(path, 0, text[:40], f"the lines {', '.join(missing)}")
    known = set(_REQUIRED) | {"dropped_events", "read_events"}
    return TraceCpuStats(
        entries=number("entries") or 0, overrun=number("overrun") or 0,
        commit_overrun=number("commit_overrun") or 0, bytes=number("bytes") or 0,
        dropped_events=number("dropped_events"), read_events=number("read_events"),
        extra={k: v for k, v in values.items() if k not in known})
