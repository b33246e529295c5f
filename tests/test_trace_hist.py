"""The in-kernel path's histogram equals the pipe path's, on one workload in a QEMU guest.

Fixtures `x86_64-6.1-qemu-memcg-oom*` come from one boot of Debian's 6.1.0-57-cloud-amd64
(CONFIG_HIST_TRIGGERS=y, TCG) with scripts/qemu_capture/trace_init: `dd bs=24M` six times in
an 8 MiB cgroup v2 (memcg reclaim until the OOM kill). In the top-level buffer: the two memcg
reclaim events, a synthetic `memstall_memcg_lat` event (end - begin per pid from
common_timestamp.usecs, also enabled, so each latency is printed) and a
`hist:keys=order,lat.log2` trigger on it (`.hist`). `-instance.txt` is the same workload
read at the same time from a second instance: its timestamps are taken at other moments
(each buffer reads the clock itself, and the triggers run in between), so its latencies
differ from the top-level ones by tens of µs under TCG. Both paths must therefore read the
SAME buffer: the hist path has to put its triggers in memstall's own instance.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES
from memstall.analysis.log2hist import bucket_of, bucket_range_us
from memstall.analysis.stall_trace import MEMCG_RECLAIM, StallTracker
from memstall.errors import ParseError
from memstall.parsers.trace_hist import log2_bucket, parse_trace_hist
from memstall.parsers.trace_pipe import parse_trace_pipe

TRACE = FIXTURES / "trace"


def test_both_paths_give_the_same_histogram() -> None:
    kernel = parse_trace_hist((TRACE / "x86_64-6.1-qemu-memcg-oom.hist").read_text())
    assert kernel.hits == 210 and kernel.dropped == 0 and "lat.log2" in kernel.trigger
    in_kernel = {(int(e.keys["order"]), log2_bucket(e.keys["lat"])): e.values["hitcount"]
                 for e in kernel.entries}
    tracker = StallTracker()
    for event in parse_trace_pipe((TRACE / "x86_64-6.1-qemu-memcg-oom.txt").read_text()).events:
        tracker.feed(event)
    assert tracker.finish() == 0 and tracker.unmatched_end == 0
    pipe = {(order, bucket): n for (kind, order, _), hist in tracker.hists.items()
            for bucket, n in hist.counts.items() if kind == MEMCG_RECLAIM and order is not None}
    assert pipe == in_kernel


def test_each_kernel_latency_equals_the_pipe_pairing() -> None:
    events = parse_trace_pipe((TRACE / "x86_64-6.1-qemu-memcg-oom.txt").read_text()).events
    begun: dict[int, int] = {}
    paired: list[int] = []
    kernel: list[int] = []
    for e in events:
        if e.name == "mm_vmscan_memcg_reclaim_begin":
            begun[e.pid] = e.timestamp_us
        elif e.name == "mm_vmscan_memcg_reclaim_end":
            paired.append(e.timestamp_us - begun.pop(e.pid))
        elif e.name == "memstall_memcg_lat":
            kernel.append(int(e.fields["lat"]))
    assert len(kernel) == 210 and paired == kernel


def test_another_buffer_sees_other_timestamps() -> None:
    text = (TRACE / "x86_64-6.1-qemu-memcg-oom-instance.txt").read_text()
    tracker = StallTracker()
    for event in parse_trace_pipe(text).events:
        tracker.feed(event)
    tracker.finish()
    (hist,) = tracker.hists.values()
    kernel = parse_trace_hist((TRACE / "x86_64-6.1-qemu-memcg-oom.hist").read_text())
    assert hist.n == kernel.hits == 210
    assert hist.counts != {log2_bucket(e.keys["lat"]): e.values["hitcount"] for e in kernel.entries}


@given(st.integers(0, 2**40))
def test_bucket_is_the_kernels_ilog2_roundup_pow_of_two(value: int) -> None:
    bucket = bucket_of(value)
    low, high = bucket_range_us(bucket)
    assert low <= value <= high
    if value >= 1:  # roundup_pow_of_two(v) == 1 << bucket
        assert 1 << bucket >= value > (1 << bucket) >> 1 or value == 1


def test_bad_hist_lines() -> None:
    with pytest.raises(ParseError, match="hist:3"):
        parse_trace_hist("# event histogram\n\n{ order 0 } hitcount: 1\n")
    with pytest.raises(ParseError, match="Totals"):
        parse_trace_hist("{ order: 0 } hitcount: 1\n")
