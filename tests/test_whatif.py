"""analysis/whatif.py and `memstall whatif`: watermarks before/after a settings change."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builders import GIB_PAGES, formula_zones, state, sysctl
from conftest import FIXTURES, run_cli
from memstall.analysis.watermarks import ZoneSize, compute_watermarks
from memstall.analysis.whatif import what_if
from memstall.model.buddy import BuddyInfo, ZoneFreeAreas
from memstall.model.kernel import KernelVersion
from memstall.model.meminfo import MemInfo
from memstall.parsers.zoneinfo import parse_zoneinfo

KERNELS = [KernelVersion(4, 4), KernelVersion(4, 9), KernelVersion(5, 10), KernelVersion(5, 17),
           KernelVersion(6, 1), KernelVersion(6, 18)]
ZONE_NAMES = ["DMA", "DMA32", "Normal", "Movable", "HighMem"]


@st.composite
def hosts(draw: st.DrawFn) -> tuple[list[tuple[int, str, int]], int, int, KernelVersion, int]:
    nodes = draw(st.integers(1, 4))
    sizes = []
    for node in range(nodes):
        names = draw(st.lists(st.sampled_from(ZONE_NAMES), min_size=1, max_size=4, unique=True))
        if not any(n in ("DMA", "DMA32", "Normal") for n in names):
            names.append("Normal")
        sizes += [(node, n, draw(st.integers(1, 64 * GIB_PAGES))) for n in names]
    return (sizes, draw(st.integers(128, 1 << 20)), draw(st.integers(1, 1000)),
            draw(st.sampled_from(KERNELS)), draw(st.sampled_from([4096, 16384, 65536])))


@given(hosts())
def test_whatif_with_the_current_values_reproduces_the_watermarks_exactly(
        host: tuple[list[tuple[int, str, int]], int, int, KernelVersion, int]) -> None:
    sizes, mfk, wsf, kernel, page_size = host
    zi = formula_zones(sizes, mfk, wsf, kernel, page_size)
    s = state(zoneinfo=zi, page_size=page_size, kernel_release=str(kernel), meminfo=None,
              buddyinfo=None, sysctl_vm=sysctl(min_free_kbytes=mfk, watermark_scale_factor=wsf))
    result = what_if(s, {"vm.watermark_scale_factor": wsf, "vm.min_free_kbytes": mfk})
    assert [z.before for z in result.zones] == [z.after for z in result.zones]
    assert not result.estimated and result.current.inferred == ()


@given(hosts(), st.integers(1, 1000))
def test_whatif_after_is_the_kernel_formula_for_the_new_value(
        host: tuple[list[tuple[int, str, int]], int, int, KernelVersion, int], new: int) -> None:
    sizes, mfk, wsf, kernel, page_size = host
    zi = formula_zones(sizes, mfk, wsf, kernel, page_size)
    s = state(zoneinfo=zi, page_size=page_size, kernel_release=str(kernel), meminfo=None,
              buddyinfo=None, sysctl_vm=sysctl(min_free_kbytes=mfk, watermark_scale_factor=wsf))
    result = what_if(s, {"vm.watermark_scale_factor": new})
    expected = compute_watermarks([ZoneSize(*z) for z in sizes], mfk, new, page_size, kernel)
    assert [(z.after.min_pages, z.after.low_pages, z.after.high_pages) for z in result.zones] == \
        [(w.min_pages, w.low_pages, w.high_pages) for w in expected]


def test_missing_zone_is_estimated_from_the_managed_total_and_marked() -> None:
    sizes = [(0, "DMA32", GIB_PAGES), (0, "Normal", 31 * GIB_PAGES), (1, "Normal", 32 * GIB_PAGES)]
    full = formula_zones(sizes, 90112, 10, KernelVersion(4, 9))
    node0_only = type(full)(zones=full.zones[:2])
    blocks = BuddyInfo(zones=(ZoneFreeAreas(1, "Normal", (10, 0, 0)),))
    total_kib = 64 * GIB_PAGES * 4
    s = state(zoneinfo=node0_only, buddyinfo=blocks, kernel_release="4.9.0", sysctl_vm=None,
              meminfo=MemInfo(fields_kib={"MemTotal": total_kib}, counts={}))
    result = what_if(s, {"vm.watermark_scale_factor": 10})
    est = [z for z in result.zones if z.estimated]
    assert [(z.node, z.zone, z.managed_pages) for z in est] == [(1, "Normal", 32 * GIB_PAGES)]
    # Settings inferred back from node 0's watermarks, and node 1 computed from them exactly.
    assert result.current.min_free_kbytes == 90112
    assert result.current.watermark_scale_factor == 10
    assert est[0].before == est[0].after
    assert (est[0].after.min_pages, est[0].after.low_pages) == \
        (full.zones[2].min_pages, full.zones[2].low_pages)


def test_cli_whatif_json_schema_on_a_snapshot() -> None:
    root = FIXTURES / "snapshots" / "x86_64-6.18-idle"
    r = run_cli("--root", str(root), "--format", "json", "whatif", "--set", "vm.watermark_scale_factor=500")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["schema"] == "memstall.whatif/1"
    assert set(doc) == {"schema", "zones", "total", "notes"}
    zone = doc["zones"][0]
    assert set(zone) == {"node", "zone", "managed_pages", "before", "after", "estimated", "populated"}
    assert set(zone["before"]) == {"min_pages", "low_pages", "high_pages"}
    assert set(doc["total"]["after"]) == {"min_bytes", "low_bytes", "high_bytes"}
    assert doc["total"]["after"]["high_bytes"] > doc["total"]["before"]["high_bytes"]


def test_cli_whatif_refuses_values_the_kernel_refuses() -> None:
    root = FIXTURES / "snapshots" / "x86_64-6.18-idle"
    r = run_cli("--root", str(root), "whatif", "--set", "vm.watermark_scale_factor=5000")
    assert r.code == 2
    assert r.err == ("memstall: error: vm.watermark_scale_factor must be between 1 and 3000 on "
                     "Linux 6.18 (got 5000)\n")
    r = run_cli("--root", str(root), "whatif", "--set", "vm.swappiness=5")
    assert r.code == 2 and "expected NAME=VALUE" in r.err


@pytest.mark.live
def test_live_whatif_with_current_values_reproduces_proc_zoneinfo() -> None:
    from memstall.collect import load_state
    from memstall.sources import open_root

    s = load_state(open_root("/"))
    assert s.sysctl_vm is not None
    current = {name: s.sysctl_vm.int_value(name.split(".", 1)[1]) or 0
               for name in ("vm.min_free_kbytes", "vm.watermark_scale_factor")}
    result = what_if(s, current)
    assert [z.before for z in result.zones] == [z.after for z in result.zones]


def test_whatif_predicts_every_zone_the_kernel_prints_empty_ones_included() -> None:
    # Real capture (the 6.18 VM): zoneinfo prints Movable (present 0) with 32/32/32, which is
    # clamp(0 / 1024, SWAP_CLUSTER_MAX, 128), and Device with 0/0/0 (issue 9). No setting
    # moves them: a zone without managed pages keeps what the kernel prints.
    root = FIXTURES / "snapshots" / "x86_64-6.18-idle"
    printed = parse_zoneinfo((root / "proc/zoneinfo").read_text()).zones
    for change in ("vm.watermark_scale_factor=500", "vm.min_free_kbytes=200000"):
        doc = json.loads(run_cli("--root", str(root), "--format", "json", "whatif", "--set", change).out)
        assert [(z["node"], z["zone"]) for z in doc["zones"]] == [(z.node, z.zone) for z in printed]
        movable = next(z for z in doc["zones"] if z["zone"] == "Movable")
        assert movable["before"] == movable["after"] == {"min_pages": 32, "low_pages": 32, "high_pages": 32}
        assert movable["populated"] is False
        device = next(z for z in doc["zones"] if z["zone"] == "Device")
        assert device["after"] == {"min_pages": 0, "low_pages": 0, "high_pages": 0}
        # The host totals count only the zones that hold memory.
        populated = [z for z in doc["zones"] if z["populated"]]
        assert doc["total"]["before"]["min_bytes"] == 4096 * sum(z["before"]["min_pages"] for z in populated)
