"""The read loop of a tracefs instance's `trace_pipe`, shared by StallTracer (`memstall trace`,
`diagnose/record/exporter --trace`) and `memstall top --trace`: numbered lines parsed into a
StallTracker, the LOST markers counted per CPU. `trace --input` feeds a saved text through it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from memstall.analysis.stall_trace import StallTracker
from memstall.model.trace import LostEvents, TraceEvent
from memstall.parsers.trace_pipe import parse_trace_line
from memstall.sources.tracefs import PipeReader


class PipeFeed:
    """Feeds `tracker` with the records of trace_pipe lines; `on_event` sees each event after
    the tracker did (StallTracer: the task's cgroup); `path` names the lines in errors (a saved
    text for `trace --input`)."""

    def __init__(self, tracker: StallTracker, on_event: Callable[[TraceEvent], None] | None = None,
                 path: str = "trace_pipe") -> None:
        self.tracker = tracker
        self.on_event = on_event
        self.path = path
        self.line_no = 0
        self.lost: dict[int, int] = {}
        """CPU -> events the kernel lost, from the `CPU:N [LOST M EVENTS]` markers read."""

    def feed(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.line_no += 1
            record = parse_trace_line(line, self.line_no, self.path)
            if isinstance(record, TraceEvent):
                self.tracker.feed(record)
                if self.on_event is not None:
                    self.on_event(record)
            elif isinstance(record, LostEvents):
                self.lost[record.cpu] = self.lost.get(record.cpu, 0) + record.count

    def drain(self, reader: PipeReader, max_reads: int | None = None) -> None:
        """Feed what `reader` holds now, without waiting: until a read is empty, or after
        `max_reads` reads (a storm cannot hold the caller)."""
        reads = 0
        while max_reads is None or reads < max_reads:
            lines = reader.read_lines(0)
            if not lines:
                return
            self.feed(lines)
            reads += 1
