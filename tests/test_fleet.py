"""outputs/fleet.py: ranking and the fleet view from Prometheus query results (the shapes the
HTTP API returns); tests/test_exporter_prometheus.py runs `memstall fleet` against a real one."""

from __future__ import annotations

import argparse

import pytest

from memstall.cli.fleet import duration
from memstall.outputs.fleet import build_fleet, fleet_doc, fleet_text


def sample(value: float, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [1700000000.0, str(value)]}


RESULTS = {
    "scrapes": [sample(100, instance="a"), sample(100, instance="b"), sample(100, instance="c"),
                sample(50, instance="d")],
    "findings": [
        sample(30, instance="a", rule="HIGH_ORDER_EXHAUSTION", severity="warning", subject="node0/Normal"),
        sample(100, instance="b", rule="ZONE_BELOW_WATERMARK", severity="critical", subject="node0/Normal"),
        sample(100, instance="b", rule="PAGE_CACHE_DOMINANT", severity="warning", subject="host"),
        sample(90, instance="c", rule="HIGH_ORDER_EXHAUSTION", severity="warning", subject="node1/Normal"),
        sample(50, instance="d", rule="PAGE_CACHE_DOMINANT", severity="info", subject="host"),
    ],
    "below_low": [sample(1, instance="b")],
    "free_by_order": [sample(5, instance="a", order="10"), sample(0, instance="b", order="10"),
                      sample(3, instance="b", order="4"), sample(7, instance="c", order="9")],
    "sysctls": [sample(10, __name__="memstall_vm_watermark_scale_factor", instance=i) for i in "abc"]
               + [sample(200, __name__="memstall_vm_watermark_scale_factor", instance="d"),
                  *[sample(60, __name__="memstall_vm_swappiness", instance=i) for i in "abcd"]],
}


def test_hosts_rank_by_worst_severity_then_time_in_trouble() -> None:
    fleet = build_fleet(RESULTS)
    assert [h.instance for h in fleet.hosts] == ["b", "c", "a", "d"]
    b, c, a, d = fleet.hosts
    assert (b.worst, b.trouble_ratio, b.below_low_zones, b.highest_free_order) == ("critical", 1.0, 1, 4)
    assert (c.trouble_ratio, a.trouble_ratio, d.trouble_ratio) == (0.9, 0.3, 0.0)
    assert d.worst == "info" and d.findings[0].active_ratio == 1.0  # 50 of its 50 scrapes
    assert [f.rule for f in b.findings] == ["ZONE_BELOW_WATERMARK", "PAGE_CACHE_DOMINANT"]


def test_fleet_view_names_the_hosts_that_differ() -> None:
    fleet = build_fleet(RESULTS)
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
    fleet = build_fleet({k: [] for k in RESULTS})
    assert fleet.hosts == () and "0 hosts" in fleet_text(fleet, "http://p:9090", "1h")


@pytest.mark.parametrize("text", ["30m", "6h", "7d", "90s", "2w"])
def test_duration_accepts_prometheus_durations(text: str) -> None:
    assert duration(text) == text


@pytest.mark.parametrize("text", ["", "6", "6x", "0h", "1h30m", "-1h", "6h;drop"])
def test_duration_rejects_the_rest(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)
