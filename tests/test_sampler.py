"""pipeline.Sampler: ticks of (state, rates, report) over a root whose files change between ticks.

The root is a copy of a real capture (x86_64-6.18-idle) in a temporary directory; the tests
rewrite its proc/vmstat, proc/uptime and proc/pressure/memory between ticks as the kernel
would. Time comes from `StepClock`, a deterministic Clock (injected, not a mock: it is the
whole of what a Clock is). The expected rates are computed by hand from the values written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES
from memstall.pipeline import Clock, Sampler, SystemClock, Tick, inputs_from_root
from memstall.pipeline import sampler as sampler_module
from memstall.rules import REGISTRY
from memstall.sources import DirSource

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
UPTIME_0 = 810.15  # the capture's own proc/uptime


class StepClock:
    """Time moves only when someone sleeps (or the test advances it); every sleep is recorded."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self.calls = 0

    def monotonic(self) -> float:
        self.calls += 1
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(IDLE, root, ignore=shutil.ignore_patterns("samples", "expected"))
    return root


def _vmstat(root: Path, **changes: int) -> None:
    """Rewrite proc/vmstat with some counters changed, every other line as captured."""
    lines = []
    for line in (IDLE / "proc/vmstat").read_text().splitlines():
        name, value = line.split()
        lines.append(f"{name} {changes.pop(name, int(value))}")
    assert not changes, f"not in the fixture's vmstat: {changes}"
    (root / "proc/vmstat").write_text("\n".join(lines) + "\n")


def _uptime(root: Path, seconds: float) -> None:
    (root / "proc/uptime").write_text(f"{seconds:.2f} 1350.92\n")


def _keys(tick: Tick) -> set[str]:
    return {f.key for f in tick.report.findings}


def _skipped(tick: Tick) -> dict[str, str]:
    return {s.key: s.reason for s in tick.report.skipped}


def test_step_clock_and_system_clock_are_clocks() -> None:
    clocks: list[Clock] = [StepClock(), SystemClock()]  # both fit the Protocol (mypy --strict)
    before = clocks[1].monotonic()
    clocks[1].sleep(0.001)
    assert clocks[1].monotonic() > before


def test_first_tick_has_no_rates_and_says_why(root: Path) -> None:
    tick = Sampler(DirSource(str(root)), clock=StepClock()).sample()
    assert tick.rates is None and tick.inputs.rates is None and tick.inputs.history == ()
    assert tick.state is tick.inputs.state and tick.state.vmstat is not None
    assert _skipped(tick)["DIRECT_RECLAIM"] == "one sample so far: rates need a second one"
    # every rule is accounted for exactly once
    ran = {f.key for f in tick.report.findings} | set(tick.report.passed) | set(_skipped(tick))
    assert ran == {r.key for r in REGISTRY}


def test_second_tick_has_rates_against_the_first_and_runs_the_rate_rules(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    first = sampler.sample()
    assert "DIRECT_RECLAIM" not in _keys(first)
    # 10 s later (by the kernel's uptime): 2000 pages allocated, 30 direct reclaims that
    # scanned 5000 pages while kswapd scanned 15000, PSI some grew by 0.5 s.
    _uptime(root, UPTIME_0 + 10)
    _vmstat(root, pgalloc_normal=7314985 + 2000, allocstall_normal=30, pgscan_direct=5000,
            pgscan_kswapd=15000)
    (root / "proc/pressure/memory").write_text(
        "some avg10=5.00 avg60=1.00 avg300=0.20 total=500000\n"
        "full avg10=1.00 avg60=0.20 avg300=0.05 total=100000\n")
    clock.now += 10
    second = sampler.sample()
    assert second.rates is not None and second.inputs.rates is second.rates
    assert second.rates.interval_seconds == pytest.approx(10)
    assert second.rates.per_second["pgalloc_normal"] == pytest.approx(200)
    assert second.rates.per_second["allocstall_normal"] == pytest.approx(3)
    assert second.rates.psi_some_ratio == pytest.approx(0.05)  # 0.5 s of 10 s
    assert second.rates.psi_full_ratio == pytest.approx(0.01)
    assert second.inputs.history == (first.state,)
    (direct,) = [f for f in second.report.findings if f.key == "DIRECT_RECLAIM"]
    assert direct.evidence["allocstall_per_second"] == 3.0
    assert direct.evidence["direct_scan_ratio"] == pytest.approx(0.25)  # 500 / (500 + 1500) per s
    assert direct.severity.name == "CRITICAL"  # 0.25 reaches CRITICAL_DIRECT_SCAN_RATIO
    assert "DIRECT_RECLAIM" not in _skipped(second)


def test_uptime_that_did_not_advance_gives_a_tick_without_rates_not_an_error(root: Path) -> None:
    sampler = Sampler(DirSource(str(root)), clock=StepClock())
    sampler.sample()
    again = sampler.sample()  # the files did not change: same uptime
    assert again.rates is None and again.inputs.history != ()
    assert "is not later than the first" in _skipped(again)["DIRECT_RECLAIM"]


def test_ticks_sleep_on_the_clock_between_samples(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    seen = []
    for n, tick in enumerate(sampler.ticks(5.0, count=3)):
        seen.append(tick)
        _uptime(root, UPTIME_0 + 5 * (n + 1))  # the kernel's clock moves with ours
        _vmstat(root, pgalloc_normal=7314985 + 100 * (n + 1))
    assert clock.slept == [5.0, 5.0] and clock.now == 1010.0
    assert [t.rates.per_second["pgalloc_normal"] if t.rates else None for t in seen] == [None, 20.0, 20.0]
    assert seen[2].inputs.history == (seen[0].state, seen[1].state)


def test_ticks_keep_a_fixed_rate_when_the_caller_is_slow(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    for n, _ in enumerate(sampler.ticks(10.0, count=4)):
        clock.now += (3.0, 15.0, 4.0, 0.0)[n]  # the caller's own work between ticks
    # 10 - 3; none (15 > 10: late, starts at once); then 10 - 4 from the late tick
    assert clock.slept == [7.0, 6.0]


def test_zero_interval_never_sleeps_and_negative_is_refused(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    assert len(list(sampler.ticks(0, count=3))) == 3 and clock.slept == []
    with pytest.raises(ValueError, match="interval_seconds must be 0 or more"):
        next(sampler.ticks(-1))


def test_static_files_are_refreshed_on_the_first_tick_and_every_static_every_seconds(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock, static_every_seconds=60)
    refreshed, swappiness = [], []
    for n, tick in enumerate(sampler.ticks(25.0, count=7)):  # t = 0, 25, ... 150
        refreshed.append(sampler.refreshed_static)
        assert tick.state.sysctl_vm is not None
        swappiness.append(tick.state.sysctl_vm.int_value("swappiness"))
        if n == 1:
            (root / "proc/sys/vm/swappiness").write_text("10\n")
    assert clock.calls > 7  # the schedule and the refresh decision both read the clock
    assert refreshed == [True, False, False, True, False, False, True]
    # The change made after t=25 is seen at the latest by the refresh at t=75 (a reader that
    # caches sysctls sees it only then; one that re-reads every tick sees it at t=50).
    assert swappiness[0] == swappiness[1] == 60 and swappiness[3:] == [10, 10, 10, 10]


def test_history_is_bounded_by_time_and_count(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    ticks = list(sampler.ticks(100.0, count=6))
    # HISTORY_SECONDS = 300: the three earlier ticks at most 300 s old
    assert ticks[5].inputs.history == tuple(t.state for t in ticks[2:5])
    slow = Sampler(DirSource(str(root)), clock=clock)
    ticks = list(slow.ticks(1000.0, count=3))
    assert ticks[2].inputs.history == (ticks[1].state,)  # older than the window: the previous only
    monkeypatch.setattr(sampler_module, "HISTORY_MAX_STATES", 4)
    fast = Sampler(DirSource(str(root)), clock=clock)
    ticks = list(fast.ticks(1.0, count=7))
    assert ticks[6].inputs.history == tuple(t.state for t in ticks[2:6])


def test_a_file_that_disappears_leaves_the_rest_of_the_tick_usable(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    sampler.sample()
    (root / "proc/pressure/memory").unlink()
    _uptime(root, UPTIME_0 + 10)
    _vmstat(root, pgalloc_normal=7314985 + 1000)
    clock.now += 10
    tick = sampler.sample()
    assert tick.state.psi_memory is None and "proc/pressure/memory" in tick.state.unavailable
    assert tick.rates is not None and tick.rates.per_second["pgalloc_normal"] == pytest.approx(100)
    assert tick.rates.psi_some_ratio is None
    assert "PSI_MEMORY_PRESSURE" in _skipped(tick)


def test_a_malformed_file_leaves_the_rest_of_the_tick_usable(root: Path) -> None:
    clock = StepClock()
    sampler = Sampler(DirSource(str(root)), clock=clock)
    sampler.sample()
    (root / "proc/buddyinfo").write_text("Node 0, zone DMA 1 2\nNode 0, zone Normal 1\n")
    _uptime(root, UPTIME_0 + 10)
    clock.now += 10
    tick = sampler.sample()  # the placeholder StateReader raises ParseError here
    assert tick.state.unavailable["proc/buddyinfo"].startswith("malformed: ")
    assert tick.state.buddyinfo is None and tick.state.zoneinfo is not None and tick.rates is not None


def test_inputs_from_a_capture_do_not_touch_the_clock() -> None:
    clock = StepClock()
    inputs, how = inputs_from_root(str(IDLE), 5.0, clock)
    assert how == "capture, rates from samples 0 and 1" and inputs.rates is not None
    assert clock.calls == 0 and clock.slept == []


@pytest.mark.live
def test_live_inputs_come_from_two_sampler_ticks_on_the_clock() -> None:
    clock = StepClock()
    inputs, how = inputs_from_root("/", 5.0, clock)
    assert how == "live, 5 s between samples" and clock.slept == [5.0]
    assert len(inputs.history) == 1 and inputs.history[0].source == inputs.state.source == "/"
    one, how = inputs_from_root("/", 0, StepClock())
    assert how == "live, one sample" and one.rates is None and one.history == ()
    assert one.rates_reason == "--interval 0: one sample, no rates"
