"""StallTracker's keep_slowest=0 (top's live panel keeps no slowest list) and close_idle_compaction."""

from __future__ import annotations

from memstall.analysis.stall_trace import DIRECT_COMPACTION, DIRECT_RECLAIM, StallTracker
from memstall.model.trace import TraceEvent
from memstall.parsers.trace_pipe import parse_trace_line

_T = "  dd-1234  [000] ....  100.00"
_ZONE = "zone_start=0x1000 migrate_pfn=0x1000 free_pfn=0x8000 zone_end=0x8000, mode=async"
LINES = [
    _T + "0100: mm_vmscan_direct_reclaim_begin: order=1 gfp_flags=GFP_KERNEL",
    _T + "0600: mm_vmscan_direct_reclaim_end: nr_reclaimed=32",
    _T + "1000: mm_compaction_try_to_compact_pages: order=3 gfp_mask=GFP_KERNEL priority=2",
    _T + "1100: mm_compaction_begin: " + _ZONE,
    _T + "3100: mm_compaction_end: " + _ZONE + " status=complete",
]


def _feed(tracker: StallTracker, lines: list[str]) -> None:
    for no, line in enumerate(lines, 1):
        ev = parse_trace_line(line, no, "t")
        assert isinstance(ev, TraceEvent), line
        tracker.feed(ev)


def test_keep_slowest_zero_keeps_none_and_still_counts() -> None:
    t = StallTracker(keep_slowest=0)
    _feed(t, LINES[:2])
    assert t.slowest == []
    assert t.tasks[1234].stall_us == 500
    assert [k[0] for k in t.hists] == [DIRECT_RECLAIM]


def test_close_idle_compaction_ends_a_window_only_between_zone_runs() -> None:
    t = StallTracker()
    _feed(t, LINES[2:4])  # window open, a zone run in flight: not idle
    t.close_idle_compaction()
    assert not any(k[0] == DIRECT_COMPACTION for k in t.hists)
    _feed(t, LINES[4:])  # the zone run ended: the window is idle now
    t.close_idle_compaction()
    (stall,) = [s for _, _, s in t.slowest]
    assert (stall.kind, stall.order, stall.duration_us) == (DIRECT_COMPACTION, 3, 2100)
