"""analysis/stall_trace.py and log2hist.py: pairing per task, histograms, background activity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES
from memstall.analysis.log2hist import Log2Hist, bucket_of, bucket_range_us
from memstall.analysis.stall_trace import (
    DIRECT_COMPACTION,
    DIRECT_RECLAIM,
    MEMCG_RECLAIM,
    OTHER_COMPACTION,
    StallTracker,
    by_cgroup,
)
from memstall.parsers.trace_pipe import parse_trace_pipe

TRACE = FIXTURES / "trace"


def _track(name: str) -> tuple[StallTracker, int]:
    tracker = StallTracker()
    for event in parse_trace_pipe((TRACE / name).read_text()).events:
        tracker.feed(event)
    return tracker, tracker.finish()


def test_real_memcg_reclaim() -> None:
    tracker, in_progress = _track("x86_64-6.18-memcg-reclaim.txt")
    (key, hist), = tracker.hists.items()
    assert key[:2] == (MEMCG_RECLAIM, 0) and hist.n == 116 and in_progress == 0
    assert hist.total_us == tracker.tasks[28124].stall_us and tracker.tasks[28124].comm == "cat"
    slowest = tracker.slowest_stalls()[0]
    assert (slowest.duration_us, slowest.detail) == (4247413216 - 4247394760, "nr_reclaimed=977")
    assert tracker.kcompactd == {} and tracker.unmatched_end == 0


def test_compact_memory_writes_are_other_compaction() -> None:
    tracker, _ = _track("x86_64-6.18-compact-memory.txt")
    assert {k[0] for k in tracker.hists} == {OTHER_COMPACTION}
    assert tracker.hists[(OTHER_COMPACTION, None, None)].n == 3


def test_handmade_direct_stalls() -> None:
    tracker, in_progress = _track("x86_64-6.18-direct-stalls-handmade.txt")
    assert tracker.hists[(DIRECT_RECLAIM, 0, "GFP_HIGHUSER_MOVABLE|__GFP_COMP")].counts == {8: 1}  # 250 µs
    compaction = tracker.hists[(DIRECT_COMPACTION, 9, "GFP_TRANSHUGE")]
    assert compaction.total_us == 6000 and compaction.n == 1  # window: try_to_compact -> last zone end
    assert tracker.hists[(DIRECT_RECLAIM, 2, "GFP_KERNEL|__GFP_COMP")].total_us == 1000
    assert tracker.unmatched_end == 1 and in_progress == 0  # stress' last end has no begin
    assert (tracker.kswapd[0].wakes, tracker.kswapd[0].awake_us) == (1, 50000)
    kcd = tracker.kcompactd[0]
    assert (kcd.wakes, kcd.runs, kcd.run_us, kcd.awake_us, kcd.orders) == (1, 1, 2000, 3000, {9: 1})
    assert [s.detail for s in tracker.slowest_stalls()][:1] == ["status=success"]


def test_a_repeated_begin_counts_the_lost_end() -> None:
    text = ("a-1 [0] ..... 1.000000: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=X\n"
            "a-1 [0] ..... 1.000100: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=X\n"
            "a-1 [1] ..... 1.000150: mm_vmscan_direct_reclaim_end: nr_reclaimed=1\n"
            "a-1 [1] ..... 1.000200: mm_vmscan_memcg_reclaim_begin: order=0 gfp_flags=X\n")
    tracker = StallTracker()
    for event in parse_trace_pipe(text).events:
        tracker.feed(event)
    assert tracker.dropped_begin == 1 and tracker.finish() == 1
    assert tracker.hists[(DIRECT_RECLAIM, 0, "X")].total_us == 50


def test_by_cgroup_sums_tasks() -> None:
    tracker, _ = _track("x86_64-6.18-direct-stalls-handmade.txt")
    groups = by_cgroup(tracker.tasks, {4100: "/a", 4200: "/a"})
    assert groups["/a"].stall_us == sum(t.stall_us for t in tracker.tasks.values())
    assert set(by_cgroup(tracker.tasks, {})) == {"?"}


@given(st.integers(0, 2**40))
def test_bucket_holds_its_value(value: int) -> None:
    low, high = bucket_range_us(bucket_of(value))
    assert low <= value <= high


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=50))
def test_hist_counts_and_percentile(values: list[int]) -> None:
    hist = Log2Hist()
    for v in values:
        hist.add(v)
    assert hist.n == sum(hist.counts.values()) == len(values) and hist.max_us == max(values)
    assert hist.percentile_us(1.0) >= max(values) and hist.percentile_us(0.0001) >= min(values)
    assert hist.percentile_us(1.0) >= hist.percentile_us(0.5) >= hist.percentile_us(0.0001)


def test_other_events_are_ignored() -> None:
    tracker = StallTracker()
    for event in parse_trace_pipe("a-1 [0] ..... 1.000000: mm_page_alloc: page=0x1 order=0\n").events:
        tracker.feed(event)
    assert tracker.events == 1 and tracker.kswapd == {} and tracker.kcompactd == {} and not tracker.hists
