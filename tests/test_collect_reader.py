"""collect.StateReader: what a re-read reads again, and one malformed file among good ones.

Every test reads a real capture (x86_64-6.18-idle) copied to a temporary root, through a
Source that counts read_text calls; the counts are of real reads, not of a mock.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import FIXTURES
from memstall.collect import StateReader, load_state
from memstall.errors import ParseError
from memstall.sources import DirSource

IDLE = FIXTURES / "snapshots" / "x86_64-6.18-idle"
STATIC = ("proc/sys/kernel/osrelease", "MANIFEST.json", "sys/kernel/mm/transparent_hugepage/enabled")


class CountingSource(DirSource):
    """A DirSource that counts every read_text, by relative path."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()

    def read_text(self, rel: str) -> str:
        self.reads[rel] += 1
        return super().read_text(rel)

    def take(self) -> Counter[str]:
        reads, self.reads = self.reads, Counter()
        return reads


@pytest.fixture
def root(tmp_path: Path) -> Path:
    out = tmp_path / "root"
    shutil.copytree(IDLE, out, ignore=shutil.ignore_patterns("samples", "expected"))
    return out


def test_a_sampled_read_rereads_only_what_changes(root: Path) -> None:
    src = CountingSource(str(root))
    reader = StateReader(src)
    first = reader.read()
    full = src.take()
    assert first.kthreads and all(full[r] == 1 for r in STATIC)
    assert full["proc/36/comm"] == 1 and full["proc/sys/vm/min_free_kbytes"] == 1

    (root / "proc/sys/vm/min_free_kbytes").write_text("99999\n")
    vmstat = (root / "proc/vmstat").read_text()
    (root / "proc/vmstat").write_text(vmstat.replace("pgfault ", "pgfault 1", 1))
    second = reader.read(refresh_static=False)
    again = src.take()
    # Settings, identity and the kthread list come from the first read ...
    assert not any(r.startswith("proc/sys/") or r.endswith("/comm") for r in again)
    assert all(again[r] == 0 for r in STATIC)
    assert second.sysctl_vm == first.sysctl_vm and second.page_size == first.page_size
    # ... the sampled files and the threads' stat are read once each.
    assert again["proc/vmstat"] == again["proc/buddyinfo"] == again["proc/uptime"] == 1
    # pagetypeinfo holds zone->lock with interrupts off while the kernel prints it: not per tick.
    assert again["proc/pagetypeinfo"] == 0 and second.pagetypeinfo == first.pagetypeinfo
    assert {r for r in again if r.endswith("/stat")} == {"proc/36/stat", "proc/45/stat"}
    assert second.vmstat is not None and first.vmstat is not None
    assert second.vmstat.counters["pgfault"] != first.vmstat.counters["pgfault"]
    assert second.kthreads == first.kthreads

    third = reader.read()  # a full read sees the new setting
    assert third.sysctl_vm is not None and third.sysctl_vm.int_value("min_free_kbytes") == 99999
    assert src.take()["proc/36/comm"] == 1


def test_a_vanished_or_renamed_thread_is_looked_for_again(root: Path) -> None:
    src = CountingSource(str(root))
    reader = StateReader(src)
    assert [t.pid for t in reader.read().kthreads] == [36, 45]
    shutil.rmtree(root / "proc/36")
    src.take()
    assert [t.pid for t in reader.read(refresh_static=False).kthreads] == [45]
    assert src.take()["proc/45/comm"] == 1  # rediscovered
    assert "proc/36/stat" not in reader.read(refresh_static=False).unavailable

    stat = (root / "proc/45/stat").read_text()
    (root / "proc/45/comm").write_text("bash\n")
    (root / "proc/45/stat").write_text(stat.replace("(kswapd0)", "(bash)"))
    src.take()
    state = reader.read(refresh_static=False)
    assert state.kthreads == () and src.take()["proc/45/comm"] == 1
    assert state.unavailable["proc/[0-9]*/stat"] == "no kswapd or kcompactd thread found"


def test_a_malformed_file_is_unavailable_not_fatal_when_not_strict(root: Path) -> None:
    clean = load_state(DirSource(str(root)))
    meminfo = (root / "proc/meminfo").read_text()
    # A line the kernel never writes (issue 16's '#' line is now left out alone, with a note).
    (root / "proc/meminfo").write_text("collected by a script\n" + meminfo)
    with pytest.raises(ParseError, match=r"^proc/meminfo:1: expected"):
        StateReader(DirSource(str(root))).read()
    with pytest.raises(ParseError):
        load_state(DirSource(str(root)))

    state = StateReader(DirSource(str(root)), strict=False).read(refresh_static=False)
    assert state.meminfo is None
    why = state.unavailable["proc/meminfo"]
    assert why.startswith("malformed: proc/meminfo:1: expected ") and "collected by" in why
    assert "proc/meminfo" not in state.hints
    # Everything else is what a strict read of the clean root gives.
    assert (state.buddyinfo, state.zoneinfo, state.vmstat, state.sysctl_vm, state.kthreads) == (
        clean.buddyinfo, clean.zoneinfo, clean.vmstat, clean.sysctl_vm, clean.kthreads)
    assert state.node_meminfo == clean.node_meminfo


def test_a_malformed_sysctl_names_its_file(root: Path) -> None:
    (root / "proc/sys/vm/min_free_kbytes").write_text("lots\n")
    with pytest.raises(ParseError, match=r"^proc/sys/vm/min_free_kbytes:1: "):
        load_state(DirSource(str(root)))
    state = StateReader(DirSource(str(root)), strict=False).read()
    assert state.sysctl_vm is None
    assert state.unavailable["proc/sys/vm"].startswith("malformed: proc/sys/vm/min_free_kbytes:1:")


def test_load_state_is_one_full_read(root: Path) -> None:
    assert load_state(DirSource(str(root))) == StateReader(DirSource(str(root))).read()


def test_clock_ticks_recorded_assumed_and_refused(root: Path) -> None:
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert "clock_ticks_per_second" not in manifest  # captured before it was recorded
    state = load_state(DirSource(str(root)))
    assert state.clock_ticks_per_second is None and state.user_hz == 100
    (root / "MANIFEST.json").write_text(json.dumps({**manifest, "clock_ticks_per_second": 250}))
    assert load_state(DirSource(str(root))).user_hz == 250
    for bad in (0, -100, True, "100"):
        (root / "MANIFEST.json").write_text(json.dumps({**manifest, "clock_ticks_per_second": bad}))
        with pytest.raises(ParseError, match="clock_ticks_per_second to be a positive integer"):
            load_state(DirSource(str(root)))


@pytest.mark.live
def test_live_clock_ticks_are_this_hosts() -> None:
    assert StateReader(DirSource("/")).read().clock_ticks_per_second == os.sysconf("SC_CLK_TCK")
