"""`memstall top --trace`: the stall-latency panel (outputs/top_trace.py) and its feed (cli/top.py).

The feed is the trace command's pipe path (PipeReader, parse_trace_line, StallTracker); here it
reads a real file in trace_pipe's line shape, written in two parts, as the pipe delivers it
between two frames. Live: as root the tracefs instance is made and removed; without root the
panel says why and the frame is printed anyway.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from memstall.analysis.log2hist import Log2Hist
from memstall.cli.top import TraceFeed
from memstall.outputs.top_trace import duration_text, trace_lines
from memstall.sources.tracefs import PipeReader, find_tracefs

STALLS = FIXTURES / "trace" / "x86_64-6.18-direct-stalls-handmade.txt"
SEED = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"


def test_panel_lines_per_kind() -> None:
    reclaim, compaction = Log2Hist(), Log2Hist()
    for us in (100, 200, 300, 5000):
        reclaim.add(us)
    compaction.add(6000)
    lines = trace_lines({"direct_compaction": compaction, "direct_reclaim": reclaim}, 1.0)
    # p50: 2nd of 4 -> bucket 129..256; p99: bucket 4097..8192, capped at the max 5000
    assert lines == ["trace    direct_reclaim 4 in the last 1s  p50 256us p99 5.0ms max 5.0ms",
                     "trace    direct_compaction 1 in the last 1s  p50 6.0ms p99 6.0ms max 6.0ms"]
    assert trace_lines({}, 2.0) == ["trace    no direct reclaim or compaction stalls in the last 2s"]
    assert [duration_text(u) for u in (250, 1024, 16384, 2_500_000)] == ["250us", "1.0ms", "16ms", "2.5s"]


def test_feed_pairs_across_two_frames_and_starts_afresh(tmp_path: Path) -> None:
    lines = STALLS.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "Web Content" in line)  # a begin, its end later
    pipe = tmp_path / "trace_pipe"
    pipe.write_text("".join(lines[:cut + 1]))
    feed = TraceFeed(PipeReader(pipe))
    try:
        assert feed(1.0) == [
            "trace    direct_reclaim 1 in the last 1s  p50 250us p99 250us max 250us",
            "trace    direct_compaction 1 in the last 1s  p50 6.0ms p99 6.0ms max 6.0ms"]
        with pipe.open("a") as f:
            f.write("".join(lines[cut + 1:]))
        assert feed(1.0) == ["trace    direct_reclaim 1 in the last 1s  p50 1.0ms p99 1.0ms max 1.0ms"]
        assert feed(1.0) == ["trace    no direct reclaim or compaction stalls in the last 1s"]
    finally:
        feed.close()


def test_on_a_capture_the_panel_says_why() -> None:
    r = run_cli("--root", str(SEED), "top", "--once", "--trace", "--width", "200")
    assert r.code == 0, r.err
    assert "trace    not available: --root is a capture: tracing needs the live host (top runs on " \
           "without it)" in r.out.splitlines()
    assert "findings: 6" in r.out
    bad = run_cli("top", "--trace", "--db", "x.db")
    assert bad.code == 2 and "--trace traces this host now" in bad.err


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop it")
def test_without_root_top_runs_on_and_says_so() -> None:
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                           "-m", "memstall", "top", "--once", "--trace", "--interval", "0.2",
                           "--width", "200"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")})
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("trace")]
    assert line.startswith("trace    not available: ") and "root" in line
    assert done.stdout.startswith("memstall top")


@pytest.mark.live_write  # creates (and removes) a tracefs instance
def test_as_root_the_instance_is_made_and_removed() -> None:
    if os.geteuid() != 0 or find_tracefs() is None:
        pytest.skip("needs root and a mounted tracefs")
    r = run_cli("top", "--once", "--trace", "--interval", "0.5", "--width", "200")
    assert r.code == 0, r.err
    line = next(x for x in r.out.splitlines() if x.startswith("trace"))
    assert "not available" not in line and "in the last 0.5s" in line
    tracefs = find_tracefs()
    assert tracefs is not None
    assert not (tracefs / "instances" / f"memstall-{os.getpid()}").exists()
