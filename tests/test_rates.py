"""analysis/rates.py: two SystemState samples -> per-second rates (built from model objects)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memstall.analysis.rates import (
    RateError,
    allocstall_per_second,
    compact_fail_per_second,
    compact_stall_per_second,
    compact_success_per_second,
    compute_rates,
    pgscan_direct_per_second,
    pgscan_kswapd_per_second,
    pgsteal_direct_per_second,
    pgsteal_kswapd_per_second,
)
from memstall.collect import load_state, sample_count
from memstall.errors import InputError, MemstallError
from memstall.model.kthreads import KThreadStat
from memstall.model.pressure import Pressure, PressureLine
from memstall.model.state import SystemState
from memstall.model.vmstat import VmStat
from memstall.sources import open_root


def _state(uptime: float | None, counters: dict[str, int] | None = None,
           kthreads: tuple[KThreadStat, ...] = (), psi: Pressure | None = None,
           source: str = "sample") -> SystemState:
    return SystemState(source=source, uptime_seconds=uptime,
                       vmstat=VmStat(counters) if counters is not None else None,
                       kthreads=kthreads, psi_memory=psi)


def _kt(comm: str, utime: int, stime: int, pid: int = 90, start: int = 40) -> KThreadStat:
    return KThreadStat(pid=pid, comm=comm, state="S", utime_ticks=utime, stime_ticks=stime,
                       starttime_ticks=start)


def _psi(some_us: int, full_us: int | None) -> Pressure:
    full = None if full_us is None else PressureLine(0.0, 0.0, 0.0, full_us)
    return Pressure(some=PressureLine(0.0, 0.0, 0.0, some_us), full=full)


def test_counter_rate_is_delta_over_uptime_delta() -> None:
    r = compute_rates(_state(100.0, {"pgfault": 1000, "compact_stall": 4}),
                      _state(104.0, {"pgfault": 1600, "compact_stall": 10}))
    assert r.interval_seconds == 4.0
    assert r.per_second == {"pgfault": 150.0, "compact_stall": 1.5}
    assert r.resets == ()
    assert compact_stall_per_second(r) == 1.5


def test_gauges_missing_counters_and_resets_have_no_rate() -> None:
    before = {"nr_free_pages": 100, "workingset_nodes": 5, "pgfault": 900, "old_only": 1,
              "pgmajfault": 50}
    after = {"nr_free_pages": 300, "workingset_nodes": 9, "pgfault": 10, "new_only": 7,
             "pgmajfault": 52}
    r = compute_rates(_state(10.0, before), _state(12.0, after))
    assert r.per_second == {"pgmajfault": 1.0}
    assert r.resets == ("pgfault",)


def test_allocstall_sums_per_zone_forms_on_4_8_plus() -> None:
    b = {"allocstall_dma": 0, "allocstall_dma32": 2, "allocstall_normal": 10, "allocstall_movable": 0}
    a = {"allocstall_dma": 0, "allocstall_dma32": 4, "allocstall_normal": 30, "allocstall_movable": 0}
    r = compute_rates(_state(0.5, b), _state(2.5, a))
    assert allocstall_per_second(r) == 11.0


def test_allocstall_single_counter_before_4_8() -> None:
    r = compute_rates(_state(1.0, {"allocstall": 7}), _state(3.0, {"allocstall": 17}))
    assert allocstall_per_second(r) == 5.0


def test_allocstall_absent_is_none_not_zero() -> None:
    r = compute_rates(_state(1.0, {"pgfault": 1}), _state(2.0, {"pgfault": 2}))
    assert allocstall_per_second(r) is None
    assert compact_fail_per_second(r) is None


def test_pgscan_direct_excludes_throttle_and_sums_old_per_zone_names() -> None:
    # 4.4-era names: pgscan_<who>_<zone>; pgscan_direct_throttle is a different event.
    b = {"pgscan_direct_dma32": 100, "pgscan_direct_normal": 1000, "pgscan_direct_throttle": 0,
         "pgscan_kswapd_normal": 0, "pgsteal_direct_normal": 0, "pgsteal_kswapd_normal": 0}
    a = {"pgscan_direct_dma32": 300, "pgscan_direct_normal": 1800, "pgscan_direct_throttle": 50,
         "pgscan_kswapd_normal": 40, "pgsteal_direct_normal": 20, "pgsteal_kswapd_normal": 30}
    r = compute_rates(_state(0.0, b), _state(10.0, a))
    assert pgscan_direct_per_second(r) == 100.0
    assert pgscan_kswapd_per_second(r) == 4.0
    assert pgsteal_direct_per_second(r) == 2.0
    assert pgsteal_kswapd_per_second(r) == 3.0


def test_pgscan_node_wide_names_on_new_kernels() -> None:
    b = {"pgscan_direct": 10, "pgscan_direct_throttle": 0, "compact_success": 1, "compact_fail": 2}
    a = {"pgscan_direct": 30, "pgscan_direct_throttle": 9, "compact_success": 3, "compact_fail": 2}
    r = compute_rates(_state(5.0, b), _state(7.0, a))
    assert pgscan_direct_per_second(r) == 10.0
    assert compact_success_per_second(r) == 1.0
    assert compact_fail_per_second(r) == 0.0


def test_kthread_cpu_ratio_uses_user_hz() -> None:
    before = (_kt("kswapd0", 10, 100), _kt("kcompactd0", 0, 5, pid=91))
    after = (_kt("kswapd0", 10, 350), _kt("kcompactd0", 0, 5, pid=91))
    r = compute_rates(_state(50.0, kthreads=before), _state(55.0, kthreads=after))
    # 250 ticks / 100 Hz / 5 s = half a CPU.
    assert r.kthread_cpu_ratio == {"kswapd0": 0.5, "kcompactd0": 0.0}


def test_kthread_restarted_or_new_has_no_ratio() -> None:
    before = (_kt("kswapd0", 0, 100, pid=90),)
    after = (_kt("kswapd0", 0, 20, pid=300, start=9000), _kt("kswapd1", 0, 1, pid=301))
    r = compute_rates(_state(1.0, kthreads=before), _state(2.0, kthreads=after))
    assert r.kthread_cpu_ratio == {}


def test_psi_ratios_from_total_us() -> None:
    r = compute_rates(_state(10.0, psi=_psi(1_000_000, 0)), _state(20.0, psi=_psi(3_500_000, 1_000_000)))
    assert r.psi_some_ratio == 0.25
    assert r.psi_full_ratio == 0.1


def test_psi_absent_or_reset_is_none() -> None:
    r = compute_rates(_state(10.0, psi=_psi(5, None)), _state(20.0, psi=_psi(9, None)))
    assert r.psi_full_ratio is None
    assert r.psi_some_ratio is not None
    r = compute_rates(_state(10.0), _state(20.0, psi=_psi(9, 1)))
    assert (r.psi_some_ratio, r.psi_full_ratio) == (None, None)
    r = compute_rates(_state(10.0, psi=_psi(900, 9)), _state(20.0, psi=_psi(100, 1)))
    assert (r.psi_some_ratio, r.psi_full_ratio) == (None, None)


def test_missing_vmstat_gives_empty_rates() -> None:
    r = compute_rates(_state(1.0, None), _state(2.0, {"pgfault": 3}))
    assert r.per_second == {}
    assert r.resets == ()


@pytest.mark.parametrize(("t0", "t1"), [(10.0, 10.0), (10.0, 9.0)])
def test_non_positive_interval_is_a_clear_error(t0: float, t1: float) -> None:
    with pytest.raises(RateError) as info:
        compute_rates(_state(t0, {}, source="a.tar.gz"), _state(t1, {}, source="b.tar.gz"))
    assert isinstance(info.value, InputError)
    assert isinstance(info.value, MemstallError)
    assert str(info.value) == (f"the second sample (b.tar.gz, uptime {t1:.2f}s) is not later than "
                               f"the first (a.tar.gz, uptime {t0:.2f}s)")
    assert info.value.hint is not None


def test_missing_uptime_is_a_clear_error() -> None:
    with pytest.raises(RateError, match=r"^old: no proc/uptime"):
        compute_rates(_state(None, {}, source="old"), _state(3.0, {}))


_COUNTS = st.integers(min_value=0, max_value=2**64 - 1)
_NAMES = st.sampled_from(["pgfault", "allocstall_normal", "allocstall", "nr_free_pages",
                          "compact_stall", "workingset_nodes", "pgscan_direct", "numa_hit"])


@given(st.dictionaries(_NAMES, _COUNTS), st.dictionaries(_NAMES, _COUNTS),
       st.floats(min_value=0, max_value=1e7), st.floats(min_value=1e-3, max_value=1e7),
       st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 2**40))
def test_rates_are_never_negative(b: dict[str, int], a: dict[str, int], t0: float, dt: float,
                                  k0: int, k1: int, p0: int, p1: int) -> None:
    before = _state(t0, b, kthreads=(_kt("kswapd0", 0, k0),), psi=_psi(p0, p0))
    after = _state(t0 + dt, a, kthreads=(_kt("kswapd0", 0, k1),), psi=_psi(p1, p1))
    if after.uptime_seconds is None or before.uptime_seconds is None:
        return
    if after.uptime_seconds <= before.uptime_seconds:  # float rounding of t0 + dt
        with pytest.raises(RateError):
            compute_rates(before, after)
        return
    r = compute_rates(before, after)
    values = [*r.per_second.values(), *r.kthread_cpu_ratio.values()]
    values += [v for v in (r.psi_some_ratio, r.psi_full_ratio) if v is not None]
    assert all(v >= 0 for v in values)
    for name in r.resets:
        assert a[name] < b[name]
        assert name not in r.per_second
    assert all(not n.startswith("nr_") and n != "workingset_nodes" for n in r.per_second)
    for helper in (allocstall_per_second, pgscan_direct_per_second):
        v = helper(r)
        assert v is None or v >= 0


# --- real captures: `memstall snapshot --samples N` directories under tests/fixtures/snapshots.
SNAPSHOTS = Path(__file__).parent / "fixtures" / "snapshots"
SAMPLED = sorted(p for p in SNAPSHOTS.glob("*") if (p / "samples").is_dir())


def test_sampled_captures_exist() -> None:
    assert SAMPLED, "no snapshot with samples/: rates have no real data to run on"


@pytest.mark.parametrize("snap", SAMPLED, ids=[p.name for p in SAMPLED])
def test_rates_between_consecutive_real_samples(snap: Path) -> None:
    source = open_root(str(snap))
    states = [load_state(source, k) for k in range(sample_count(source))]
    assert len(states) >= 2
    for before, after in zip(states, states[1:]):
        r = compute_rates(before, after)
        assert r.interval_seconds > 0
        assert r.resets == ()  # one boot: nothing may go backwards
        assert r.per_second and all(v >= 0 for v in r.per_second.values())
        # 6.18 names: allocstall_<zone>, pgscan_direct/kswapd, compact_*; all present.
        for helper in (allocstall_per_second, pgscan_direct_per_second, pgscan_kswapd_per_second,
                       compact_stall_per_second):
            assert helper(r) is not None, helper.__name__
        assert set(r.kthread_cpu_ratio) >= {"kswapd0"}
        assert r.psi_some_ratio is not None and 0 <= r.psi_some_ratio <= 1


@pytest.mark.live
def test_rates_on_the_running_kernel() -> None:
    root = open_root("/")
    before = load_state(root)
    # Fault in 2048 fresh anonymous pages between the samples: pgfault must move.
    import mmap

    area = mmap.mmap(-1, 2048 * 4096)
    for offset in range(0, len(area), 4096):
        area[offset] = 1
    area.close()
    time.sleep(0.5)
    after = load_state(root)
    r = compute_rates(before, after)
    assert 0.4 < r.interval_seconds < 30
    assert r.resets == ()
    assert r.per_second.get("pgfault", 0) * r.interval_seconds >= 2048
    assert all(0 <= v <= 1.5 for v in r.kthread_cpu_ratio.values())
