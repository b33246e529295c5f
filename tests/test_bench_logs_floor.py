"""benchmarks/logs_floor.py is a fair bound: on a report of the common shape its passes find
what `memstall logs` finds (the benchmark's timings themselves are not a test)."""

from __future__ import annotations

import random

from conftest import FIXTURES, load_benchmark
from memstall.parsers.kernlog import scan_text

floor = load_benchmark("logs_floor")
gen = load_benchmark("syslog_gen")
SEED = "000-seed-cold-storage-4.9.log"


def _seed_log(copies: int) -> str:
    """The corpus seed report re-wrapped in one syslog shape, `copies` times from rotating hosts."""
    (seed,) = [r for r in gen.load_reports(FIXTURES / "kernlog" / "corpus") if r.name == SEED]
    clock = gen.Clock(random.Random(3))
    return "".join("".join(gen.report_lines(seed, clock, gen.HOSTS[k % 3])) for k in range(copies))


def test_the_floor_finds_memstalls_facts_on_the_common_shape() -> None:
    text = _seed_log(3)
    events = scan_text(text).events
    docs = [floor.parse(r) for r in floor.route(text.encode())]
    assert len(docs) == len(events) == 3
    for doc, e in zip(docs, events):
        assert (doc["host"], doc["comm"], doc["order"], doc["stall_ms"], doc["gfp_mode"]) == \
            (e.host, e.comm, e.order, e.stall_ms, e.gfp_mode)
        assert doc["call_trace"] == list(e.call_trace)
        assert e.mem_info is not None
        mem = doc["mem_info"]
        assert [z["free"] for z in mem["zones"]] == [z.free_kb for z in e.mem_info.zones]
        assert mem["buddy"] == [list(b.counts or ()) for b in e.mem_info.buddy]
        # the token pattern skips each line's first token, which only makes the floor do less
        summary = dict(e.mem_info.summary_pages)
        assert mem["summary_pages"].items() <= summary.items()
        assert len(mem["summary_pages"]) >= len(summary) - 6


def test_each_stage_counts_the_same_reports() -> None:
    data = _seed_log(5).encode()
    assert floor.stage_route(data) == floor.stage_parse(data) == floor.stage_jsonl(data) == 5
    assert floor.split_lines(data) == data.count(b"\n") + 1
