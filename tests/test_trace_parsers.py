"""parsers/trace_pipe.py, trace_stats.py, proc_cgroup.py: real 6.18 text, edge cases, properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES
from memstall.errors import ParseError
from memstall.model.trace import LostEvents, TraceEvent
from memstall.parsers.proc_cgroup import parse_proc_cgroup
from memstall.parsers.trace_pipe import parse_trace_line, parse_trace_pipe
from memstall.parsers.trace_stats import parse_trace_stats

TRACE = FIXTURES / "trace"


def test_real_memcg_capture() -> None:
    text = parse_trace_pipe((TRACE / "x86_64-6.18-memcg-reclaim.txt").read_text())
    assert len(text.events) == 232 and text.lost == ()
    first = next(e for e in text.events if e.name == "mm_vmscan_memcg_reclaim_begin")
    assert (first.comm, first.pid, first.cpu, first.timestamp_us) == ("cat", 28124, 1, 4247394760)
    assert first.int_field("order") == 0
    assert first.fields["gfp_flags"].startswith("GFP_NOFS|__GFP_HIGHMEM")
    end = next(e for e in text.events if e.name == "mm_vmscan_memcg_reclaim_end")
    assert end.int_field("nr_reclaimed") == 977


def test_real_compaction_capture_strips_the_comma() -> None:
    text = parse_trace_pipe((TRACE / "x86_64-6.18-compact-memory.txt").read_text())
    begin = next(e for e in text.events if e.name == "mm_compaction_begin")
    assert begin.fields["zone_end"] == "0x1000" and begin.int_field("zone_end") == 0x1000
    assert begin.fields["mode"] == "sync"
    ends = [e.fields["status"] for e in text.events if e.name == "mm_compaction_end"]
    assert ends == ["complete", "complete", "contended"]


@pytest.mark.parametrize(("line", "comm", "pid"), [
    (" Web Content-4200    [000] .....   100.010000: x: a=1", "Web Content", 4200),
    ("kworker/u4:2-77 [001] d..1 5.000001: x: a=1", "kworker/u4:2", 77),  # 4-char flags (5.x)
    ("a-b-9 (    9) [000] ..... 1.5: x: a=1", "a-b", 9),  # record-tgid column, short fraction
    ("<...>-12 [003] 7.000000: x: a=1", "<...>", 12),  # irq-info off
])
def test_line_shapes(line: str, comm: str, pid: int) -> None:
    event = parse_trace_line(line)
    assert isinstance(event, TraceEvent) and (event.comm, event.pid) == (comm, pid)


def test_fraction_is_microseconds_whatever_its_width() -> None:
    assert parse_trace_line("a-1 [0] 1.5: x:").timestamp_us == 1_500_000  # type: ignore[union-attr]
    assert parse_trace_line("a-1 [0] 1.000000123: x:").timestamp_us == 1_000_000  # type: ignore[union-attr]


def test_lost_marker_and_header() -> None:
    assert parse_trace_line("CPU:3 [LOST 1523 EVENTS]\n") == LostEvents(cpu=3, count=1523)
    assert parse_trace_line("# tracer: nop") is None and parse_trace_line("  \n") is None


def test_bad_line_names_file_and_line() -> None:
    with pytest.raises(ParseError, match=r"^saved\.txt:7: expected '<comm>-<pid>"):
        parse_trace_line("garbage here", 7, "saved.txt")


_comm = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=16).filter(
    lambda s: s.strip() == s and not s.startswith("#") and "\n" not in s and "\r" not in s)
_word = st.text("abcdefghijklmnopqrstuvwxyz_0123456789|", min_size=1, max_size=12)


@given(comm=_comm, pid=st.integers(0, 4_194_304), cpu=st.integers(0, 8191),
       ts=st.integers(0, 10**12), name=st.from_regex(r"[a-z_][a-z0-9_]{0,30}", fullmatch=True),
       fields=st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), _word, max_size=5))
def test_round_trip(comm: str, pid: int, cpu: int, ts: int, name: str, fields: dict[str, str]) -> None:
    body = " ".join(f"{k}={v}" for k, v in fields.items())
    line = f"{comm:>16}-{pid:<7} [{cpu:03d}] ..... {ts // 10**6:5d}.{ts % 10**6:06d}: {name}: {body}"
    event = parse_trace_line(line)
    assert event == TraceEvent(comm=comm, pid=pid, cpu=cpu, timestamp_us=ts, name=name, fields=fields)


@given(st.text(max_size=200))
def test_any_text_gives_records_or_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_trace_pipe(text)


def test_stats_6_18() -> None:
    stats = parse_trace_stats("entries: 231\noverrun: 5\ncommit overrun: 0\nbytes: 13064\n"
                              "oldest event ts:  4247.394760\nnow ts:  4251.587913\n"
                              "dropped events: 2\nread events: 0\n")
    assert (stats.entries, stats.overrun, stats.dropped_events, stats.lost_events) == (231, 5, 2, 7)
    assert stats.extra["now_ts"] == "4251.587913"


def test_stats_old_kernel_and_errors() -> None:
    old = parse_trace_stats("entries: 1\noverrun: 0\ncommit overrun: 0\nbytes: 5\n")
    assert old.dropped_events is None and old.lost_events == 0
    with pytest.raises(ParseError, match="overrun"):
        parse_trace_stats("entries: 1\n")
    with pytest.raises(ParseError, match="integer"):
        parse_trace_stats("entries: x\noverrun: 0\ncommit overrun: 0\nbytes: 5\n")


def test_proc_cgroup_v1_v2() -> None:
    v1 = "12:pids:/\n4:memory:/memstall-test\n1:name=systemd:/init.scope\n"
    assert parse_proc_cgroup(v1) == "/memstall-test"
    assert parse_proc_cgroup("0::/system.slice/x.scope\n") == "/system.slice/x.scope"
    assert parse_proc_cgroup("12:pids:/\n") is None
    with pytest.raises(ParseError):
        parse_proc_cgroup("nonsense\n")
