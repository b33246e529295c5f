"""Smoke test of benchmarks/sample_cost.py: it runs, and its JSON line holds sane numbers.

No timing is asserted (the machine may be shared): only that every cost was measured, is
positive and that the ratios and the exit status follow from the numbers printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import load_benchmark

BENCH = Path(__file__).parent.parent / "benchmarks" / "sample_cost.py"
KINDS = ("memstall.pipeline.Sampler", "collect.load_state")


bench = load_benchmark("sample_cost")
EXPORTER = bench.find_exporter(None)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.mark.skipif(EXPORTER is None, reason="prometheus-node-exporter is not installed "
                    "(apt-get install -y prometheus-node-exporter; .ci/run installs it)")
def test_small_run_prints_positive_costs_and_their_ratios() -> None:
    r = _run("--count", "50", "--rounds", "1")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "sample_cost"
    assert result["memstall_measured"].startswith(KINDS)
    costs = {k: v for k, v in result.items() if k.endswith(("_seconds", "_seconds_per_tick",
                                                            "_seconds_per_scrape"))}
    assert len(costs) == 9, costs
    assert all(isinstance(v, float) and 0 < v < 1 for v in costs.values()), costs
    tick, scrape = result["memstall_cpu_seconds_per_tick"], result["node_exporter_cpu_seconds_per_scrape"]
    assert result["ratio_tick_to_scrape"] == pytest.approx(tick / scrape)
    read = result["memstall_read_cpu_seconds_per_tick"]
    plain = result["plain_python_read_cpu_seconds_per_tick"]
    assert result["ratio_read_to_plain_python"] == pytest.approx(read / plain)
    met = result["targets_met"]
    assert met == {"tick": tick / scrape <= 1.0, "read": read / plain <= 3.0}
    assert r.returncode == (0 if all(met.values()) else 1)
    assert 0 < result["memstall_reading_in_tick_cpu_seconds"] <= tick
    assert result["costliest_reads"] and all(sec > 0 for _, sec in result["costliest_reads"])
    assert result["ticks_without_rates"] == 0  # --gap lets /proc/uptime advance between ticks
    assert result["memstall_tick_calls"]["files"] >= 5  # at least buddyinfo, zoneinfo, vmstat, ...
    assert result["node_exporter_series"] > 0
    assert "target <= 1" in r.stdout and "target <= 3" in r.stdout


def test_missing_exporter_exits_2_with_the_install_line(tmp_path: Path) -> None:
    r = _run("--exporter", str(tmp_path / "no-such-exporter"), "--count", "1", "--rounds", "1")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "apt-get install -y prometheus-node-exporter" in r.stdout


def test_plain_python_replay_reads_the_same_files_as_the_recorded_source(tmp_path: Path) -> None:
    from memstall.sources import DirSource

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 1 kB\n")
    recorder = bench.RecordingSource(DirSource(str(tmp_path)))
    assert recorder.read_text("proc/meminfo") == "MemTotal: 1 kB\n"
    assert recorder.glob("proc/*") == ["proc/meminfo"]
    assert recorder.calls == [("read_text", "proc/meminfo"), ("glob", "proc/*")]
    assert bench.describe_calls(recorder.calls) == {"files": 1, "listings": 1, "stats": 0}
    assert bench.cpu_ticks(os.getpid()) >= 0
