"""`memstall fleet`: hosts ranked by what the rules find in their series (pure: no I/O).

The inputs are the rules' runs over each host's samples of the period (outputs/fleet_rules.py,
from query_range results) and the `data.result` lists of a few instant queries for the
fleet-wide view now (`fleet_queries`; cli/fleet.py runs both). A host's findings are the ones
the rules found in some of its samples, each with the share of samples in which it held; its
time in trouble is the share of samples with a WARNING or CRITICAL finding. Hosts rank by the
worst severity seen, then time in trouble, then name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memstall.outputs.fleet_rules import NOT_FROM_SERIES, HostRun
from memstall.outputs.render.table import render_table

Result = Sequence[Mapping[str, Any]]
"""Prometheus instant-vector results: [{"metric": {label: value}, "value": [time, "text"]}]."""

SEVERITY_RANK = {"info": 1, "warning": 2, "critical": 3}


def fleet_queries(since: str) -> dict[str, str]:
    """name -> PromQL, over the range `since` (a Prometheus duration such as 6h)."""
    del since  # the fleet-wide view is of now; the period's series come through query_range
    return {
        "up": "memstall_up",
        "below_low": "count by (instance) (memstall_zone_free_bytes < memstall_watermark_low_bytes)",
        "free_by_order": "sum by (instance, order) (memstall_free_blocks)",
        "sysctls": '{__name__=~"memstall_vm_.+"}',
    }


@dataclass(frozen=True)
class HostFinding:
    rule: str
    severity: str
    subject: str
    active_ratio: float
    """Share of the host's scrapes in the period during which the finding held (0..1)."""


@dataclass(frozen=True)
class Host:
    instance: str
    worst: str | None
    trouble_ratio: float
    findings: tuple[HostFinding, ...]
    below_low_zones: int
    highest_free_order: int | None
    """The highest order with a free block in some zone now; None without buddy data."""
    samples: int = 0
    """The host's samples in the period the rules ran on."""


@dataclass(frozen=True)
class Fleet:
    hosts: tuple[Host, ...]
    sysctls: Mapping[str, Mapping[str, tuple[str, ...]]]
    """metric name (memstall_vm_...) -> value -> the hosts running it."""


def _value(sample: Mapping[str, Any]) -> float:
    return float(sample["value"][1])


def _host_findings(runs: Mapping[str, HostRun]) -> dict[str, list[HostFinding]]:
    out: dict[str, list[HostFinding]] = {}
    for inst, run in runs.items():
        out[inst] = [HostFinding(rule, severity, subject, count / run.samples if run.samples else 0.0)
                     for (rule, severity, subject), count in run.active.items()]
    return out


def _highest_orders(result: Result) -> dict[str, int]:
    best: dict[str, int] = {}
    for s in result:
        inst, order = s["metric"].get("instance", ""), s["metric"].get("order", "")
        if order.isdigit() and _value(s) > 0:
            best[inst] = max(best.get(inst, -1), int(order))
    return best


def build_fleet(results: Mapping[str, Result], runs: Mapping[str, HostRun]) -> Fleet:
    """`runs`: the rules over each host's samples (fleet_rules.run_fleet); `results`: fleet_queries'."""
    findings = _host_findings(runs)
    below = {s["metric"].get("instance", ""): int(_value(s)) for s in results["below_low"]}
    orders = _highest_orders(results["free_by_order"])
    hosts = []
    exporting = {s["metric"].get("instance", "") for s in results.get("up", ())}
    for inst in sorted(set(runs) | exporting):  # an exporter without zone series: 0 samples
        own = sorted(findings.get(inst, []), key=lambda f: (-SEVERITY_RANK.get(f.severity, 0),
                                                            -f.active_ratio, f.rule, f.subject))
        worst = own[0].severity if own else None
        run = runs.get(inst, HostRun(0, {}, 0))
        trouble = run.in_trouble / run.samples if run.samples else 0.0
        hosts.append(Host(inst, worst, trouble, tuple(own), below.get(inst, 0), orders.get(inst),
                          run.samples))
    hosts.sort(key=lambda h: (-SEVERITY_RANK.get(h.worst or "", 0), -h.trouble_ratio, h.instance))
    sysctls: dict[str, dict[str, list[str]]] = {}
    for s in results["sysctls"]:
        value = s["value"][1]
        sysctls.setdefault(s["metric"]["__name__"], {}).setdefault(value, []).append(
            s["metric"].get("instance", ""))
    return Fleet(tuple(hosts), {name: {v: tuple(sorted(h))
                                       for v, h in sorted(values.items(), key=lambda vh: float(vh[0]))}
                                for name, values in sorted(sysctls.items())})


def fleet_doc(fleet: Fleet, prometheus: str, since: str) -> dict[str, Any]:
    return {
        "prometheus": prometheus, "since": since,
        "rules_not_run": dict(NOT_FROM_SERIES),
        "hosts": [{"instance": h.instance, "worst": h.worst, "trouble_ratio": round(h.trouble_ratio, 4),
                   "samples": h.samples,
                   "below_low_zones": h.below_low_zones, "highest_free_order": h.highest_free_order,
                   "findings": [{"rule": f.rule, "severity": f.severity, "subject": f.subject,
                                 "active_ratio": round(f.active_ratio, 4)} for f in h.findings]}
                  for h in fleet.hosts],
        "fleet": {"hosts": len(fleet.hosts),
                  "hosts_below_low": sum(1 for h in fleet.hosts if h.below_low_zones),
                  "worst_highest_free_order": min((h.highest_free_order for h in fleet.hosts
                                                   if h.highest_free_order is not None), default=None),
                  "sysctls": {name: {v: list(hosts) for v, hosts in values.items()}
                              for name, values in fleet.sysctls.items()}},
    }


def fleet_text(fleet: Fleet, prometheus: str, since: str) -> str:
    rows = [[i, h.instance, h.worst or "ok", f"{h.trouble_ratio:.0%}", h.below_low_zones,
             h.highest_free_order,
             ", ".join(f"{f.rule} {f.subject}" for f in h.findings
                       if SEVERITY_RANK.get(f.severity, 0) >= 2) or "-"]
            for i, h in enumerate(fleet.hosts, 1)]
    out = [render_table(["rank", "host", "worst", "trouble", "zones<low", "top order", "findings"], rows,
                        title=f"memstall fleet: {len(fleet.hosts)} hosts from {prometheus}, last {since}")]
    below = sum(1 for h in fleet.hosts if h.below_low_zones)
    out.append(f"\n{below} of {len(fleet.hosts)} hosts have a zone below its low watermark now.\n")
    for name, values in fleet.sysctls.items():
        if len(values) > 1:  # the fleet disagrees: say who runs what
            parts = "; ".join(f"{v} on {len(h)} ({', '.join(h[:5])}{' ...' if len(h) > 5 else ''})"
                              for v, h in values.items())
            out.append(f"{name.removeprefix('memstall_')}: {parts}\n")
    return "".join(out)


__all__ = ["Fleet", "Host", "HostFinding", "build_fleet", "fleet_doc", "fleet_queries", "fleet_text"]
