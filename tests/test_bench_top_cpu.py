"""Smoke test of benchmarks/top_cpu.py: it runs `memstall top` and procps `top` in real tmux
sessions and its JSON line holds sane numbers. No CPU figure is asserted (the machine may be
shared): only that both were measured and the percentages, ratio and exit status follow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks" / "top_cpu.py"


@pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("top") is None,
                    reason="needs tmux and procps top (.ci/run installs tmux)")
def test_benchmark_runs_and_reports_the_ratio() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--seconds", "3", "--warmup", "2"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["peer"] == "top -d 1" and doc["wall_seconds"] >= 3
    cpu, percent = doc["cpu_seconds"], doc["percent_of_one_core"]
    assert set(cpu) == {"memstall", "peer"} and all(v >= 0 for v in cpu.values())
    for name in cpu:
        assert percent[name] == pytest.approx(100 * cpu[name] / doc["wall_seconds"], abs=0.01)
    if cpu["peer"]:
        assert doc["ratio_memstall_over_peer"] == pytest.approx(cpu["memstall"] / cpu["peer"], abs=0.01)
    assert doc["target_met"] == (r.returncode == 0) == (percent["memstall"] <= 2.0)


def test_a_missing_peer_is_exit_2() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--peer", "/nonexistent/atop 1"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and "not found" in r.stderr
