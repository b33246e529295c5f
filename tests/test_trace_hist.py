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
from memstall.analysis.stall_hist import KernelTotals, KindHists, fill_tracker, hist_plan
from memstall.analysis.stall_trace import MEMCG_RECLAIM, StallTracker
from memstall.errors import ParseError
from memstall.model.kernel import KernelVersion
from memstall.model.trace import EventField, HistLatencyRow, HistTaskRow
from memstall.outputs.trace import TraceRun, trace_doc, trace_text
from memstall.parsers.trace_format import parse_event_format
from memstall.parsers.trace_hist import (
    latency_rows,
    log2_bucket,
    parse_trace_hist,
    parse_trace_hists,
    task_rows,
)
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


# memstall trace --method hist: its own triggers' output, captured in a QEMU guest
HIST = TRACE / "x86_64-6.1-qemu-hist-memcg.hist"


def _kind_hists(text: str) -> KindHists:
    blocks = parse_trace_hists(text)
    lat = next(b for b in blocks if "lat.log2" in b.trigger)
    tasks = next(b for b in blocks if "common_pid.execname" in b.trigger)
    return KindHists(tuple(latency_rows(lat)), tuple(task_rows(tasks)), lat.hits,
                     sum(b.dropped for b in blocks))


def test_hist_file_with_two_triggers() -> None:
    blocks = parse_trace_hists(HIST.read_text())
    assert [b.hits for b in blocks] == [210, 210] and [b.entries_count for b in blocks] == [9, 6]
    rows = latency_rows(blocks[0])
    assert rows[0] == HistLatencyRow(order=0, gfp_flags=1051850, bucket=15, count=1, lat_us=19854)
    tasks = task_rows(blocks[1])
    assert tasks[0] == HistTaskRow(pid=91, comm="dd", count=35, lat_us=12394)
    with pytest.raises(ParseError, match="one trigger per hist file"):
        parse_trace_hist(HIST.read_text())
    empty = parse_trace_hists((TRACE / "x86_64-6.1-qemu-hist-empty.hist").read_text())
    assert [(b.hits, b.entries) for b in empty] == [(0, ()), (0, ())]


def test_hist_path_report_equals_pipe_path_on_one_buffer() -> None:
    """The guest's instance had the hist triggers AND the reclaim events enabled: the
    kernel's totals and memstall's pairing of the same buffer must agree exactly."""
    in_kernel = StallTracker()
    totals = fill_tracker(in_kernel, {MEMCG_RECLAIM: _kind_hists(HIST.read_text())}, KernelVersion(6, 1))
    pipe = StallTracker()
    for event in parse_trace_pipe((TRACE / "x86_64-6.1-qemu-hist-memcg.txt").read_text()).events:
        pipe.feed(event)
    pipe.finish()
    assert totals == KernelTotals(stalls=210, dropped=0)
    assert list(pipe.hists) == list(in_kernel.hists) == [(MEMCG_RECLAIM, 0, "GFP_HIGHUSER_MOVABLE")]
    (p,), (k,) = pipe.hists.values(), in_kernel.hists.values()
    assert (p.counts, p.n, p.total_us) == (k.counts, k.n, k.total_us)
    assert p.max_us <= k.max_us == 1 << 15  # the kernel keeps no max: the top bucket's bound
    assert {pid: (t.comm, t.stalls, t.stall_us) for pid, t in pipe.tasks.items()} == \
        {pid: (t.comm, t.stalls, t.stall_us) for pid, t in in_kernel.tasks.items()}


def test_plan_declares_the_kernels_field_types() -> None:
    fields = parse_event_format((TRACE / "x86_64-6.1-direct_reclaim_begin.format").read_text())
    assert (fields["order"].type, fields["gfp_flags"].type) == ("int", "unsigned long")
    assert fields["common_pid"] == EventField("common_pid", "int", 4, True)
    old = {"order": EventField("order", "s32", 4, True),
           "gfp_flags": EventField("gfp_flags", "gfp_t", 4, False)}
    plan = hist_plan(77, {"mm_vmscan_direct_reclaim_begin": old})
    assert plan.kinds[0].definition == "memstall_77_direct_reclaim u64 lat; s32 order; gfp_t gfp_flags"
    assert plan.kinds[1].definition == "memstall_77_memcg_reclaim u64 lat; int order; unsigned long gfp_flags"


def test_plan_removes_in_reverse_and_reads_reclaim_only_from_the_kernel() -> None:
    plan = hist_plan(5)
    installed = plan.triggers_in_order()
    assert [(p, "!" + t) for p, t in reversed(installed)] == plan.removal_in_order()
    begin, end = installed[0][1], installed[1][1]
    assert begin.startswith("hist:keys=common_pid:msdr_ts=common_timestamp.usecs")
    assert "onmatch(vmscan.mm_vmscan_direct_reclaim_begin).trace(memstall_5_direct_reclaim," in end
    assert not {e for e in plan.pipe_events if "reclaim_begin" in e[1] or "reclaim_end" in e[1]}
    assert ("compaction", "mm_compaction_try_to_compact_pages") in plan.pipe_events


@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 2**32), st.integers(0, 40),
                          st.integers(1, 10**6), st.integers(0, 2**40)), max_size=20),
       st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}[]\n"),
               max_size=16), st.integers(1, 2**22))
def test_hist_text_round_trip(rows: list[tuple[int, int, int, int, int]], comm: str, pid: int) -> None:
    """What the kernel prints (hist_trigger_entry_print's widths) parses back to the rows."""
    lines = ["# event histogram", "#", "# trigger info: hist:keys=order,gfp_flags,lat.log2:vals=hitcount,lat"
             " [active]", "#", ""]
    lines += [f"{{ order: {o:>10}, gfp_flags: {g:>10}, lat: ~ 2^{b:<2} }} hitcount: {c:>10}  lat: {s:>10}"
              for o, g, b, c, s in rows]
    lines += ["", "Totals:", f"    Hits: {sum(r[3] for r in rows)}", f"    Entries: {len(rows)}",
              "    Dropped: 0", "", "", "# event histogram", "#",
              "# trigger info: hist:keys=common_pid.execname:vals=hitcount,lat [active]", "#", "",
              f"{{ common_pid: {comm:<16}[{pid:>10}] }} hitcount:          1  lat:          5",
              "", "Totals:", "    Hits: 1", "    Entries: 1", "    Dropped: 0"]
    lat, tasks = parse_trace_hists("\n".join(lines) + "\n")
    assert latency_rows(lat) == [HistLatencyRow(*r) for r in rows]
    assert task_rows(tasks) == [HistTaskRow(pid, comm.rstrip(), 1, 5)]


def test_hist_run_report() -> None:
    """The report of a hist-path run: the same sections, the differences said."""
    tracker = StallTracker()
    totals = fill_tracker(tracker, {MEMCG_RECLAIM: _kind_hists(HIST.read_text())}, KernelVersion(6, 1))
    run = TraceRun(tracker=tracker, wall_seconds=4.0, source="instances/memstall-4242", buffer_kb=4096,
                   method="hist", kernel_stalls=totals.stalls, kernel_dropped=totals.dropped,
                   cgroup_of={91: "/t"})
    text = trace_text(run)
    assert "(hist path: reclaim latencies built in the kernel" in text
    assert "in the kernel: 210 reclaim stalls counted, 0 dropped (maps full)" in text
    assert ("memcg_reclaim order=0 gfp=GFP_HIGHUSER_MOVABLE: 210 stalls, total 105.312 ms, "
            "max <= 32.768 ms") in text
    assert "91  dd    /t" in text
    doc = trace_doc(run)
    assert doc["method"] == "hist" and doc["in_kernel"] == {"stalls": 210, "dropped": 0}
    (hist,) = doc["histograms"]
    assert hist["max_is_bucket_bound"] is True and sum(hist["buckets_us"].values()) == 210
    assert sum(p["stalls"] for p in doc["processes"]) == 210
