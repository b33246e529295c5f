"""`memstall top --once --format json` (schema memstall.top/1): the numbers of one frame.

The same parts the text frame draws (outputs/top.py zone_views, the summed rates, the
findings; for a replay, the moment's time, events and markers), as numbers instead of bars.
"""

from __future__ import annotations

from typing import Any

from memstall.analysis.rates import Rates, sum_zoned
from memstall.model.state import SystemState
from memstall.outputs.top import zone_views
from memstall.outputs.top_replay import moment_rates, moment_state
from memstall.pipeline.sampler import Tick
from memstall.store.replay import Moment

SCHEMA = "memstall.top/1"
RATE_NAMES = ("allocstall", "pgscan_direct", "pgscan_kswapd", "pgsteal_direct", "pgsteal_kswapd", "pgalloc",
              "compact_stall", "compact_fail", "compact_success", "kswapd_low_wmark_hit_quickly")
"""Summed over their per-zone forms (analysis/rates.py sum_zoned), per second."""


def _zones(state: SystemState) -> list[dict[str, Any]]:
    return [{"node": v.node, "zone": v.zone, "free_pages": v.free_pages, "min_pages": v.min_pages,
             "low_pages": v.low_pages, "high_pages": v.high_pages,
             "free_blocks": None if v.free_blocks is None else list(v.free_blocks)}
            for v in zone_views(state)]


def _rates(rates: Rates | None) -> dict[str, Any] | None:
    if rates is None:
        return None
    return {"interval_seconds": rates.interval_seconds,
            "per_second": {n: sum_zoned(rates, n) for n in RATE_NAMES},
            "psi_some_ratio": rates.psi_some_ratio, "psi_full_ratio": rates.psi_full_ratio,
            "kthread_cpu_ratio": dict(sorted(rates.kthread_cpu_ratio.items()))}


def _doc(state: SystemState, rates: Rates | None, reason: str,
         findings: list[dict[str, Any]]) -> dict[str, Any]:
    psi = state.psi_memory
    return {
        "schema": SCHEMA, "source": state.source, "kernel_release": state.kernel_release,
        "page_size": state.page_size, "zones": _zones(state), "rates": _rates(rates),
        "rates_reason": None if rates is not None else reason,
        "psi_avg10_percent": None if psi is None else {
            "some": psi.some.avg10, "full": None if psi.full is None else psi.full.avg10},
        "findings": findings, "replay": None,
    }


def tick_doc(tick: Tick) -> dict[str, Any]:
    """One live (or capture) tick."""
    findings = [{"severity": f.severity.name, "key": f.key, "subject": f.subject, "summary": f.summary}
                for f in sorted(tick.report.findings, key=lambda f: -f.severity)]
    return _doc(tick.state, tick.rates, tick.inputs.rates_reason, findings)


def moment_doc(moment: Moment) -> dict[str, Any]:
    """One replayed sample: the findings as recorded, and `replay` with its time and timeline."""
    rates, reason = moment_rates(moment)
    findings = [{"severity": f.severity, "key": f.key, "subject": f.subject, "summary": f.summary}
                for f in moment.findings]
    doc = _doc(moment_state(moment), rates, reason, findings)
    doc["replay"] = {
        "t_ms": moment.point.t_ms, "index": moment.index, "total": moment.total,
        "events": [{"t_ms": e.t_ms, "kind": e.kind, "comm": e.comm, "order": e.order, "gfp": e.gfp,
                    "stall_ms": e.stall_ms, "host": e.host, "origin": e.origin} for e in moment.events],
        "markers": [{"t_ms": m.t_ms, "tx_id": m.tx_id, "action": m.action, "text": m.text}
                    for m in moment.markers],
    }
    return doc


__all__ = ["RATE_NAMES", "SCHEMA", "moment_doc", "tick_doc"]
