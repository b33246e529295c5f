"""pipeline/trace_feed.py: the one read loop of trace_pipe, used by StallTracer (`memstall
trace`, --trace of diagnose/record/exporter), `top --trace` and `trace --input`."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import FIXTURES
from memstall.analysis.stall_trace import StallTracker
from memstall.model.trace import LostEvents, TraceEvent
from memstall.parsers.trace_pipe import parse_trace_pipe
from memstall.pipeline.trace_feed import PipeFeed
from memstall.sources.tracefs import READ_CHUNK_BYTES, PipeReader

STALLS = FIXTURES / "trace" / "x86_64-6.18-direct-stalls-handmade.txt"
SRC = Path(__file__).parent.parent / "src" / "memstall"


def test_the_feed_gives_what_the_saved_text_parser_gives(tmp_path: Path) -> None:
    """Read from a file in trace_pipe's shape: every event reaches the tracker (and on_event),
    the LOST marker is counted for its CPU."""
    saved = parse_trace_pipe(STALLS.read_text())
    expected = StallTracker(keep_slowest=3)
    for event in saved.events:
        expected.feed(event)
    pipe = tmp_path / "trace_pipe"
    pipe.write_text(STALLS.read_text())
    seen: list[TraceEvent] = []
    feed = PipeFeed(StallTracker(keep_slowest=3), seen.append)
    reader = PipeReader(pipe)
    try:
        feed.drain(reader)
    finally:
        reader.close()
    assert seen == list(saved.events) != []
    assert feed.tracker.events == expected.events and feed.tracker.hists.keys() == expected.hists.keys()
    assert feed.lost == {lost.cpu: lost.count for lost in saved.lost} == {1: 7}
    assert all(isinstance(lost, LostEvents) for lost in saved.lost)
    assert feed.line_no == len(STALLS.read_text().splitlines())


def test_drain_stops_after_max_reads(tmp_path: Path) -> None:
    """A storm cannot hold `top` in one frame: at most max_reads reads, the rest next time."""
    text = STALLS.read_text()
    copies = READ_CHUNK_BYTES * 3 // len(text) + 1
    pipe = tmp_path / "trace_pipe"
    pipe.write_text(text * copies)
    reader = PipeReader(pipe, max_chunks=1)  # one READ_CHUNK_BYTES read per read_lines
    feed = PipeFeed(StallTracker(keep_slowest=0))
    try:
        feed.drain(reader, max_reads=0)
        assert feed.line_no == 0
        feed.drain(reader, max_reads=2)
        assert 0 < feed.line_no < len(text.splitlines()) * copies
        feed.drain(reader)
        assert feed.line_no == len(text.splitlines()) * copies
    finally:
        reader.close()


def test_trace_pipe_lines_are_parsed_in_one_place() -> None:
    """No other module calls parse_trace_line: the read loop has one home (it had three)."""
    callers = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "parse_trace_line":
                callers.append(str(path.relative_to(SRC)))
    assert sorted(set(callers)) == ["parsers/trace_pipe.py", "pipeline/trace_feed.py"]
