"""outputs/fleet.py and fleet_rules.py: the rules over series, ranking and the fleet view from
Prometheus query results (the shapes the HTTP API returns); tests/test_exporter_prometheus.py
runs `memstall fleet` against a real one."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from builders import StepClock
from conftest import FIXTURES, run_cli
from memstall.cli.fleet import duration
from memstall.outputs.exporter import MemstallCollector, SharedSample, registry_for
from memstall.outputs.exposition import text_exposition
from memstall.outputs.fleet import build_fleet, fleet_doc, fleet_text
from memstall.outputs.fleet_rules import NOT_FROM_SERIES, SERIES_QUERIES, SERIES_RULES, HostRun, run_fleet
from memstall.pipeline import Sampler
from memstall.rules import REGISTRY
from memstall.sources import open_root


def sample(value: float, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [1700000000.0, str(value)]}


RESULTS = {
    "below_low": [sample(1, instance="b")],
    "free_by_order": [sample(5, instance="a", order="10"), sample(0, instance="b", order="10"),
                      sample(3, instance="b", order="4"), sample(7, instance="c", order="9")],
    "sysctls": [sample(10, __name__="memstall_vm_watermark_scale_factor", instance=i) for i in "abc"]
               + [sample(200, __name__="memstall_vm_watermark_scale_factor", instance="d"),
                  *[sample(60, __name__="memstall_vm_swappiness", instance=i) for i in "abcd"]],
}
RUNS = {
    "a": HostRun(100, {("HIGH_ORDER_EXHAUSTION", "warning", "node0/Normal"): 30}, 30),
    "b": HostRun(100, {("ZONE_BELOW_WATERMARK", "critical", "node0/Normal"): 100,
                       ("DIRECT_RECLAIM", "warning", "host"): 100}, 100),
    "c": HostRun(100, {("HIGH_ORDER_EXHAUSTION", "warning", "node1/Normal"): 90}, 90),
    "d": HostRun(50, {("ZONE_BELOW_WATERMARK", "info", "node0/Normal"): 50}, 0),
}


def test_hosts_rank_by_worst_severity_then_time_in_trouble() -> None:
    fleet = build_fleet(RESULTS, RUNS)
    assert [h.instance for h in fleet.hosts] == ["b", "c", "a", "d"]
    b, c, a, d = fleet.hosts
    assert (b.worst, b.trouble_ratio, b.below_low_zones, b.highest_free_order) == ("critical", 1.0, 1, 4)
    assert (c.trouble_ratio, a.trouble_ratio, d.trouble_ratio) == (0.9, 0.3, 0.0)
    assert d.worst == "info" and d.findings[0].active_ratio == 1.0  # 50 of its 50 samples
    assert [f.rule for f in b.findings] == ["ZONE_BELOW_WATERMARK", "DIRECT_RECLAIM"]


def test_an_exporter_without_zone_series_is_listed_with_no_samples() -> None:
    fleet = build_fleet({**RESULTS, "up": [sample(0, instance="broken"), sample(1, instance="a")]}, RUNS)
    broken = next(h for h in fleet.hosts if h.instance == "broken")
    assert (broken.samples, broken.worst, broken.trouble_ratio) == (0, None, 0.0)
    assert fleet.hosts[-1].instance == "broken" and len(fleet.hosts) == 5


def test_fleet_view_names_the_hosts_that_differ() -> None:
    fleet = build_fleet(RESULTS, RUNS)
    doc = fleet_doc(fleet, "http://p:9090", "6h")
    assert doc["fleet"]["hosts_below_low"] == 1
    assert doc["fleet"]["worst_highest_free_order"] == 4
    assert doc["fleet"]["sysctls"]["memstall_vm_watermark_scale_factor"] == {"10": ["a", "b", "c"],
                                                                             "200": ["d"]}
    text = fleet_text(fleet, "http://p:9090", "6h")
    assert text.splitlines()[0] == "memstall fleet: 4 hosts from http://p:9090, last 6h"
    assert "vm_watermark_scale_factor: 10 on 3 (a, b, c); 200 on 1 (d)" in text
    assert "vm_swappiness" not in text  # every host agrees: nothing to say
    assert "1 of 4 hosts have a zone below its low watermark now." in text


def test_an_empty_prometheus_is_an_empty_fleet() -> None:
    fleet = build_fleet({k: [] for k in RESULTS}, {})
    assert fleet.hosts == () and "0 hosts" in fleet_text(fleet, "http://p:9090", "1h")


@pytest.mark.parametrize("text", ["30m", "6h", "7d", "90s", "2w"])
def test_duration_accepts_prometheus_durations(text: str) -> None:
    assert duration(text) == text


@pytest.mark.parametrize("text", ["", "6", "6x", "0h", "1h30m", "-1h", "6h;drop"])
def test_duration_rejects_the_rest(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


# --- the rules over series: what fleet finds equals what diagnose finds on the capture ---

STATE_RULES = {"ZONE_BELOW_WATERMARK", "HIGH_ORDER_EXHAUSTION", "NUMA_IMBALANCE"}
"""The series rules that read one sample's state: diagnose on a one-sample capture runs them the
same way (the others need rates, which a capture has not: diagnose skips them)."""
SNAPSHOTS = sorted(p for p in (FIXTURES / "snapshots").iterdir() if p.is_dir())


def selects(selector: str, name: str) -> bool:
    m = re.fullmatch(r'\{__name__=~"(.+)"\}', selector)
    return re.fullmatch(m.group(1), name) is not None if m else selector == name


def matrices(root: Path, instance: str, times: list[float]) -> dict[str, list[dict[str, object]]]:
    """What query_range returns for SERIES_QUERIES when `root`'s exporter was scraped at `times`."""
    sampler = Sampler(open_root(str(root)))
    registry = registry_for(MemstallCollector(SharedSample(sampler.sample, StepClock())))
    text = text_exposition(registry).decode()
    out: dict[str, list[dict[str, object]]] = {name: [] for name in SERIES_QUERIES}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            for name, selector in SERIES_QUERIES.items():
                if selects(selector, s.name):
                    out[name].append({"metric": {"__name__": s.name, "instance": instance, **s.labels},
                                      "values": [[t, repr(s.value)] for t in times]})
    return out


def test_every_rule_is_run_or_says_what_it_lacks() -> None:
    keys = {r.key for r in REGISTRY}
    assert set(NOT_FROM_SERIES) <= keys
    assert {r.key for r in SERIES_RULES} == keys - set(NOT_FROM_SERIES)
    assert {r.key for r in SERIES_RULES} >= STATE_RULES


@pytest.mark.parametrize("root", SNAPSHOTS, ids=lambda p: p.name)
def test_fleet_over_a_captures_series_finds_what_diagnose_finds(root: Path) -> None:
    runs = run_fleet(matrices(root, "h", [1000.0, 1015.0, 1030.0]))
    run = runs["h"]
    assert run.samples == 3
    got = {key for key in run.active if key[0] in STATE_RULES}
    assert all(n == 3 for n in run.active.values())  # a capture does not change
    r = run_cli("--root", str(root), "diagnose", "--format", "json")
    want = {(f["key"], f["severity"].lower(), f["subject"]) for f in json.loads(r.out)["findings"]
            if f["key"] in STATE_RULES}
    assert got == want
    # the counters of a capture do not move: no rate rule finds anything
    assert not {k for k, _, _ in run.active} - STATE_RULES


def test_the_comparison_has_findings_to_compare() -> None:
    """The seed's zone below min and order exhaustion on both nodes come out of its series."""
    seed = FIXTURES / "snapshots" / "x86_64-4.9-handmade-seed-2node-256g"
    active = run_fleet(matrices(seed, "seed", [0.0, 15.0]))["seed"].active
    assert ("ZONE_BELOW_WATERMARK", "critical", "node0/Normal") in active
    assert {("HIGH_ORDER_EXHAUSTION", "info", f"node{n}/Normal") for n in (0, 1)} <= set(active)
