"""Smoke test of benchmarks/exporter_scrape.py: it runs against the real node_exporter and its
JSON line holds sane numbers. No timing is asserted (the machine may be shared): only that
every cost was measured, is positive, and that the ratios and exit status follow from them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks" / "exporter_scrape.py"
HAVE_EXPORTER = any(shutil.which(n) for n in ("prometheus-node-exporter", "node_exporter"))


@pytest.mark.skipif(not HAVE_EXPORTER, reason="node_exporter not installed: apt-get install "
                    "prometheus-node-exporter (.ci/run does)")
def test_benchmark_runs_and_reports_ratios() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--count", "20", "--gap", "0.02"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    mem, node = doc["memstall"], doc["node_exporter"]
    for side in (mem, node):
        assert side["series"] > 0 and side["latency_median_seconds"] > 0
        assert side["latency_p95_seconds"] >= side["latency_median_seconds"]
    assert mem["cpu_seconds_per_scrape"] >= 0 and node["cpu_seconds_per_scrape"] >= 0
    ratio = doc["ratios_memstall_over_node_exporter"]["cpu_seconds_per_scrape"]
    if node["cpu_seconds_per_scrape"]:
        assert ratio == pytest.approx(mem["cpu_seconds_per_scrape"] / node["cpu_seconds_per_scrape"])
    assert doc["target_met"] == (r.returncode == 0)


def test_no_node_exporter_is_exit_2() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--node-exporter", "/nonexistent/node_exporter"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and "node_exporter not found" in r.stderr
