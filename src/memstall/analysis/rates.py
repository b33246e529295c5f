"""Two samples -> per-second rates: vmstat event counters, kthread CPU, PSI stall share.

Counter rules (model/vmstat.py): every /proc/vmstat name is a monotonically increasing
event counter unless it is a gauge. Gauges are the `nr_*` names plus `workingset_nodes`
(a node_stat item the kernel prints without the `nr_` prefix, 4.x+). A counter that is
missing from either sample (it exists on one kernel and not the other, or the file was
unreadable) has no rate; a counter that went backwards (reboot, or a snapshot pair taken
from two boots) has no rate either and is listed in `resets`. Rates are never negative.

Names drift between kernels (docs/kernel.md#vmstat-counters): `allocstall` was split per zone in 4.8
(`allocstall_normal`...), and before 4.8 `pgscan_*`/`pgsteal_*` were per zone
(`pgscan_direct_normal`...). The helpers below sum every form, so one number comes out
on every kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memstall.errors import InputError
from memstall.model.kthreads import KThreadStat
from memstall.model.pressure import PressureLine
from memstall.model.state import SystemState
from memstall.model.vmstat import VmStat, is_gauge, zoned_names

# node_stat items printed without the nr_ prefix that are gauges, not counters.
NON_NR_GAUGES = frozenset({"workingset_nodes"})


class RateError(InputError):
    """Two samples that cannot give rates (same moment, wrong order, no uptime)."""


@dataclass(frozen=True)
class Rates:
    interval_seconds: float
    per_second: Mapping[str, float]
    """vmstat event counters per second; missing, gauge and reset counters are absent."""
    resets: tuple[str, ...]
    """Counters that went backwards between the samples (reboot/reset), sorted."""
    kthread_cpu_ratio: Mapping[str, float]
    """comm -> share of one CPU (0..1, can exceed 1 slightly from tick rounding)."""
    psi_some_ratio: float | None
    """Share of the interval in which some task stalled on memory (total_us delta)."""
    psi_full_ratio: float | None
    """Share of the interval in which all non-idle tasks stalled on memory."""


def is_counter(name: str) -> bool:
    known = _COUNTER.get(name)
    if known is None:
        known = _COUNTER[name] = not is_gauge(name) and name not in NON_NR_GAUGES
    return known


_COUNTER: dict[str, bool] = {}
"""name -> is_counter(name), remembered: a Sampler asks it of ~200 vmstat names on every tick
(the exporter's scrape), and the answer depends on the name alone."""


def _interval(before: SystemState, after: SystemState) -> float:
    if before.uptime_seconds is None or after.uptime_seconds is None:
        missing = before.source if before.uptime_seconds is None else after.source
        raise RateError(f"{missing}: no proc/uptime, so the time between the two samples is unknown",
                        hint="rates need proc/uptime in both samples")
    interval = after.uptime_seconds - before.uptime_seconds
    if interval <= 0:
        raise RateError(
            f"the second sample ({after.source}, uptime {after.uptime_seconds:.2f}s) is not later "
            f"than the first ({before.source}, uptime {before.uptime_seconds:.2f}s)",
            hint="pass the older sample first; samples from different boots cannot give rates")
    return interval


def _vmstat_rates(before: VmStat | None, after: VmStat | None,
                  interval: float) -> tuple[dict[str, float], tuple[str, ...]]:
    if before is None or after is None:
        return {}, ()
    rates: dict[str, float] = {}
    resets: list[str] = []
    for name, new in after.counters.items():
        old = before.counters.get(name)
        if old is None or not is_counter(name):
            continue
        if new < old:
            resets.append(name)
            continue
        rates[name] = (new - old) / interval
    return rates, tuple(sorted(resets))


def _kthread_ratios(before: tuple[KThreadStat, ...], after: tuple[KThreadStat, ...],
                    interval: float, user_hz: int) -> dict[str, float]:
    old = {k.comm: k for k in before}
    out: dict[str, float] = {}
    for k in after:
        prev = old.get(k.comm)
        # Another pid (or start time) is another thread: no rate across a restart.
        if prev is None or prev.pid != k.pid or prev.starttime_ticks != k.starttime_ticks:
            continue
        ticks = k.cpu_ticks - prev.cpu_ticks
        if ticks >= 0:
            out[k.comm] = ticks / user_hz / interval
    return out


def _psi_ratio(before: PressureLine | None, after: PressureLine | None,
               interval: float) -> float | None:
    if before is None or after is None or after.total_us < before.total_us:
        return None
    return (after.total_us - before.total_us) / 1e6 / interval


def compute_rates(before: SystemState, after: SystemState) -> Rates:
    """Per-second rates between two samples of the same host and boot, `before` first."""
    interval = _interval(before, after)
    per_second, resets = _vmstat_rates(before.vmstat, after.vmstat, interval)
    pb, pa = before.psi_memory, after.psi_memory
    return Rates(
        interval_seconds=interval,
        per_second=per_second,
        resets=resets,
        kthread_cpu_ratio=_kthread_ratios(before.kthreads, after.kthreads, interval,
                                          after.user_hz),
        psi_some_ratio=_psi_ratio(pb.some if pb else None, pa.some if pa else None, interval),
        psi_full_ratio=_psi_ratio(pb.full if pb else None, pa.full if pa else None, interval),
    )


def sum_zoned(rates: Rates, name: str) -> float | None:
    """Rate of `name` plus every per-zone `name_<zone>`; None if no form is present.

    `pgscan_direct_throttle` is not a zone and is not included in `pgscan_direct`.
    """
    found = [rates.per_second[n] for n in zoned_names(name) if n in rates.per_second]
    return sum(found) if found else None


def allocstall_per_second(rates: Rates) -> float | None:
    """Direct-reclaim entries per second: `allocstall` (< 4.8) or Σ `allocstall_<zone>` (4.8+)."""
    return sum_zoned(rates, "allocstall")


def pgscan_direct_per_second(rates: Rates) -> float | None:
    return sum_zoned(rates, "pgscan_direct")


def pgscan_kswapd_per_second(rates: Rates) -> float | None:
    return sum_zoned(rates, "pgscan_kswapd")


def pgsteal_direct_per_second(rates: Rates) -> float | None:
    return sum_zoned(rates, "pgsteal_direct")


def pgsteal_kswapd_per_second(rates: Rates) -> float | None:
    return sum_zoned(rates, "pgsteal_kswapd")


def compact_stall_per_second(rates: Rates) -> float | None:
    return rates.per_second.get("compact_stall")


def compact_fail_per_second(rates: Rates) -> float | None:
    return rates.per_second.get("compact_fail")


def compact_success_per_second(rates: Rates) -> float | None:
    return rates.per_second.get("compact_success")
