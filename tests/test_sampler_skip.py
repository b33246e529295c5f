"""The exporter's Sampler on the live root: later ticks read what a one-shot read finds, and
the fields it skips (outputs.exporter.UNREAD_FIELDS) are neither read nor said unavailable."""

from __future__ import annotations

import pytest

from memstall.collect import StateReader
from memstall.outputs.exporter import UNREAD_FIELDS
from memstall.pipeline import Sampler
from memstall.sources.live import DirSource


@pytest.mark.live
def test_a_sampler_reads_the_same_state_as_a_fresh_reader() -> None:
    """Through the descriptors kept open, a Sampler's later ticks see the zones, the kthreads
    and the counters a fresh one-shot read finds."""
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
    assert set(UNREAD_FIELDS) == {"node_vmstat", "node_meminfo"}
    sampler = Sampler(DirSource("/"), skip=UNREAD_FIELDS)
    for _ in range(2):
        state = sampler.sample().state
        assert state.node_vmstat == {} and state.node_meminfo == {}
        assert state.vmstat is not None and state.meminfo is not None
        assert not any("node" in rel for rel in state.unavailable)


def test_a_capture_keeps_the_skipped_fields_as_stand_ins() -> None:
    """cli.exporter.make_sampler skips them only on the live root: a capture's node files
    stand in for a missing proc/vmstat or meminfo."""
    from pathlib import Path

    from memstall.cli.exporter import make_sampler
    from memstall.sources import open_root

    root = Path(__file__).parent / "fixtures" / "snapshots" / "x86_64-6.18-idle"
    state = make_sampler(open_root(str(root))).sample().state
    assert state.node_vmstat and state.node_meminfo
