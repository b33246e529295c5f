"""`memstall fleet`: the rules of `memstall diagnose`, run over the series Prometheus kept (pure).

cli/fleet.py fetches the period's series with query_range (`SERIES_QUERIES`); here they are
turned back into one SystemState per host and sample time (zone free memory and watermarks,
free blocks per order, the vmstat counters, the PSI totals, the vm sysctls; uptime is the
sample's timestamp, so rates come out per second of wall time), and each state runs the
rules with the rates against the host's previous sample and the host's last 5 minutes as
history, as the Sampler does on the host itself. A host's result: for each finding, the share
of its samples in which it held; its time in trouble, the share with a WARNING or CRITICAL one.

Only the rules whose inputs the exporter exports are run (`SERIES_RULES`); `NOT_FROM_SERIES`
says, for each other rule, what it would need (docs/exporter.md lists the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memstall.analysis.rates import RateError, compute_rates
from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.model.pressure import Pressure, PressureLine
from memstall.model.state import SystemState
from memstall.model.sysctl import SysctlVm
from memstall.model.vmstat import VmStat
from memstall.model.zones import Zone, ZoneInfo
from memstall.rules import REGISTRY, Inputs, Rule, Severity, run_rules

Matrix = Sequence[Mapping[str, Any]]
"""Prometheus range-vector results: [{"metric": {label: value}, "values": [[time, "text"], ...]}]."""
ZoneKey = tuple[int, str]
"""(node, zone name)."""
Timed = dict[float, int]
"""sample time -> value."""

SERIES_QUERIES: Mapping[str, str] = {
    "free": "memstall_zone_free_bytes",
    "managed": "memstall_zone_managed_bytes",
    "min": "memstall_watermark_min_bytes",
    "low": "memstall_watermark_low_bytes",
    "high": "memstall_watermark_high_bytes",
    "headroom": "memstall_watermark_headroom_pages",
    "blocks": "memstall_free_blocks",
    "counters": '{__name__=~"memstall_vmstat_.+_total|memstall_psi_memory_(some|full)_seconds_total"}',
    "sysctls": '{__name__=~"memstall_vm_.+"}',
}
"""name -> PromQL selector fetched with query_range (every series the rules below need)."""

NOT_FROM_SERIES: Mapping[str, str] = {
    "KSWAPD_BUSY": "kswapd's CPU per thread with its pid (the exporter sums it per node)",
    "WATERMARK_GAP_TOO_SMALL": "the pgalloc_* allocation counters (not exported)",
    "PAGE_CACHE_DOMINANT": "proc/meminfo (not exported)",
    "RECLAIMABLE_SLAB": "proc/meminfo (not exported)",
    "HUGETLB_SQUEEZES_PAGE_CACHE": "proc/meminfo (not exported)",
    "THP_DEFRAG_STALLS": "the THP settings (not exported)",
    "MIN_FREE_KBYTES_LOW": "the kernel release, the THP settings and the unpopulated zones (not exported)",
    "LOG_ALLOC_STALLS": "the kernel log's reports themselves (the exporter exports their counts only)",
}
"""Rules `fleet` does not run, and the input each lacks."""

SERIES_RULES: tuple[Rule, ...] = tuple(r for r in REGISTRY if r.key not in NOT_FROM_SERIES)
HISTORY_SECONDS = 300.0
DEFAULT_PAGE_SIZE = 4096


@dataclass(frozen=True)
class HostRun:
    """The rules over one host's samples."""

    samples: int
    active: Mapping[tuple[str, str, str], int]
    """(rule key, severity, subject) -> in how many samples the finding held."""
    in_trouble: int
    """Samples with a WARNING or CRITICAL finding."""


def _by_host(results: Mapping[str, Matrix]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    out: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for name, matrix in results.items():
        for series in matrix:
            out.setdefault(series["metric"].get("instance", ""), {}).setdefault(name, []).append(series)
    return out


def _at(series: Mapping[str, Any]) -> dict[float, float]:
    return {float(t): float(v) for t, v in series["values"]}


def _page_size(host: Mapping[str, list[Mapping[str, Any]]]) -> int:
    """Bytes per page from a zone's (free - high) bytes over its headroom in pages; else 4 KiB."""
    by_zone: dict[tuple[str, str], dict[str, dict[float, float]]] = {}
    for name in ("free", "high", "headroom"):
        for s in host.get(name, []):
            m = s["metric"]
            by_zone.setdefault((m.get("node", ""), m.get("zone", "")), {})[name] = _at(s)
    for parts in by_zone.values():
        if len(parts) < 3:
            continue
        for t, pages in parts["headroom"].items():
            if pages and t in parts["free"] and t in parts["high"]:
                size = round((parts["free"][t] - parts["high"][t]) / pages)
                if size >= 4096 and size & (size - 1) == 0:
                    return size
    return DEFAULT_PAGE_SIZE


def _zone_values(host: Mapping[str, list[Mapping[str, Any]]], ps: int
                 ) -> dict[tuple[int, str], dict[str, dict[float, int]]]:
    zones: dict[tuple[int, str], dict[str, dict[float, int]]] = {}
    for name in ("free", "managed", "min", "low", "high"):
        for s in host.get(name, []):
            m = s["metric"]
            key = (int(m.get("node", "0")), m.get("zone", "?"))
            zones.setdefault(key, {})[name] = {t: int(v) // ps for t, v in _at(s).items()}
    return zones


def _blocks(host: Mapping[str, list[Mapping[str, Any]]]) -> dict[ZoneKey, dict[int, Timed]]:
    out: dict[ZoneKey, dict[int, Timed]] = {}
    for s in host.get("blocks", []):
        m = s["metric"]
        out.setdefault((int(m.get("node", "0")), m.get("zone", "?")), {})[int(m.get("order", "0"))] = {
            t: int(v) for t, v in _at(s).items()}
    return out


def _zoneinfo(zones: Mapping[ZoneKey, Mapping[str, Timed]], t: float) -> ZoneInfo | None:
    built = []
    for (node, name), parts in sorted(zones.items()):
        if not all(t in parts.get(k, {}) for k in ("free", "min", "low", "high")):
            continue
        managed = parts.get("managed", {}).get(t)
        size = managed if managed is not None else parts["free"][t]
        # The exporter exports populated zones only; their spanned/present size is not exported,
        # and managed stands for both (the rules read present only as "populated").
        built.append(Zone(node=node, zone=name, free_pages=parts["free"][t], min_pages=parts["min"][t],
                          low_pages=parts["low"][t], high_pages=parts["high"][t], spanned_pages=size,
                          present_pages=size, managed_pages=managed))
    return ZoneInfo(zones=tuple(built)) if built else None


def _buddyinfo(blocks: Mapping[ZoneKey, Mapping[int, Timed]], t: float) -> BuddyInfo | None:
    zones = []
    for (node, name), orders in sorted(blocks.items()):
        if orders and all(t in orders.get(o, {}) for o in range(max(orders) + 1)):
            zones.append(ZoneFreeAreas(node=node, zone=name,
                                       free_blocks=tuple(orders[o][t] for o in range(max(orders) + 1))))
    return BuddyInfo(zones=tuple(zones)) if zones else None


def _counters(host: Mapping[str, list[Mapping[str, Any]]]) -> tuple[dict[str, dict[float, int]],
                                                                      dict[str, dict[float, int]]]:
    """(vmstat name -> time -> count, 'some'/'full' -> time -> PSI total in microseconds)."""
    vmstat: dict[str, dict[float, int]] = {}
    psi: dict[str, dict[float, int]] = {}
    for s in host.get("counters", []):
        name = s["metric"].get("__name__", "")
        if name.startswith("memstall_psi_memory_"):
            psi[name.split("_")[3]] = {t: round(v * 1e6) for t, v in _at(s).items()}
        elif name.startswith("memstall_vmstat_") and name.endswith("_total"):
            vmstat[name[len("memstall_vmstat_"):-len("_total")]] = {t: int(v) for t, v in _at(s).items()}
    return vmstat, psi


def _sysctls(host: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, dict[float, str]]:
    out: dict[str, dict[float, str]] = {}
    for s in host.get("sysctls", []):
        name = s["metric"].get("__name__", "")[len("memstall_vm_"):]
        if name == "min_free_bytes":
            out["min_free_kbytes"] = {t: str(int(v) // 1024) for t, v in _at(s).items()}
        elif name:
            out[name] = {t: str(int(v)) for t, v in _at(s).items()}
    return out


def host_states(host: Mapping[str, list[Mapping[str, Any]]], source: str) -> list[SystemState]:
    """One SystemState per sample time at which the host's zones were scraped, oldest first."""
    ps = _page_size(host)
    zones, blocks = _zone_values(host, ps), _blocks(host)
    vmstat, psi = _counters(host)
    sysctls = _sysctls(host)
    times = sorted({t for parts in zones.values() for t in parts.get("free", {})})
    states = []
    for t in times:
        some, full = psi.get("some", {}).get(t), psi.get("full", {}).get(t)
        counters = {name: values[t] for name, values in vmstat.items() if t in values}
        values = {name: v[t] for name, v in sysctls.items() if t in v}
        states.append(SystemState(
            source=source, page_size=ps, uptime_seconds=t, zoneinfo=_zoneinfo(zones, t),
            buddyinfo=_buddyinfo(blocks, t), vmstat=VmStat(counters) if counters else None,
            psi_memory=None if some is None else Pressure(
                PressureLine(0.0, 0.0, 0.0, some),
                None if full is None else PressureLine(0.0, 0.0, 0.0, full)),
            sysctl_vm=SysctlVm(values) if values else None, absence_is_known=False))
    return states


def run_host(states: Sequence[SystemState], rules: tuple[Rule, ...] = SERIES_RULES) -> HostRun:
    """The rules at every sample: rates against the previous one, the last 5 minutes as history."""
    active: dict[tuple[str, str, str], int] = {}
    trouble = 0
    for i, state in enumerate(states):
        now = state.uptime_seconds or 0.0
        history = tuple(s for s in states[max(0, i - 64):i]
                        if now - (s.uptime_seconds or 0.0) <= HISTORY_SECONDS)
        try:
            rates = compute_rates(states[i - 1], state) if i else None
        except RateError:
            rates = None
        inputs = (Inputs(state, rates=rates, history=history) if rates is not None
                  else Inputs(state, history=history, rates_reason="the first sample of the period"))
        findings = run_rules(inputs, rules).findings
        for f in {(f.key, f.severity.name.lower(), f.subject) for f in findings}:
            active[f] = active.get(f, 0) + 1
        trouble += any(f.severity >= Severity.WARNING for f in findings)
    return HostRun(len(states), active, trouble)


def run_fleet(results: Mapping[str, Matrix]) -> dict[str, HostRun]:
    """instance -> the rules over its samples, from the SERIES_QUERIES' range results."""
    return {inst: run_host(host_states(host, inst)) for inst, host in sorted(_by_host(results).items())}


__all__ = ["NOT_FROM_SERIES", "SERIES_QUERIES", "SERIES_RULES", "HostRun", "host_states", "run_fleet",
           "run_host"]
