"""`memstall exporter` under a real Prometheus (Debian's `prometheus`, .ci/run installs it).

One exporter process per capture (every snapshot and sosreport fixture: the seed's two-node
layout, the QEMU guests, the 6.18 captures, the sosreports) on free loopback ports, one Prometheus on
loopback with a temporary config and data directory, scraping every second. Checks PromQL
through the HTTP API, a recording rule, and that the low-watermark alert goes pending for
the seed-like hosts only. Bounded in time; ends only the processes it started.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, TESTS, run_cli

PROMETHEUS = shutil.which("prometheus")
DASHBOARD = TESTS.parent / "contrib" / "grafana" / "memstall.json"
RULES = TESTS.parent / "contrib" / "prometheus" / "memstall.rules.yml"
ROOTS = {p.name: p for p in sorted((FIXTURES / "snapshots").iterdir()) if p.is_dir()}
ROOTS.update({p.name: next(p.glob("sosreport-*")) for p in sorted((FIXTURES / "sosreports").iterdir())
              if p.is_dir()})
SEED = "x86_64-4.9-handmade-seed-2node-256g"
DEADLINE_SECONDS = 90.0
STATE_RULES = {"ZONE_BELOW_WATERMARK", "HIGH_ORDER_EXHAUSTION", "NUMA_IMBALANCE"}
"""The rules fleet runs that read one sample's state (tests/test_fleet.py): diagnose on a capture
runs them the same way."""

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed: apt-get install "
                                "prometheus (.ci/run does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[Any]]) -> None:
    for p in procs:  # only the processes this module started, by their Popen handle
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def _start_exporter(root: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "memstall", "--root", str(root), "exporter",
                                 "--listen", "127.0.0.1:0", *extra], stdout=subprocess.DEVNULL, stderr=out)


KMSG_RECORDS = FIXTURES / "kernlog" / "formats" / "kmsg-records.txt"


def kmsg_records() -> bytes:
    """The seed's stall report (order 1) as /dev/kmsg records."""
    return b"".join(line + b"\n" for line in KMSG_RECORDS.read_bytes().splitlines()
                    if not line.startswith(b"#"))


def _address(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> str:
    """The port the exporter chose, from its "memstall: serving http://127.0.0.1:PORT/metrics"."""
    while time.monotonic() < deadline:
        m = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", log.read_text())
        if m:
            return m.group(1)
        assert proc.poll() is None, f"exporter exited {proc.returncode}: {log.read_text()}"
        time.sleep(0.1)
    pytest.fail(f"exporter did not start in time: {log.read_text()}")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("prometheus")
    procs: list[subprocess.Popen[Any]] = []
    try:
        started = {}
        kmsg = tmp / "seed-kmsg"  # the seed's exporter follows this file as its /dev/kmsg
        kmsg.write_bytes(b"")
        for name, root in ROOTS.items():
            extra = ("--kmsg", str(kmsg)) if name == SEED else ()
            started[name] = (_start_exporter(root, tmp / f"{name}.log", *extra), tmp / f"{name}.log")
            procs.append(started[name][0])
        deadline = time.monotonic() + 60
        targets = {name: _address(proc, log, deadline) for name, (proc, log) in started.items()}
        with kmsg.open("ab") as f:  # printed after the exporter started: counted
            f.write(kmsg_records())
        rules = yaml.safe_load(RULES.read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"  # the test cannot wait 30 s for the first evaluation
        (tmp / "rules.yml").write_text(yaml.safe_dump(rules))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(tmp / "rules.yml")],
                  "scrape_configs": [{"job_name": "memstall", "static_configs": [
                      {"targets": [address], "labels": {"fixture": name}}
                      for name, address in targets.items()]}]}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        web = f"127.0.0.1:{free_port()}"
        with (tmp / "prometheus.log").open("wb") as log:
            procs.append(subprocess.Popen(
                [str(PROMETHEUS), f"--config.file={tmp / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address={web}"],
                stdout=log, stderr=subprocess.STDOUT))
        yield f"http://{web}", targets
    finally:
        _stop(procs)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    doc = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def _wait_for(what: str, check: Any, deadline: float) -> Any:
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as err:  # not listening yet
            last = err
        else:
            if last:
                return last
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}: last {last!r}")


def test_prometheus_scrapes_every_exporter_and_evaluates_the_rules(
        prometheus: tuple[str, dict[str, str]]) -> None:
    base, targets = prometheus
    deadline = time.monotonic() + DEADLINE_SECONDS

    def all_up() -> bool:
        active = _get(f"{base}/api/v1/targets")["data"]["activeTargets"]
        return len(active) == len(targets) and all(t["health"] == "up" for t in active)

    _wait_for("every target up", all_up, deadline)
    assert len(_query(base, "memstall_build_info")) == len(targets) >= 10

    seed = f'fixture="{SEED}"'
    order0 = _query(base, f'memstall_free_blocks{{{seed},node="0",zone="Normal",order="0"}}')
    buddy = (ROOTS[SEED] / "proc/buddyinfo").read_text()
    want = re.search(r"Node 0, zone\s+Normal\s+(\d+)", buddy)
    assert want and [float(r["value"][1]) for r in order0] == [float(want.group(1))]

    below = _query(base, "memstall_zone_free_bytes < memstall_watermark_low_bytes")
    assert seed.split('"')[1] in {r["metric"]["fixture"] for r in below}

    # a recording rule over two scrapes of a capture: the counters do not move, the rate is 0
    rates = _wait_for("memstall:vmstat_allocstall:rate5m",
                      lambda: _query(base, 'memstall:vmstat_allocstall:rate5m{fixture="x86_64-6.18-idle"}'),
                      deadline)
    assert [float(r["value"][1]) for r in rates] == [0.0]

    def pending() -> set[str]:
        alerts = _get(f"{base}/api/v1/alerts")["data"]["alerts"]
        return {a["labels"]["fixture"] for a in alerts
                if a["labels"]["alertname"] == "MemstallZoneBelowLowWatermark" and a["state"] == "pending"}

    hosts = _wait_for("the low-watermark alert pending", pending, deadline)
    assert SEED in hosts
    assert "x86_64-6.18-idle" not in hosts and "x86_64-6.1-qemu-2node-fresh" not in hosts
    findings = _query(base, 'memstall_finding_active{rule="ZONE_BELOW_WATERMARK",severity="critical"}')
    assert SEED in {r["metric"]["fixture"] for r in findings}

    # the seed's exporter follows a kmsg file that got the seed's stall report: counted and alerted
    events = _wait_for("the seed's stall report counted",
                       lambda: _query(base, "memstall_alloc_events_total"), deadline)
    assert [(r["metric"]["fixture"], r["metric"]["kind"], r["metric"]["order"], r["value"][1])
            for r in events] == [(SEED, "stall", "1", "1")]

    def logged() -> set[str]:
        alerts = _get(f"{base}/api/v1/alerts")["data"]["alerts"]
        return {a["labels"]["fixture"] for a in alerts
                if a["labels"]["alertname"] == "MemstallAllocationReportsLogged" and a["state"] == "firing"}

    assert _wait_for("the allocation-reports alert firing", logged, deadline) == {SEED}


def test_every_dashboard_panel_returns_data(prometheus: tuple[str, dict[str, str]]) -> None:
    """Each panel's PromQL, with the host selector matching every host, returns series."""
    base, _ = prometheus
    deadline = time.monotonic() + DEADLINE_SECONDS
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len(panels) >= 9
    for panel in panels:
        for target in panel["targets"]:
            expr = target["expr"].replace("$instance", ".+")
            assert "$" not in expr, expr
            _wait_for(f"{panel['title']}: {expr}", lambda e=expr: _query(base, e), deadline)


def test_fleet_ranks_the_seed_like_hosts_first(prometheus: tuple[str, dict[str, str]]) -> None:
    base, targets = prometheus
    by_address = {address: name for name, address in targets.items()}
    deadline = time.monotonic() + DEADLINE_SECONDS
    thrice = "min(count_over_time(memstall_zone_free_bytes[5m])) > 2"
    _wait_for("every host scraped three times", lambda: _query(base, thrice), deadline)
    r = run_cli("fleet", "--prometheus", base, "--since", "1m", "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    ranked = [by_address[h["instance"]] for h in doc["hosts"]]
    assert len(ranked) == len(targets)
    critical = [by_address[h["instance"]] for h in doc["hosts"] if h["worst"] == "critical"]
    assert SEED in critical and ranked[:len(critical)] == critical  # critical hosts first
    assert "x86_64-6.18-idle" in ranked[len(critical):]
    seed = doc["hosts"][ranked.index(SEED)]
    assert seed["samples"] >= 2 and seed["trouble_ratio"] == 1.0 and seed["below_low_zones"] >= 1
    assert "KSWAPD_BUSY" in doc["rules_not_run"]
    # the rules fleet ran over each host's series find what diagnose finds on its capture
    for host in doc["hosts"]:
        name = by_address[host["instance"]]
        fleet = {(f["rule"], f["severity"], f["subject"]) for f in host["findings"]
                 if f["rule"] in STATE_RULES}
        diag = json.loads(run_cli("--root", str(ROOTS[name]), "diagnose", "--format", "json").out)
        want = {(f["key"], f["severity"].lower(), f["subject"]) for f in diag["findings"]
                if f["key"] in STATE_RULES}
        assert fleet == want, name
    assert doc["fleet"]["hosts_below_low"] >= 1
    # the captures run different vm.watermark_scale_factor values: the fleet view lists each
    assert len(doc["fleet"]["sysctls"]["memstall_vm_min_free_bytes"]) > 1
    text = run_cli("fleet", "--prometheus", base, "--since", "5m")
    assert text.code == 0 and text.out.splitlines()[0].startswith(f"memstall fleet: {len(targets)} hosts")
