"""Scrape latency and CPU of `memstall exporter` against node_exporter, in the same run (issue 15).

Both run as children on free loopback ports and are scraped `--count` times over one
keep-alive connection, `--gap` seconds apart, plain text:

* node_exporter with the same collectors as memstall reads (buddyinfo, zoneinfo, vmstat with
  every field, meminfo, pressure; benchmarks/sample_cost.py's command line, no go_*/process_*);
* memstall's exporter serving `/` live: the Sampler (cli.exporter.make_sampler), collector and
  HTTP server of `memstall exporter`, started with the shared-sample window at 0 so that every
  scrape samples (the real exporter lets scrapes within 1 s share one sample: that would
  flatter it). Run with PYTHONPATH pointing at another checkout's src/ to measure that one
  (one without make_sampler gets a plain Sampler), e.g. a starting point, back to back.

CPU per scrape is the child's utime+stime from /proc/PID/stat over the run / count; latency is
the client's wall time per request (median and 95th percentile). Printed as memstall / node_exporter
ratios; the last line is one JSON object. Target: memstall CPU per scrape <= node_exporter's,
while exporting the derived families node_exporter has not (unusable ratio, fragmentation
index, headroom, findings). Exit status: 0 target met, 1 missed, 2 node_exporter not found.

    python benchmarks/exporter_scrape.py                 # 300 scrapes each, 20 ms apart
    python benchmarks/exporter_scrape.py --count 1000 --gap 0.05
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
import sample_cost as nodeexp  # noqa: E402 (the node_exporter helpers live there)

TARGET_CPU_RATIO = 1.0
MEMSTALL_CHILD = """
import sys
from memstall.cli import exporter as cli
from memstall.outputs.exporter import MemstallCollector, SharedSample, registry_for
from memstall.pipeline import SYSTEM_CLOCK, Sampler
from memstall.sources import open_root
from memstall.outputs.exposition import text_exposition
from prometheus_client import CONTENT_TYPE_LATEST
source = open_root(sys.argv[1])
# the exporter's own Sampler (cli.exporter.make_sampler), or a plain one from a copy that has none
sampler = cli.make_sampler(source) if hasattr(cli, "make_sampler") else Sampler(source)
registry = registry_for(MemstallCollector(SharedSample(sampler.sample, SYSTEM_CLOCK, max_age_seconds=0.0)))
server = cli.make_server(("127.0.0.1", int(sys.argv[2])), lambda: text_exposition(registry),
                         CONTENT_TYPE_LATEST)
server.serve_forever()
"""


def measure(pid: int, conn: http.client.HTTPConnection, count: int, gap: float) -> dict[str, float]:
    for _ in range(5):  # warm
        nodeexp.scrape(conn, nodeexp.PLAIN_TEXT)
    before = nodeexp.cpu_ticks(pid)
    latencies = []
    body = b""
    for _ in range(count):
        time.sleep(gap)
        start = time.perf_counter()
        body = nodeexp.scrape(conn, nodeexp.PLAIN_TEXT)
        latencies.append(time.perf_counter() - start)
    cpu = (nodeexp.cpu_ticks(pid) - before) / os.sysconf("SC_CLK_TCK") / count
    latencies.sort()
    return {"cpu_seconds_per_scrape": cpu, "latency_median_seconds": statistics.median(latencies),
            "latency_p95_seconds": latencies[int(0.95 * (len(latencies) - 1))],
            "series": float(nodeexp.series_count(body)), "bytes": float(len(body))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--gap", type=float, default=0.02)
    p.add_argument("--root", default="/")
    p.add_argument("--node-exporter", default=None, help="path or name of node_exporter")
    args = p.parse_args(argv)
    binary = nodeexp.find_exporter(args.node_exporter)
    if binary is None:
        print("node_exporter not found (apt-get install prometheus-node-exporter)", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"count": args.count, "gap_seconds": args.gap, "root": args.root}
    with tempfile.TemporaryFile() as log:
        port = nodeexp.free_port()
        cmd, fields = nodeexp.exporter_args(binary, port)
        try:
            with nodeexp.running_exporter(cmd, port, log) as (proc, conn):
                results["node_exporter"] = measure(proc.pid, conn, args.count, args.gap)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 2
        results["node_exporter"]["version"] = nodeexp.version_of(binary)
        results["node_exporter"]["vmstat_fields"] = fields
        port = nodeexp.free_port()
        child = [sys.executable, "-c", MEMSTALL_CHILD, args.root, str(port)]
        with nodeexp.running_exporter(child, port, log) as (proc, conn):
            results["memstall"] = measure(proc.pid, conn, args.count, args.gap)
    mem, node = results["memstall"], results["node_exporter"]
    ratios = {k: (mem[k] / node[k] if node[k] else None)
              for k in ("cpu_seconds_per_scrape", "latency_median_seconds", "latency_p95_seconds")}
    results["ratios_memstall_over_node_exporter"] = ratios
    for name, r in (("memstall", mem), ("node_exporter", node)):
        print(f"{name:<14} CPU {r['cpu_seconds_per_scrape'] * 1e3:7.2f} ms/scrape   latency median "
              f"{r['latency_median_seconds'] * 1e3:6.2f} ms  p95 {r['latency_p95_seconds'] * 1e3:6.2f} ms"
              f"   {r['series']:.0f} series")
    cpu_ratio = ratios["cpu_seconds_per_scrape"]
    met = cpu_ratio is not None and cpu_ratio <= TARGET_CPU_RATIO
    results["target_met"] = met
    print(f"memstall / node_exporter: CPU {cpu_ratio:.2f}x (target <= {TARGET_CPU_RATIO}), latency "
          f"{ratios['latency_median_seconds']:.2f}x" if cpu_ratio is not None else "CPU ratio: no data")
    print(json.dumps(results, sort_keys=True))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
