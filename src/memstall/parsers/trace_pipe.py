"""Parse the text `trace_pipe` (and `trace`) print for tracepoint events.

One line per event, as `trace_output.c` prints it with the default options (the
`irq-info` flags column optional, the `record-tgid` column optional)::

    cat-28124   [001] .....  4247.394760: mm_vmscan_memcg_reclaim_begin: order=0 gfp_flags=GFP_NOFS
    CPU:1 [LOST 1523 EVENTS]

The flags column has 4 characters up to 5.x and 5 since 6.0 (migrate-disable added); the
timestamp has microsecond precision for the `local`/`global`/`mono` clocks. `#` header lines
(in `trace`) and blank lines are skipped. The event's print text is split into its
`key=value` words (a trailing comma is dropped: compaction's `zone_end=0x1000, mode=sync`);
words without `=` are ignored, so a format change adds or loses fields instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from memstall.errors import ParseError
from memstall.model.trace import LostEvents, TraceEvent

_EVENT = re.compile(
    r"\s*(?P<comm>.+?)-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:\S{4,6}\s+)?(?P<sec>\d+)\.(?P<frac>\d{1,9}): (?P<name>\w+):(?P<body>.*)$")
_LOST = re.compile(r"CPU:(?P<cpu>\d+) \[LOST (?P<count>\d+) EVENTS\]\s*$")
_EXPECTED = "'<comm>-<pid> [<cpu>] <flags> <sec>.<usec>: <event>: <fields>' or 'CPU:<n> [LOST <n> EVENTS]'"


@dataclass(frozen=True)
class TraceText:
    """All records of a trace text, in file order."""

    events: tuple[TraceEvent, ...]
    lost: tuple[LostEvents, ...]


def _fields(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in body.split():
        key, sep, value = word.partition("=")
        if sep and key:
            out[key] = value.rstrip(",")
    return out


def parse_trace_line(line: str, line_no: int = 0,
                     path: str = "trace_pipe") -> TraceEvent | LostEvents | None:
    """One line: an event, a lost-events marker, or None for a blank or `#` header line.

    >>> e = parse_trace_line("cat-28124 [001] ..... 4247.394760: mm_vmscan_memcg_reclaim_end: x=977")
    >>> (e.comm, e.pid, e.cpu, e.timestamp_us, e.name, e.int_field("x"))
    ('cat', 28124, 1, 4247394760, 'mm_vmscan_memcg_reclaim_end', 977)
    >>> parse_trace_line("CPU:1 [LOST 7 EVENTS]")
    LostEvents(cpu=1, count=7)
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _EVENT.match(line)
    if match is None:
        lost = _LOST.match(stripped)
        if lost is None:
            raise ParseError(path, line_no, line.rstrip("\n"), _EXPECTED)
        return LostEvents(cpu=int(lost["cpu"]), count=int(lost["count"]))
    frac = match["frac"]
    # microseconds whatever the printed precision (6 digits normally, 9 for ns clocks)
    usec = int(frac.ljust(6, "0")[:6])
    return TraceEvent(comm=match["comm"].strip(), pid=int(match["pid"]), cpu=int(match["cpu"]),
                      timestamp_us=int(match["sec"]) * 1_000_000 + usec,
                      name=match["name"], fields=_fields(match["body"]))


def parse_trace_lines(lines: Iterable[str], path: str = "trace_pipe",
                      first_line_no: int = 1) -> TraceText:
    events: list[TraceEvent] = []
    lost: list[LostEvents] = []
    for line_no, line in enumerate(lines, first_line_no):
        record = parse_trace_line(line, line_no, path)
        if isinstance(record, TraceEvent):
            events.append(record)
        elif record is not None:
            lost.append(record)
    return TraceText(events=tuple(events), lost=tuple(lost))


def parse_trace_pipe(text: str, path: str = "trace_pipe") -> TraceText:
    """Every record of a saved `trace_pipe` or `trace` text."""
    return parse_trace_lines(text.splitlines(), path)
