"""`memstall exporter --trace`: stall latency histograms by order (outputs/exporter_trace.py).

Unit: the collector over trackers filled from real captures (the 6.1 guest's in-kernel hist,
the 6.18 memcg trace), read back with prometheus_client's own text parser. Live (root,
live_write): the exporter traces a reader in a small memory cgroup; a scrape shows its
memcg reclaims; SIGTERM removes the instance.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

import test_trace_live as live
from conftest import FIXTURES
from memstall.analysis.log2hist import Log2Hist
from memstall.analysis.stall_trace import MEMCG_RECLAIM, StallTracker
from memstall.outputs.exporter_trace import StallTraceCollector, cumulative_buckets
from memstall.parsers.trace_pipe import parse_trace_pipe

memcg, big_file = live.memcg, live.big_file  # the live fixtures


def _tracker(name: str) -> StallTracker:
    tracker = StallTracker()
    for event in parse_trace_pipe((FIXTURES / "trace" / name).read_text()).events:
        tracker.feed(event)
    tracker.finish()
    return tracker


def _scrape(tracker: StallTracker) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StallTraceCollector(lambda: tracker, "pipe", lambda: 3))
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_histograms_by_order_from_a_real_trace() -> None:
    tracker = _tracker("x86_64-6.18-memcg-reclaim.txt")
    m = _scrape(tracker)
    (hist,) = [h for (kind, _o, _g), h in tracker.hists.items() if kind == MEMCG_RECLAIM]
    assert m["memstall_memcg_reclaim_seconds_count"] == {(("order", "0"),): hist.n}
    assert m["memstall_memcg_reclaim_seconds_sum"][(("order", "0"),)] == pytest.approx(hist.total_us / 1e6)
    buckets = {dict(k)["le"]: v for k, v in m["memstall_memcg_reclaim_seconds_bucket"].items()}
    # each `le` bound recounted by hand from the tracker's exact buckets
    for le, count in buckets.items():
        bound_us = float("inf") if le == "+Inf" else float(le) * 1e6
        assert count == sum(n for b, n in hist.counts.items() if (1 << b if b else 1) <= bound_us)
    assert m["memstall_trace_info"] == {(("method", "pipe"),): 1.0}
    assert m["memstall_trace_lost_events_total"] == {(): 3.0}
    assert "memstall_direct_reclaim_seconds_count" not in m  # no direct reclaim in that capture


def test_direct_stalls_and_bounds() -> None:
    m = _scrape(_tracker("x86_64-6.18-direct-stalls-handmade.txt"))
    assert set(m["memstall_direct_reclaim_seconds_count"]) == {(("order", "0"),), (("order", "2"),)}
    assert m["memstall_compaction_stall_seconds_count"] == {(("order", "9"),): 1.0}
    h = Log2Hist()
    for v in (0, 1, 16, 17, 1 << 24, (1 << 24) + 1):
        h.add(v)
    assert [c for _, c in cumulative_buckets(h)] == [3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 6]


@pytest.mark.live_write
def test_live_exporter_trace(memcg: tuple[Path, str], big_file: Path) -> None:
    group, _ = memcg
    exporter = subprocess.Popen([sys.executable, "-m", "memstall", "exporter", "--trace",
                                 "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    reader = None
    try:
        assert exporter.stderr is not None
        line = exporter.stderr.readline()
        port = re.search(r":(\d+)/metrics", line)
        assert port, line
        instance = live._instance(exporter.pid)
        assert instance.is_dir()
        reader = subprocess.Popen(["tail", "-c", "+1", "-f", str(big_file)], stdout=subprocess.DEVNULL,
                                  preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())))  # noqa: PLW1509 (no threads here)
        live._wait_read(reader.pid, big_file.stat().st_size)
        time.sleep(1.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=30) as r:
            text = r.read().decode()
        counts = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                  if s.name == "memstall_memcg_reclaim_seconds_count"]
        assert counts and sum(counts) > 0
        exporter.send_signal(signal.SIGTERM)
        _, err = exporter.communicate(timeout=30)
        assert not instance.exists(), err
    finally:
        for proc in (exporter, reader):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
