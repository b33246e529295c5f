"""DirSource.read_text_kept: the sampled files read through descriptors kept open (issue 15)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memstall.collect import StateReader
from memstall.errors import SourceUnavailable
from memstall.pipeline import Sampler
from memstall.sources import live
from memstall.sources.live import DirSource

IDLE = Path(__file__).parent / "fixtures" / "snapshots" / "x86_64-6.18-idle"


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_pread_whole_reads_past_the_size_hint(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000  # 256 000 bytes, the hint says 10
    path = tmp_path / "f"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert live._pread_whole(fd, 10) == data
        assert live._pread_whole(fd, len(data)) == data  # again from offset 0
        assert live._pread_whole(fd, 10**6) == data
    finally:
        os.close(fd)


def test_a_capture_keeps_no_descriptor() -> None:
    src = DirSource(str(IDLE))
    before = _fds()
    for rel in ("proc/zoneinfo", "proc/vmstat", "proc/buddyinfo"):
        assert src.read_text_kept(rel) == src.read_text(rel)
    assert _fds() == before
    with pytest.raises(SourceUnavailable, match="no such file"):
        src.read_text_kept("proc/nothing")


@pytest.mark.live
def test_kept_reads_read_the_file_again_each_time() -> None:
    src = DirSource("/")
    before = _fds()
    first = src.read_text_kept("proc/self/stat")  # this process: utime moves, pid stays
    assert len(_fds()) == len(before) + 1
    spin = sum(range(2_000_000))  # CPU time, so that the stat changes
    again = [src.read_text_kept("proc/self/stat") for _ in range(3)]
    assert spin and again[0].split()[:3] == first.split()[:3]
    assert src.read_text_kept("proc/sys/kernel/osrelease") == src.read_text("proc/sys/kernel/osrelease")
    assert float(src.read_text_kept("proc/uptime").split()[0]) > 0
    src.close()
    assert _fds() == before


@pytest.mark.live
def test_an_exited_task_is_no_such_file_and_its_descriptor_is_closed() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    rel = f"proc/{child.pid}/stat"
    src = DirSource("/")
    try:
        before = _fds()
        assert src.read_text_kept(rel).startswith(f"{child.pid} (")
        assert src.read_text_kept(rel).startswith(f"{child.pid} (")  # through the kept descriptor
        assert len(_fds()) == len(before) + 1
    finally:
        child.kill()
        child.wait()
    with pytest.raises(SourceUnavailable, match="no such file"):
        src.read_text_kept(rel)
    assert _fds() == before


@pytest.mark.live
def test_no_more_than_the_bound_stay_open() -> None:
    src = DirSource("/")
    before = _fds()
    rels = [f"proc/{d}/stat" for d in sorted(os.listdir("/proc")) if d.isdigit()]
    rels = [rel for rel in rels if Path(f"/{rel}").exists()][: live._MAX_KEPT + 5]
    assert len(rels) > live._MAX_KEPT
    for rel in rels:
        with contextlib.suppress(SourceUnavailable):  # the task exited meanwhile
            src.read_text_kept(rel)
    assert 0 < len(_fds() - before) <= live._MAX_KEPT
    src.close()
    assert _fds() == before


@pytest.mark.live
def test_a_sampler_reads_the_same_state_as_a_fresh_reader() -> None:
    """The kept descriptors give the files' current text: the zones, the nodes and the
    kthreads of a Sampler's later ticks are those a one-shot read finds."""
    sampler = Sampler(DirSource("/"))
    ticks = [sampler.sample() for _ in range(3)]
    fresh = StateReader(DirSource("/"), strict=False).read()
    for tick in ticks[1:]:
        state = tick.state
        assert state.unavailable == fresh.unavailable
        assert state.zoneinfo is not None and fresh.zoneinfo is not None
        assert [(z.node, z.zone, z.spanned_pages) for z in state.zoneinfo.zones] == \
               [(z.node, z.zone, z.spanned_pages) for z in fresh.zoneinfo.zones]
        assert [t.comm for t in state.kthreads] == [t.comm for t in fresh.kthreads]
        assert set(state.node_vmstat) == set(fresh.node_vmstat)
        assert state.vmstat is not None and fresh.vmstat is not None
        assert state.vmstat.counters.keys() == fresh.vmstat.counters.keys()


@pytest.mark.live
def test_skipped_fields_are_not_read() -> None:
    sampler = Sampler(DirSource("/"), skip=("node_vmstat", "node_meminfo"))
    for _ in range(2):
        state = sampler.sample().state
        assert state.node_vmstat == {} and state.node_meminfo == {}
        assert state.vmstat is not None and state.meminfo is not None
        assert not any("node" in rel for rel in state.unavailable)
